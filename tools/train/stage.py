"""What the transformer stages share: latent triplets from pairs.pt, the flow-matching loss on grids, the
nano model's construction and its fixed conditioning."""
import glob
import os

import numpy as np
import torch

import common as C
import models as M

GRID = 8  # token grid of a 128×128 grid image (f = 8, 2×2 packing)
QT = GRID // 2  # tokens per quadrant side


class LatentTriplets:
    """Random batches of the encoded training triplets (pairs.pt) of the given families."""

    def __init__(self, pairs, families, seed):
        self.p = pairs
        names = pairs["families"]
        self.idx = [i for i, f in enumerate(pairs["fam"].tolist()) if names[f] in families]
        self.rng = np.random.default_rng(seed)

    def batch(self, bsz):
        ii = [self.idx[int(k)] for k in self.rng.integers(0, len(self.idx), bsz)]
        p = self.p
        return (p["target"][ii], p["ctx"][ii]), (p["a"][ii], p["a_prime"][ii], p["b"][ii]), p["fam"][ii]


def new_flux():
    f = M.Flux(**C.FLUX)
    # adaLN-Zero: every block starts as the identity and the output at zero (fast, stable early training)
    for b in f.double_blocks:
        for m in (b.img_mod.lin, b.txt_mod.lin):
            torch.nn.init.zeros_(m.weight), torch.nn.init.zeros_(m.bias)
    for b in f.single_blocks:
        torch.nn.init.zeros_(b.modulation.lin.weight), torch.nn.init.zeros_(b.modulation.lin.bias)
    fl = f.final_layer
    for m in (fl.adaLN_modulation[1], fl.linear):
        torch.nn.init.zeros_(m.weight), torch.nn.init.zeros_(m.bias)
    return f


def ids(bsz):
    return M.grid_ids(GRID, GRID, 0, bsz), M.grid_ids(GRID, GRID, 1, bsz), torch.zeros(bsz, C.T_TOKENS, 3)


def quadrant_weights():
    """Loss weight per noise token: 1 on the b′ quadrant, 0.25 on the three copied quadrants."""
    w = torch.full((GRID, GRID), 0.25)
    w[QT:, QT:] = 1.0
    return w.flatten()


def fm_loss(flux, lat, txt, y):
    """Flow matching on the grid (spec §3.1): x_t = (1−t)·x0 + t·ε, target ε − x0; t from a logit-normal
    shifted like the sampling schedule for this token count. lat = (target tokens, context tokens)."""
    x0, ctx = lat
    bsz = x0.shape[0]
    t = torch.sigmoid(torch.randn(bsz))
    t = M.time_shift(M.mu_of(x0.shape[1]), t).float()
    eps = torch.randn_like(x0)
    xt = (1 - t[:, None, None]) * x0 + t[:, None, None] * eps
    i0, i1, ti = ids(bsz)
    v = flux(xt, i0, txt.expand(bsz, -1, -1), ti, y.expand(bsz, -1), t, torch.full((bsz,), C.GUIDANCE), ctx, i1)
    err = ((v - (eps - x0)) ** 2).mean(-1)  # [B, N]
    w = quadrant_weights()
    return (err * w).sum(-1).mean() / w.sum(), (err[:, w == 1.0]).mean()


class EMA:
    def __init__(self, params, decay):
        self.params = list(params)
        self.shadow = [p.detach().clone() for p in self.params]
        self.decay = decay

    @torch.no_grad()
    def update(self, step):
        d = min(self.decay, (1 + step) / (10 + step))
        for s, p in zip(self.shadow, self.params):
            s.mul_(d).add_(p.detach(), alpha=1 - d)

    @torch.no_grad()
    def copy_to(self, params):
        for s, p in zip(self.shadow, params):
            p.copy_(s)


def pair_shards():
    return sorted(glob.glob(os.path.join(C.WORK, "pairs_*.pt")))


def load_pairs():
    """All encoded triplet shards written so far, concatenated."""
    shards = [torch.load(p) for p in pair_shards()]
    out = {k: shards[0][k] for k in ("families", "scale", "shift")}
    for k in ("fam", "a", "a_prime", "b", "ctx", "target"):
        out[k] = torch.cat([s[k] for s in shards])
    out["shards"] = len(shards)
    return out


def load_base():
    ck = torch.load(os.path.join(C.WORK, "base.pt"))
    f = M.Flux(**C.FLUX)
    f.load_state_dict(ck["ema"])
    return f.eval(), ck["txt"], ck["y"]


def load_clip():
    ck = torch.load(os.path.join(C.WORK, "clip.pt"))
    clip = M.ClipVision(**C.CLIP)
    clip.load_state_dict(ck["state"])
    return clip.eval()


def query(clip, a, ap, b):
    """cat-aa'b: CLIP image_embeds of the three quadrants (uint8 or [0, 1] float), concatenated."""
    f = lambda x: x.float() / 255 if x.dtype == torch.uint8 else x
    n = a.shape[0]
    e = clip(clip.normalise(torch.cat([f(a), f(ap), f(b)])))[0]
    return torch.cat([e[:n], e[n:2 * n], e[2 * n:]], -1)
