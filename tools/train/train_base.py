"""Stage 2: the base nano-Kontext (FLUX architecture) trained to complete grids a | a′ / b | b′ from
the Kontext context a | a′ / b | b (context tokens index 1, noise tokens index 0), flow matching, on
the held-in families. Also learns the fixed conditioning (txt tokens and y) that replaces the text
encoders. Keeps an EMA of the weights; checkpoints base.pt as it goes.

    /usr/bin/python3 tools/train/train_base.py SECONDS"""
import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: spinning OpenMP threads stall on a shared CPU

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
import data  # noqa: E402
import stage as S  # noqa: E402


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1500
    C.setup(7)
    logf = os.path.join(C.WORK, "base.log")
    pairs = S.load_pairs()
    trip = S.LatentTriplets(pairs, data.families(("train",)), seed=8)
    flux = S.new_flux()
    txt = torch.nn.Parameter(torch.randn(1, C.T_TOKENS, C.FLUX["context_in"]))
    y = torch.nn.Parameter(torch.randn(1, C.FLUX["vec_in"]))
    done_steps, done_seconds, lr = 0, 0.0, 1e-3
    if len(sys.argv) > 2 and sys.argv[2] == "resume":  # continue from base.pt's EMA weights (new schedule)
        ck = torch.load(os.path.join(C.WORK, "base.pt"))
        flux.load_state_dict(ck["ema"])
        txt.data.copy_(ck["txt"]), y.data.copy_(ck["y"])
        done_steps, done_seconds, lr = ck["steps"], ck["seconds"], 5e-4
        trip.rng = np.random.default_rng(8 + done_steps)  # fresh batches and noise, still seeded
        torch.manual_seed(7 + done_steps)
    params = list(flux.parameters()) + [txt, y]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0, betas=(0.9, 0.99))
    ema = S.EMA(params, 0.99)
    bud = C.Budget(seconds, lr, warmup=40)
    bsz, run, runq = 32, None, None

    def save():
        shadow = dict(zip([n for n, _ in flux.named_parameters()], ema.shadow[:-2]))
        torch.save({"ema": shadow, "txt": ema.shadow[-2].clone(), "y": ema.shadow[-1].clone(),
                    "steps": done_steps + bud.step, "seconds": done_seconds + bud.elapsed(), "cfg": C.FLUX},
                   os.path.join(C.WORK, "base.pt"))

    while not bud.done():
        if bud.step % 25 == 0 and len(S.pair_shards()) > pairs["shards"]:  # make_latents still running
            pairs = S.load_pairs()
            trip = S.LatentTriplets(pairs, data.families(("train",)), seed=8 + pairs["shards"])
            C.log(logf, "base: now %d training triplets (%d shards)" % (len(trip.idx), pairs["shards"]))
        lat, _, _ = trip.batch(bsz)
        loss, lq = S.fm_loss(flux, lat, txt, y)
        bud.apply(opt)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        ema.update(bud.step + (1000 if done_steps else 0))
        run = loss.item() if run is None else 0.97 * run + 0.03 * loss.item()
        runq = lq.item() if runq is None else 0.97 * runq + 0.03 * lq.item()
        if bud.step % 20 == 0:
            C.log(logf, "base step %d  %.0fs  lr %.2e  loss(ema) %.4f  b′-quadrant loss(ema) %.4f" % (bud.step, bud.elapsed(), bud.lr(), run, runq))
        if bud.step % 100 == 0:
            save()
    save()
    C.log(logf, "base done: %d steps (batch %d) in %.0fs (this run %d in %.0fs)"
          % (done_steps + bud.step, bsz, done_seconds + bud.elapsed(), bud.step, bud.elapsed()))


if __name__ == "__main__":
    main()
