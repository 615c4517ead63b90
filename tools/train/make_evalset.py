"""The fixed held-out test set: for every family (held-in and held-out), 3 triplets a, a′, b with the true
b′, 64×64 8-bit PNGs in tests/data/evalset/<family>__<k>/ (the layout `lorweb eval` reads). Images come
only from the held-out source images and fresh procedural seeds; parameters are fresh draws. Also writes
the demo triplet data/sample/{a,a_prime,b}.png (+ b_prime_true.png).

    /usr/bin/python3 tools/train/make_evalset.py"""
import os
import shutil
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
import data  # noqa: E402

PER_FAMILY = 3


def save_png(t, path):
    Image.fromarray(t.permute(1, 2, 0).numpy()).save(path, optimize=True)


def main():
    torch.manual_seed(0)
    root = os.path.join(C.ROOT, "tests", "data", "evalset")
    if os.path.isdir(root):
        shutil.rmtree(root)
    os.makedirs(root)
    bank = data.build_bank(901, 400, heldout_sources=True)
    rng = np.random.default_rng(902)
    n = 0
    for name, (_, split) in data.FAMILIES.items():
        for k in range(PER_FAMILY):
            i, j = rng.choice(len(bank), 2, replace=False)
            p = data.sample_params(rng)
            a, b = bank[i:i + 1].float() / 255, bank[j:j + 1].float() / 255
            q = lambda x: (x * 255).round().byte()[0]
            d = os.path.join(root, "%s__%d" % (name, k))
            os.makedirs(d)
            save_png(q(a), os.path.join(d, "a.png"))
            save_png(q(data.apply(name, a, p)), os.path.join(d, "a_prime.png"))
            save_png(q(b), os.path.join(d, "b.png"))
            save_png(q(data.apply(name, b, p)), os.path.join(d, "b_prime.png"))
            n += 1
    with open(os.path.join(root, "README.md"), "w") as f:
        f.write("Held-out test set of the embedded default model (tools/train/make_evalset.py): one folder per\n"
                "triplet, `<family>__<k>`, with a.png, a_prime.png, b.png and the true b_prime.png (64×64, 8-bit).\n"
                "Images come from source images and procedural seeds never used in training.\n\n"
                "| family | split |\n|---|---|\n")
        for name, (_, split) in data.FAMILIES.items():
            f.write("| %s | %s |\n" % (name, {"train": "held in", "heldout": "held out (never trained on)"}[split]))
    # the demo triplet: a held-in family on two held-out photos
    sample = os.path.join(C.ROOT, "data", "sample")
    os.makedirs(sample, exist_ok=True)
    src = dict(data.load_sources())
    a = torch.from_numpy(np.asarray(Image.fromarray(src["chelsea.png"][20:276, 100:356]).resize((128, 128), Image.BICUBIC))).permute(2, 0, 1)[None].float() / 255
    b = torch.from_numpy(np.asarray(Image.fromarray(src["rocket.jpg"][0:427, 100:527]).resize((128, 128), Image.BICUBIC))).permute(2, 0, 1)[None].float() / 255
    p = data.sample_params(np.random.default_rng(903))
    fam = "invert+hflip"
    q = lambda x: (x * 255).round().byte()[0]
    save_png(q(a), os.path.join(sample, "a.png"))
    save_png(q(data.apply(fam, a, p)), os.path.join(sample, "a_prime.png"))
    save_png(q(b), os.path.join(sample, "b.png"))
    save_png(q(data.apply(fam, b, p)), os.path.join(sample, "b_prime_true.png"))
    print("evalset: %d triplets in %s; sample triplet (%s) in %s" % (n, root, fam, sample))


if __name__ == "__main__":
    main()
