#!/usr/bin/env bash
# The whole recipe of the embedded default model, in the order and with the time budgets it was run
# (see README.md for the measured times). CPU only, fixed seeds; checkpoints go to build-train/ and every
# stage saves as it goes. Budgets are wall-clock seconds on a shared 2-core machine; stages that end by
# time (AE, CLIP, base, LoRWeB) run more steps on a faster or idler machine, the single LoRA always
# runs exactly the LoRWeB stage's step count.
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_WAIT_POLICY=PASSIVE  # spinning OpenMP threads stall badly on a shared CPU
PY=/usr/bin/python3
tools/train/install-deps.sh
$PY tools/train/check_fixtures.py                     # our modules against the upstream fixtures
$PY tools/train/train_ae.py 600                       # stage 1: autoencoder on single crops
$PY tools/train/train_ae.py 360 resume                # ... then on 2×2 mosaics (whole grids)
LORWEB_TRAIN_THREADS=1 $PY tools/train/train_clip.py 200          # stage 1b: nano CLIP vision tower
LORWEB_TRAIN_THREADS=1 $PY tools/train/train_clip.py 400 resume
LORWEB_TRAIN_THREADS=1 $PY tools/train/train_clip.py 400 resume   # (run beside make_latents)
$PY tools/train/make_evalset.py                       # fixed held-out test set + demo triplet
$PY tools/train/make_latents.py &                     # encoded training triplets, in shards
latents=$!
while ! ls build-train/pairs_00.pt >/dev/null 2>&1; do sleep 5; done
$PY tools/train/train_base.py 1200                    # stage 2: base nano-Kontext (picks up new shards)
wait $latents
$PY tools/train/train_base.py 2400 resume             # ... continued on all shards at half the rate
$PY tools/train/train_adapter.py lorweb 900           # stage 3: LoRWeB basis, base + CLIP frozen
$PY tools/train/train_adapter.py lora                 # baseline: one LoRA, same parameters, same steps
$PY tools/train/export.py                             # models/default/ + MANIFEST
$PY tools/train/evaluate.py                           # table, picture, tests/data/default_parity.safetensors
