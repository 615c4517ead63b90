"""Stage 3: with the base nano-Kontext and the CLIP tower frozen, train on all held-in families either

- lorweb: the LoRWeB basis (N LoRAs of rank r per adapted module), the per-module query projections and
  keys; mixing weights from the cat-aa'b CLIP query (spec-lorweb §1.5), or
- lora: the paper's baseline, one LoRA per module with the same parameter count (rank R such that
  R·Σ(in+out) equals the basis's parameters), same data stream (same seed), same number of steps.

    /usr/bin/python3 tools/train/train_adapter.py lorweb SECONDS
    /usr/bin/python3 tools/train/train_adapter.py lora   # runs as many steps as the lorweb run did"""
import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: spinning OpenMP threads stall on a shared CPU

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
import data  # noqa: E402
import models as M  # noqa: E402
import stage as S  # noqa: E402


def lorweb_params(lw):
    return sum(p.numel() for p in lw.parameters() if p.requires_grad)


def single_lora_rank(flux):
    """Rank R of a single LoRA with the LoRWeB basis's parameter count."""
    io = sum(lin.in_features + rows for _, lin, _, rows in flux.lora_targets())
    n, r, k = C.LORWEB["num"], C.LORWEB["rank"], C.LORWEB["keys_dim"]
    total = n * r * io + len(flux.lora_targets()) * (n * k + k * 3 * C.CLIP["proj"])
    return max(1, round(total / io)), total


def build(mode, flux):
    q = 3 * C.CLIP["proj"]
    if mode == "lorweb":
        return M.LoRWeB(flux, num=C.LORWEB["num"], rank=C.LORWEB["rank"], keys_dim=C.LORWEB["keys_dim"],
                        query_dim=q, heads=C.LORWEB["heads"], seed=11)
    rank, _ = single_lora_rank(flux)
    lw = M.LoRWeB(flux, num=1, rank=rank, keys_dim=1, query_dim=q, heads=1, seed=11)
    for p in list(lw.keys.values()) + list(lw.proj.values()):  # one element: its weight is always 1
        p.requires_grad_(False)
    return lw


def main():
    mode = sys.argv[1]
    C.setup(9)
    logf = os.path.join(C.WORK, mode + ".log")
    flux, txt, y = S.load_base()
    for p in flux.parameters():
        p.requires_grad_(False)
    clip = S.load_clip()
    for p in clip.parameters():
        p.requires_grad_(False)
    pairs = S.load_pairs()
    trip = S.LatentTriplets(pairs, data.families(("train",)), seed=10)
    lw = build(mode, flux)
    lw.attach()
    params = [p for p in lw.parameters() if p.requires_grad]
    C.log(logf, "%s: %d trainable parameters (N=%d, rank %d, keys %d) on %d modules"
          % (mode, sum(p.numel() for p in params), lw.num, lw.rank, lw.keys_dim, len(lw.names)))
    if mode == "lorweb":
        bud = C.Budget(float(sys.argv[2]) if len(sys.argv) > 2 else 600, 1e-3, warmup=30)
    else:
        steps = torch.load(os.path.join(C.WORK, "lorweb.pt"))["steps"]
        bud = C.Budget(1e9, 1e-3, warmup=30, max_steps=steps)
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.0, betas=(0.9, 0.99))
    ema = S.EMA(params, 0.99)
    bsz, run = 32, None

    def save():
        live = [p.detach().clone() for p in params]
        ema.copy_to(params)
        ck = {k: v.detach().clone() for k, v in lw.checkpoint().items()}
        for s, p in zip(live, params):
            p.data.copy_(s)
        torch.save({"tensors": ck, "steps": bud.step, "seconds": bud.elapsed(), "num": lw.num, "rank": lw.rank,
                    "keys_dim": lw.keys_dim, "params": sum(p.numel() for p in params)},
                   os.path.join(C.WORK, mode + ".pt"))

    while not bud.done():
        lat, pix, _ = trip.batch(bsz)
        with torch.no_grad():
            q = S.query(clip, *pix)
        lw.set_query(q)
        loss, lq = S.fm_loss(flux, lat, txt, y)
        bud.apply(opt)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        ema.update(bud.step)
        run = lq.item() if run is None else 0.97 * run + 0.03 * lq.item()
        if bud.step % 20 == 0:
            C.log(logf, "%s step %d  %.0fs  lr %.2e  b′-quadrant loss(ema) %.4f" % (mode, bud.step, bud.elapsed(), bud.lr(), run))
        if bud.step % 100 == 0:
            save()
    save()
    C.log(logf, "%s done: %d steps (batch %d) in %.0fs" % (mode, bud.step, bsz, bud.elapsed()))


if __name__ == "__main__":
    main()
