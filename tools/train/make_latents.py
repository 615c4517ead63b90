"""Stage 1c: the training triplets of the transformer stages, encoded once with the frozen AE.

NTRIP triplets spread evenly over the held-in families, each with its own parameter draw and two
different crops; both grids are encoded whole, exactly as the pipeline does (GroupNorm sees the whole
grid): the Kontext context a | a′ / b | b and the target a | a′ / b | b′. Writes pairs_NN.pt shards with the
packed tokens, the quadrant pixels (for the CLIP query) and the family of every triplet.

    /usr/bin/python3 tools/train/make_latents.py"""
import glob
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: spinning OpenMP threads stall on a shared CPU

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
import data  # noqa: E402
import models as M  # noqa: E402

BANK = int(os.environ.get("LORWEB_SMOKE_BANK", 1500))
NTRIP = int(os.environ.get("LORWEB_SMOKE_NTRIP", 630))
SHARD = 126


def load_ae():
    ck = torch.load(os.path.join(C.WORK, "ae.pt"))
    ae = M.AutoEncoder(**C.AE, scale=ck["scale"], shift=ck["shift"])
    ae.load_state_dict(ck["state"])
    return ae.eval()


@torch.no_grad()
def encode_grids(ae, tl, tr, bl, br, bs=32):
    out = []
    for i in range(0, len(tl), bs):
        g = data.grid(*(x[i:i + bs].float() / 255 for x in (tl, tr, bl, br))) * 2 - 1
        out.append(M.pack(ae.encode(g)))
    return torch.cat(out)


def main():
    C.setup(5)
    logf = os.path.join(C.WORK, "latents.log")
    ae = load_ae()
    bank = data.build_bank(501, BANK)
    rng = np.random.default_rng(6)
    fams = data.families(("train",))
    A, AP, B, BP, fam = [], [], [], [], []
    for k in range(NTRIP):
        fi = k % len(fams)
        i, j = rng.choice(BANK, 2, replace=False)
        p = data.sample_params(rng)
        a, b = bank[i:i + 1].float() / 255, bank[j:j + 1].float() / 255
        q = lambda x: (x * 255).round().byte()
        A.append(bank[i:i + 1]), B.append(bank[j:j + 1])
        AP.append(q(data.apply(fams[fi], a, p))), BP.append(q(data.apply(fams[fi], b, p)))
        fam.append(fi)
    A, AP, B, BP = (torch.cat(x) for x in (A, AP, B, BP))
    fam = torch.tensor(fam)
    t0 = time.time()
    for old in glob.glob(os.path.join(C.WORK, "pairs_*.pt")):
        os.remove(old)
    # shards, so that the base stage can start on the first ones while the rest are encoded
    for s, i in enumerate(range(0, NTRIP, SHARD)):
        sl = slice(i, i + SHARD)
        ctx = encode_grids(ae, A[sl], AP[sl], B[sl], B[sl])
        tgt = encode_grids(ae, A[sl], AP[sl], B[sl], BP[sl])
        path = os.path.join(C.WORK, "pairs_%02d.pt" % s)
        torch.save({"families": fams, "fam": fam[sl], "a": A[sl], "a_prime": AP[sl], "b": B[sl], "ctx": ctx,
                    "target": tgt, "scale": ae.scale, "shift": ae.shift}, path + ".tmp")
        os.replace(path + ".tmp", path)
        C.log(logf, "latents: shard %d (%d triplets) done at %.0fs; target token std %.3f mean %.3f"
              % (s, len(tgt), time.time() - t0, tgt.std().item(), tgt.mean().item()))
    C.log(logf, "latents: %d triplets (%d grids) encoded in %.0fs" % (NTRIP, 2 * NTRIP, time.time() - t0))

if __name__ == "__main__":
    main()
