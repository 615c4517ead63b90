"""Stage 1b: the nano CLIP vision tower (CLIP architecture, Hugging Face naming) that gives LoRWeB its
query. LoRWeB uses a frozen pretrained CLIP; we have none, so we pretrain ours to tell the training
families apart: a small head (discarded afterwards) classifies the family from E(a), E(a′) and their
difference. Only held-in families are used; the tower is frozen in the LoRWeB stage.

    /usr/bin/python3 tools/train/train_clip.py SECONDS"""
import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: spinning OpenMP threads stall on a shared CPU

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
import data  # noqa: E402
import models as M  # noqa: E402


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 180
    C.setup(3)
    logf = os.path.join(C.WORK, "clip.log")
    bank = data.build_bank(301, 1500)
    fams = data.families(("train",))
    trip = data.Triplets(bank, fams, seed=4)
    clip = M.ClipVision(**C.CLIP)
    p = C.CLIP["proj"]
    head = nn.Sequential(nn.Linear(3 * p, 128), nn.GELU(), nn.Linear(128, len(fams)))
    done_steps, done_seconds = 0, 0.0
    if len(sys.argv) > 2 and sys.argv[2] == "resume":  # continue from clip.pt (new schedule)
        ck = torch.load(os.path.join(C.WORK, "clip.pt"))
        clip.load_state_dict(ck["state"])
        if "head" in ck:
            head.load_state_dict(ck["head"])
        done_steps, done_seconds = ck["steps"], ck["seconds"]
        trip = data.Triplets(bank, fams, seed=5)
    params = list(clip.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)
    bud = C.Budget(seconds, 1e-3, warmup=20)
    acc_ema = None
    while not bud.done():
        a, ap, _, _, fam = trip.batch(64)
        e = clip(clip.normalise(torch.cat([a, ap])))[0]
        ea, eap = e[:64], e[64:]
        logits = head(torch.cat([ea, eap, eap - ea], -1))
        y = torch.from_numpy(fam).long()
        loss = nn.functional.cross_entropy(logits, y)
        bud.apply(opt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        acc = (logits.argmax(-1) == y).float().mean().item()
        acc_ema = acc if acc_ema is None else 0.95 * acc_ema + 0.05 * acc
        if bud.step % 25 == 0:
            C.log(logf, "clip step %d  %.0fs  loss %.3f  family accuracy(ema) %.3f" % (bud.step, bud.elapsed(), loss.item(), acc_ema))
    torch.save({"state": clip.state_dict(), "head": head.state_dict(), "steps": done_steps + bud.step,
                "seconds": done_seconds + bud.elapsed(), "accuracy": acc_ema}, os.path.join(C.WORK, "clip.pt"))
    C.log(logf, "clip done: %d steps in %.0fs (this run %d in %.0fs), family accuracy %.3f over %d families"
          % (done_steps + bud.step, done_seconds + bud.elapsed(), bud.step, bud.elapsed(), acc_ema, len(fams)))


if __name__ == "__main__":
    main()
