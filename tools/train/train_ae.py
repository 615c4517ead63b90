"""Stage 1: the nano autoencoder (FLUX AE architecture, f = 8, z = 16), trained on crops of the training
images and of their transformed versions, MSE with latent-noise augmentation so the decoder tolerates
the transformer's imperfect latents. Phase 2 (resume) fine-tunes on 2×2 mosaics of different crops: the pipeline encodes and decodes whole
grids, and GroupNorm's statistics are those of the whole grid. The mid-block attention output projections are held at zero, so
the attention blocks are identities (the AE stays convolutional; cheaper to train).
Ends by measuring the latents' shift and scale (written to ae.* metadata as FLUX does with its own).

    /usr/bin/python3 tools/train/train_ae.py SECONDS"""
import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: spinning OpenMP threads stall on a shared CPU

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
import data  # noqa: E402
import models as M  # noqa: E402


def freeze_attention(ae):
    for half in (ae.encoder, ae.decoder):
        a = half.mid.attn_1
        torch.nn.init.zeros_(a.proj_out.weight)
        torch.nn.init.zeros_(a.proj_out.bias)
        for p in a.parameters():
            p.requires_grad_(False)


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 600
    resume = len(sys.argv) > 2 and sys.argv[2] == "resume"  # continue from ae.pt (new schedule)
    C.setup(1)
    logf = os.path.join(C.WORK, "ae.log")
    bank = data.build_bank(101, 2000)
    rng = np.random.default_rng(2)
    ae = M.AutoEncoder(**C.AE, scale=1.0, shift=0.0)
    freeze_attention(ae)
    for m in ae.modules():  # residual branches start at zero: every block starts as the identity
        if isinstance(m, M.ResnetBlock):
            torch.nn.init.zeros_(m.conv2.weight)
    done_steps, done_seconds = 0, 0.0
    if resume:
        ck = torch.load(os.path.join(C.WORK, "ae.pt"))
        ae.load_state_dict(ck["state"])
        done_steps, done_seconds = ck.get("steps", 0), ck.get("seconds", 0.0)
    params = [p for p in ae.parameters() if p.requires_grad]
    lr = 1e-3 if resume else 2e-3
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    bud = C.Budget(seconds, lr, warmup=30)
    fams = list(data.FAMILIES)
    crop, bsz = 32, (32 if resume else 24)
    ema = None
    while not bud.done():
        idx = rng.integers(0, len(bank), bsz)
        x = bank[idx].float() / 255
        for i in range(bsz // 2):  # half the batch transformed, so inverted/edge/posterised images are covered
            x[i:i + 1] = data.apply(fams[int(rng.integers(0, len(fams)))], x[i:i + 1], data.sample_params(rng))
        oy, ox = (int(v) for v in rng.integers(0, data.Q - crop + 1, 2))
        x = x[:, :, oy:oy + crop, ox:ox + crop] * 2 - 1
        if resume:  # phase 2: 2×2 mosaics of different crops, as the pipeline encodes whole grids
            x = x.view(bsz // 4, 4, 3, crop, crop)
            x = data.grid(x[:, 0], x[:, 1], x[:, 2], x[:, 3])
        mean = ae.encoder(x)[:, :C.AE["z"]]
        z = mean + (0.03 if resume else 0.1) * mean.detach().std() * torch.randn_like(mean)
        rec = ae.decoder(z)
        mse = ((rec - x) ** 2).mean()
        loss = mse + 1e-4 * (mean ** 2).mean()
        bud.apply(opt)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        psnr = 10 * np.log10(4.0 / mse.item())
        ema = psnr if ema is None else 0.95 * ema + 0.05 * psnr
        if bud.step % 25 == 0:
            C.log(logf, "ae step %d  %.0fs  lr %.2e  psnr(ema, [-1,1]) %.2f dB" % (bud.step, bud.elapsed(), bud.lr(), ema))
        if bud.step % 200 == 0:
            torch.save({"state": ae.state_dict(), "steps": done_steps + bud.step,
                        "seconds": done_seconds + bud.elapsed()}, os.path.join(C.WORK, "ae.pt"))
    # latent statistics on whole 64×64 crops
    with torch.no_grad():
        x = bank[:256].float() / 255 * 2 - 1
        mean = torch.cat([ae.encoder(x[i:i + 64])[:, :C.AE["z"]] for i in range(0, 256, 64)])
        shift, scale = mean.mean().item(), 1.0 / mean.std().item()
        rec = torch.cat([ae.decoder(mean[i:i + 64]) for i in range(0, 256, 64)])
        psnr = 10 * np.log10(4.0 / ((rec - x) ** 2).mean().item())
    torch.save({"state": ae.state_dict(), "scale": scale, "shift": shift, "steps": done_steps + bud.step,
                "seconds": done_seconds + bud.elapsed()}, os.path.join(C.WORK, "ae.pt"))
    C.log(logf, "ae done: %d steps in %.0fs (this run %d in %.0fs); 64x64 reconstruction PSNR %.2f dB; shift %.4f scale %.4f"
          % (done_steps + bud.step, done_seconds + bud.elapsed(), bud.step, bud.elapsed(), psnr, shift, scale))


if __name__ == "__main__":
    main()
