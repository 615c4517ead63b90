"""Stage 2: the base nano-Kontext (FLUX architecture) trained to complete grids a | a′ / b | b′ from
the Kontext context a | a′ / b | b (context tokens index 1, noise tokens index 0), flow matching, on
the held-in families. Also learns the fixed conditioning (txt tokens and y) that replaces the text
encoders. Keeps an EMA of the weights; checkpoints base.pt as it goes.

    /usr/bin/python3 tools/train/train_base.py SECONDS"""
import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: spinning OpenMP threads stall on a shared CPU

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
    params = list(flux.parameters()) + [txt, y]
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.0, betas=(0.9, 0.99))
    ema = S.EMA(params, 0.99)
    bud = C.Budget(seconds, 1e-3, warmup=40)
    bsz, run, runq = 32, None, None

    def save():
        shadow = dict(zip([n for n, _ in flux.named_parameters()], ema.shadow[:-2]))
        torch.save({"ema": shadow, "txt": ema.shadow[-2].clone(), "y": ema.shadow[-1].clone(), "steps": bud.step,
                    "seconds": bud.elapsed(), "cfg": C.FLUX}, os.path.join(C.WORK, "base.pt"))

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
        ema.update(bud.step)
        run = loss.item() if run is None else 0.97 * run + 0.03 * loss.item()
        runq = lq.item() if runq is None else 0.97 * runq + 0.03 * lq.item()
        if bud.step % 20 == 0:
            C.log(logf, "base step %d  %.0fs  lr %.2e  loss(ema) %.4f  b′-quadrant loss(ema) %.4f" % (bud.step, bud.elapsed(), bud.lr(), run, runq))
        if bud.step % 100 == 0:
            save()
    save()
    C.log(logf, "base done: %d steps (batch %d) in %.0fs" % (bud.step, bsz, bud.elapsed()))


if __name__ == "__main__":
    main()
