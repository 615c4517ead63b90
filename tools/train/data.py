"""Synthetic analogy data for the nano model: 64×64 image crops (procedural, scikit-image's data images,
GIMP's patterns and sample images, matplotlib's sample photo: all from Debian packages, nothing
downloaded) and transformation families T applied with the same parameters to a and b, so that
a : T(a) :: b : T(b).

Families are split two ways (see FAMILIES): 'train' (held in: every stage trains on them) and
'heldout' (never trained on: some single families and some compositions). Everything is
seeded; the crops of the held-out *images* (HELDOUT_SOURCES) only appear in the evaluation set."""
import glob
import math
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

Q = 64  # quadrant size in pixels

SKIMAGE = "/usr/lib/python3/dist-packages/skimage/data"
PHOTOS = ["astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png",
          "motorcycle_right.png", "retina.jpg", "hubble_deep_field.jpg", "color.png", "ihc.png",
          "camera.png", "coins.png", "brick.png", "grass.png", "gravel.png", "moon.png", "page.png",
          "text.png", "horse.png", "logo.png", "immunohistochemistry.png", "cell.png", "phantom.png"]
EXTRA = ["/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg",
         "/usr/share/gimp/2.0/scripts/images/texture.jpg", "/usr/share/gimp/2.0/scripts/images/beavis.jpg"]
GIMP_PATTERNS = "/usr/share/gimp/2.0/patterns"
# Source images whose crops are kept for evaluation only.
HELDOUT_SOURCES = {"chelsea.png", "rocket.jpg", "grace_hopper.jpg", "leopard.pat", "marble3.pat",
                   "wood1.pat", "pool.pat", "bluegrid.pat"}


def read_gimp_pattern(path):
    raw = open(path, "rb").read()
    hsize, _, w, h, bpp = struct.unpack(">IIIII", raw[:20])
    px = np.frombuffer(raw[hsize:hsize + w * h * bpp], dtype=np.uint8).reshape(h, w, bpp)
    if bpp in (1, 2):
        px = np.repeat(px[..., :1], 3, -1)
    return np.ascontiguousarray(px[..., :3])


def load_sources():
    """-> list of (name, uint8 HxWx3 array), sorted by name for determinism."""
    out = []
    for n in PHOTOS:
        p = os.path.join(SKIMAGE, n)
        if os.path.exists(p):
            out.append((n, np.asarray(Image.open(p).convert("RGB"))))
    for p in EXTRA:
        if os.path.exists(p):
            out.append((os.path.basename(p), np.asarray(Image.open(p).convert("RGB"))))
    for p in sorted(glob.glob(os.path.join(GIMP_PATTERNS, "**", "*.pat"), recursive=True)):
        try:
            a = read_gimp_pattern(p)
        except Exception:
            continue
        if min(a.shape[:2]) >= 32:
            out.append((os.path.basename(p), a))
    return sorted(out, key=lambda t: t[0])


