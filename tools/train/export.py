"""Export of the trained nano model to models/default/ in the real file formats:

- flux.safetensors: BFL naming, BF16 (as flux1-kontext-dev), flux.* hyper-parameters in __metadata__,
  plus lorweb.default_steps / lorweb.default_size (the pipeline's defaults for this model).
- ae.safetensors: BFL naming, F32 (as ae.safetensors), ae.* metadata with our scale/shift.
- clip_vision.safetensors: Hugging Face CLIPVisionModelWithProjection naming, F32, clip_vision.* metadata.
- conditioning.safetensors: the fixed txt [T, context_in] and y [vec_in] that replace the text encoders.
- lorweb.safetensors + config.yaml: the LoRWeB checkpoint naming (spec-lorweb §1.3), F16, ai-toolkit layout.
- single_lora/lorweb.safetensors + config.yaml: the single-LoRA baseline in the same format with one
  basis element (its mixing weight is always 1).
- MANIFEST: per file its sha256 and size, then every tensor's name, dtype and shape.

    /usr/bin/python3 tools/train/export.py"""
import hashlib
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
import models as M  # noqa: E402
import st  # noqa: E402

CONFIG = """# LoRWeB config of the embedded nano model, ai-toolkit layout (inference reads
# config.process[0].network.network_kwargs.*); written by tools/train/export.py
job: extension
config:
  name: "{name}"
  process:
    - type: 'sd_trainer'
      network:
        type: "attlora"
        linear: {rank}
        linear_alpha: {rank}
        network_kwargs:
          loras_num: {num}
          lora_keys_dim: {keys}
          lora_heads: {heads}
          lora_softmax: true
          mixing_coeffs_type: "mean"
          external_query: true
          pooling_type: "avg"
          query_projection_type: "linear"
          query_mode: "cat-aa'b"
          external_query_model: lorweb-nano-clip-vision
      save:
        dtype: float16
      model:
        arch: "flux_kontext"
meta:
  name: "{name}"
  version: '1.0'
"""


def write_lorweb(ck, folder, name, heads):
    os.makedirs(folder, exist_ok=True)
    meta = {"format": "pt", "ss_base_model_version": "flux.1_kontext", "lorweb.num_loras": ck["num"],
            "lorweb.rank": ck["rank"], "lorweb.keys_dim": ck["keys_dim"],
            "lorweb.query_dim": 3 * C.CLIP["proj"], "lorweb.heads": heads,
            "lorweb.n_modules": len(ck["tensors"]) // 4, "generator": "tools/train/export.py"}
    st.save(os.path.join(folder, "lorweb.safetensors"), ck["tensors"], meta, dtype="F16")
    with open(os.path.join(folder, "config.yaml"), "w") as f:
        f.write(CONFIG.format(name=name, rank=ck["rank"], num=ck["num"], keys=ck["keys_dim"], heads=heads))


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def manifest(root):
    import json
    import struct
    lines = ["# Embedded default model: files (sha256, bytes) and tensors (name, dtype, shape).",
             "# Written by tools/train/export.py; check with: cd models/default && sha256sum -c <(grep '^file' MANIFEST | awk '{print $3\"  \"$2}')"]
    files = []
    for dp, _, fs in os.walk(root):
        for f in fs:
            if f != "MANIFEST":
                files.append(os.path.relpath(os.path.join(dp, f), root))
    total = 0
    for rel in sorted(files):
        p = os.path.join(root, rel)
        size = os.path.getsize(p)
        total += size
        lines.append("file %s %s %d" % (rel, sha256(p), size))
        if rel.endswith(".safetensors"):
            raw = open(p, "rb").read(8)
            n = struct.unpack("<Q", raw)[0]
            with open(p, "rb") as fh:
                fh.seek(8)
                header = json.loads(fh.read(n))
            for k in sorted(header):
                if k != "__metadata__":
                    lines.append("  %s %s %s" % (k, header[k]["dtype"], "x".join(map(str, header[k]["shape"])) or "scalar"))
    lines.append("# total %d bytes" % total)
    with open(os.path.join(root, "MANIFEST"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return total


def main():
    out = C.OUT
    os.makedirs(out, exist_ok=True)
    ae_ck = torch.load(os.path.join(C.WORK, "ae.pt"))
    ae = M.AutoEncoder(**C.AE, scale=ae_ck["scale"], shift=ae_ck["shift"])
    ae.load_state_dict(ae_ck["state"])
    st.save(os.path.join(out, "ae.safetensors"), ae.state_dict(), dict(ae.metadata(), generator="tools/train/export.py"), dtype="F32")

    base = torch.load(os.path.join(C.WORK, "base.pt"))
    flux = M.Flux(**C.FLUX)
    flux.load_state_dict(base["ema"])
    meta = dict(flux.metadata(), **{"lorweb.default_steps": C.STEPS, "lorweb.default_size": 2 * 64,
                                    "lorweb.default_guidance": C.GUIDANCE, "naming": "BFL",
                                    "generator": "tools/train/export.py"})
    st.save(os.path.join(out, "flux.safetensors"), flux.state_dict(), meta, dtype="BF16")
    st.save(os.path.join(out, "conditioning.safetensors"), {"txt": base["txt"][0], "y": base["y"][0]},
            {"generator": "tools/train/export.py", "note": "fixed conditioning in place of T5 and CLIP-L text"}, dtype="F32")

    clip_ck = torch.load(os.path.join(C.WORK, "clip.pt"))
    clip = M.ClipVision(**C.CLIP)
    clip.load_state_dict(clip_ck["state"])
    st.save(os.path.join(out, "clip_vision.safetensors"), clip.state_dict(),
            dict(clip.metadata(), naming="HF CLIPVisionModelWithProjection", generator="tools/train/export.py"), dtype="F32")

    write_lorweb(torch.load(os.path.join(C.WORK, "lorweb.pt")), out, "lorweb_nano", C.LORWEB["heads"])
    if os.path.exists(os.path.join(C.WORK, "lora.pt")):
        write_lorweb(torch.load(os.path.join(C.WORK, "lora.pt")), os.path.join(out, "single_lora"), "single_lora_nano", 1)
    total = manifest(out)
    print("exported to %s: %.1f MB" % (out, total / 1e6))


if __name__ == "__main__":
    main()
