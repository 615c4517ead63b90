"""Shared settings of the recipe: architecture sizes, paths, seeds, time-budgeted training loop helpers."""
import math
import os
import time

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WORK = os.environ.get("LORWEB_TRAIN_DIR", os.path.join(ROOT, "build-train"))  # checkpoints, caches
OUT = os.environ.get("LORWEB_MODEL_OUT", os.path.join(ROOT, "models", "default"))

AE = dict(ch=32, ch_mult=(1, 1, 2, 2), nres=1, z=16)  # f = 8, 16 latent channels (FLUX's z)
FLUX = dict(hidden=128, heads=2, axes_dim=(8, 28, 28), theta=10000, depth=2, depth_single=2, vec_in=32,
            context_in=32, in_channels=64, mlp_ratio=4.0, guidance_embed=True)
CLIP = dict(width=64, heads=2, layers=2, patch=8, image=64, proj=32)
LORWEB = dict(num=32, rank=2, keys_dim=32, heads=1)  # query = 3 × CLIP projection (cat-aa'b)
T_TOKENS = 8  # fixed conditioning tokens
GUIDANCE = 2.5
STEPS = 8  # default sampling steps of the nano model
THREADS = int(os.environ.get("LORWEB_TRAIN_THREADS", "2"))


def setup(seed):
    torch.set_num_threads(THREADS)
    torch.manual_seed(seed)
    os.makedirs(WORK, exist_ok=True)


class Budget:
    """Time-budgeted cosine learning-rate schedule with linear warm-up; `max_steps` (if given) ends
    the run by steps instead (used to give the single LoRA exactly the LoRWeB stage's step count)."""

    def __init__(self, seconds, lr, warmup=50, max_steps=None):
        self.seconds, self.lr0, self.warmup, self.max_steps = seconds, lr, warmup, max_steps
        self.t0 = time.time()
        self.step = 0

    def progress(self):
        if self.max_steps:
            return self.step / self.max_steps
        return (time.time() - self.t0) / self.seconds

    def done(self):
        return self.progress() >= 1.0

    def lr(self):
        w = min(1.0, (self.step + 1) / self.warmup)
        return self.lr0 * w * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, self.progress()))))

    def apply(self, opt):
        for g in opt.param_groups:
            g["lr"] = self.lr()
        self.step += 1

    def elapsed(self):
        return time.time() - self.t0


def log(path, msg):
    line = "%s %s" % (time.strftime("%H:%M:%S"), msg)
    print(line, flush=True)
    with open(path, "a") as f:
        f.write(line + "\n")