def random_crop(rng, img):
    h, w = img.shape[:2]
    s = int(rng.integers(max(24, min(h, w) // 8), min(h, w) + 1))
    y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
    c = Image.fromarray(img[y:y + s, x:x + s]).resize((Q, Q), Image.BICUBIC)
    return np.asarray(c)


def procedural(rng):
    """One 64×64 procedural image: gradients, shapes, stripes, checkers, smooth noise."""
    yy, xx = np.mgrid[0:Q, 0:Q].astype(np.float32) / (Q - 1)
    kind = int(rng.integers(0, 5))
    col = lambda: rng.random(3).astype(np.float32)
    if kind == 0:  # linear gradient between two colours
        ang = rng.random() * 2 * math.pi
        t = (np.cos(ang) * xx + np.sin(ang) * yy)
        t = (t - t.min()) / (t.max() - t.min() + 1e-6)
        img = col()[None, None] * (1 - t[..., None]) + col()[None, None] * t[..., None]
    elif kind == 1:  # stripes
        ang = rng.random() * math.pi
        f = rng.uniform(2, 8)
        t = 0.5 + 0.5 * np.sign(np.sin(2 * math.pi * f * (np.cos(ang) * xx + np.sin(ang) * yy)))
        img = col()[None, None] * (1 - t[..., None]) + col()[None, None] * t[..., None]
    elif kind == 2:  # checkerboard
        n = int(rng.integers(2, 9))
        t = ((np.floor(xx * n * 0.999) + np.floor(yy * n * 0.999)) % 2)
        img = col()[None, None] * (1 - t[..., None]) + col()[None, None] * t[..., None]
    elif kind == 3:  # smooth colour noise
        z = rng.standard_normal((3, 6, 6)).astype(np.float32)
        z = F.interpolate(torch.from_numpy(z)[None], size=(Q, Q), mode="bicubic", align_corners=True)[0]
        img = torch.sigmoid(z * 1.5).permute(1, 2, 0).numpy()
    else:
        img = np.ones((Q, Q, 3), np.float32) * col()[None, None]
    # shapes on top (also on kinds 0-3 sometimes)
    for _ in range(int(rng.integers(0 if kind < 4 else 1, 5))):
        cx, cy, r = rng.random(), rng.random(), rng.uniform(0.08, 0.35)
        c = col()
        s = int(rng.integers(0, 3))
        if s == 0:
            m = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
        elif s == 1:
            m = (np.abs(xx - cx) < r) & (np.abs(yy - cy) < r * rng.uniform(0.3, 1.0))
        else:
            m = (yy - cy > -r) & (np.abs(xx - cx) < (yy - cy + r) * 0.6) & (yy - cy < r)
        img[m] = c
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def build_bank(seed, n, heldout_sources=False):
    """n crops [n, 3, Q, Q] uint8: half photos/patterns (train or held-out sources), half procedural."""
    rng = np.random.default_rng(seed)
    srcs = [(nm, a) for nm, a in load_sources() if (nm in HELDOUT_SOURCES) == heldout_sources]
    out = np.empty((n, Q, Q, 3), np.uint8)
    for i in range(n):
        if i % 2 == 0:
            out[i] = random_crop(rng, srcs[int(rng.integers(0, len(srcs)))][1])
        else:
            out[i] = procedural(rng)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


# --------------------------------------------------------------------------------------------------
# Transformations on float images [B, 3, H, W] in [0, 1]; `p` holds per-triplet parameters.

def lum(x):
    return (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])


def conv3(x, k):
    k = torch.as_tensor(k, dtype=x.dtype).view(1, 1, *np.shape(k)).repeat(3, 1, 1, 1)
    pad = np.shape(k)[-1] // 2
    return F.conv2d(F.pad(x, (pad,) * 4, mode="replicate"), k, groups=3)


def gauss_blur(x, sigma):
    r = int(math.ceil(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=x.dtype)
    g = torch.exp(-t * t / (2 * sigma * sigma))
    g = g / g.sum()
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), g.view(1, 1, 1, -1).repeat(3, 1, 1, 1), groups=3)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), g.view(1, 1, -1, 1).repeat(3, 1, 1, 1), groups=3)


def hue_rotate(x, deg):
    th = math.radians(deg)
    c, s = math.cos(th), math.sin(th)
    # rotation about the grey axis (the standard hue-rotate colour matrix)
    m = torch.tensor([[0.213 + c * 0.787 - s * 0.213, 0.715 - c * 0.715 - s * 0.715, 0.072 - c * 0.072 + s * 0.928],
                      [0.213 - c * 0.213 + s * 0.143, 0.715 + c * 0.285 + s * 0.140, 0.072 - c * 0.072 - s * 0.283],
                      [0.213 - c * 0.213 - s * 0.787, 0.715 - c * 0.715 + s * 0.715, 0.072 + c * 0.928 + s * 0.072]])
    return torch.einsum("ij,bjhw->bihw", m, x)


SEPIA = torch.tensor([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]])


def T_tint(x, p): return x * (1 - p["s"]) + p["s"] * p["c"].view(1, 3, 1, 1)
def T_hue(x, p): return hue_rotate(x, p["deg"])
def T_saturation(x, p): l = lum(x); return l + p["k"] * (x - l)
def T_invert(x, p): return 1 - x
def T_greyscale(x, p): return lum(x).repeat(1, 3, 1, 1)
def T_sepia(x, p): return torch.einsum("ij,bjhw->bihw", SEPIA, x)
def T_posterise(x, p): return torch.floor(x * p["L"] * 0.9999) / (p["L"] - 1)
def T_gamma(x, p): return x.clamp_min(0) ** p["g"]
def T_hflip(x, p): return x.flip(-1)
def T_vflip(x, p): return x.flip(-2)
def T_rot90(x, p): return torch.rot90(x, -1, (-2, -1))   # clockwise
def T_rot180(x, p): return torch.rot90(x, 2, (-2, -1))
def T_rot270(x, p): return torch.rot90(x, 1, (-2, -1))   # counter-clockwise
def T_blur(x, p): return gauss_blur(x, p["sigma"])
def T_sharpen(x, p): return x + p["amt"] * (x - gauss_blur(x, 1.0))
def T_pixelate(x, p): return F.interpolate(F.avg_pool2d(x, p["b"]), scale_factor=p["b"], mode="nearest")


def T_edges(x, p):
    gx = conv3(x, [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    gy = conv3(x, [[-1, -2, -1], [0, 0, 0], [1, 2, 1]])
    return (torch.sqrt(gx * gx + gy * gy + 1e-8) * 0.5)


def T_emboss(x, p): return conv3(x, [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]) * 0.5 + 0.25


def compose(*fs):
    def f(x, p):
        for g in fs:
            x = g(x, p)
        return x
    return f


def sample_params(rng):
    return {"s": float(rng.uniform(0.35, 0.6)), "c": torch.from_numpy(rng.random(3).astype(np.float32)),
            "deg": float(rng.choice([-1, 1]) * rng.uniform(60, 180)), "k": float(rng.uniform(1.8, 2.6)),
            "L": int(rng.integers(2, 5)), "g": float(rng.choice([rng.uniform(0.35, 0.55), rng.uniform(1.8, 2.6)])),
            "sigma": float(rng.uniform(1.5, 2.5)), "amt": float(rng.uniform(1.5, 2.5)),
            "b": int(rng.choice([4, 8]))}


# name -> (function, split). split: train (held in) or heldout (never trained on).
FAMILIES = {
    "tint": (T_tint, "train"), "hue": (T_hue, "train"), "greyscale": (T_greyscale, "train"),
    "invert": (T_invert, "train"), "gamma": (T_gamma, "train"), "hflip": (T_hflip, "train"),
    "rot90": (T_rot90, "train"), "rot180": (T_rot180, "train"), "blur": (T_blur, "train"),
    "pixelate": (T_pixelate, "train"), "edges": (T_edges, "train"),
    "invert+hflip": (compose(T_invert, T_hflip), "train"),
    "saturation": (T_saturation, "train"), "posterise": (T_posterise, "train"),
    "sharpen": (T_sharpen, "train"), "rot270": (T_rot270, "train"),
    "greyscale+blur": (compose(T_greyscale, T_blur), "train"),
    "tint+rot180": (compose(T_tint, T_rot180), "train"),
    "sepia": (T_sepia, "heldout"), "vflip": (T_vflip, "heldout"), "emboss": (T_emboss, "heldout"),
    "invert+rot90": (compose(T_invert, T_rot90), "heldout"),
    "greyscale+pixelate": (compose(T_greyscale, T_pixelate), "heldout"),
}


def families(splits):
    return [n for n, (_, s) in FAMILIES.items() if s in splits]


def apply(name, x, p):
    return FAMILIES[name][0](x, p).clamp(0, 1)


class Triplets:
    """Random triplets from a crop bank: batch(B) -> a, a', b, b' float [B, 3, Q, Q] in [0, 1] and the
    family index of each."""

    def __init__(self, bank, fams, seed):
        self.bank, self.fams = bank, fams
        self.rng = np.random.default_rng(seed)

    def batch(self, bsz):
        idx = self.rng.integers(0, len(self.bank), size=(bsz, 2))
        fam = self.rng.integers(0, len(self.fams), size=bsz)
        a = self.bank[idx[:, 0]].float() / 255
        b = self.bank[idx[:, 1]].float() / 255
        ap, bp = torch.empty_like(a), torch.empty_like(b)
        for i in range(bsz):
            p = sample_params(self.rng)
            n = self.fams[fam[i]]
            ap[i:i + 1] = apply(n, a[i:i + 1], p)
            bp[i:i + 1] = apply(n, b[i:i + 1], p)
        return a, ap, b, bp, fam


def grid(tl, tr, bl, br):
    """Quadrants [B, 3, Q, Q] -> grid [B, 3, 2Q, 2Q]."""
    return torch.cat([torch.cat([tl, tr], -1), torch.cat([bl, br], -1)], -2)
