"""Minimal safetensors reader/writer (numpy + torch), written from the format description in
spec-flux-kontext.md §1.12: 8-byte little-endian header length, JSON header, raw little-endian data.
Debian 12 has no python3-safetensors, so the recipe carries this instead."""
import json
import struct

import numpy as np
import torch

_NP = {"F32": np.float32, "F16": np.float16, "I32": np.int32, "I64": np.int64, "F64": np.float64,
       "U8": np.uint8, "I8": np.int8}


def load(path):
    """-> (dict name -> float32/int torch tensor, metadata dict). BF16 is widened to float32."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        raw = data[base + b:base + e]
        shape = info["shape"]
        if info["dtype"] == "BF16":
            u = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
            arr = u.view(np.float32).reshape(shape)
        else:
            arr = np.frombuffer(raw, dtype=_NP[info["dtype"]]).reshape(shape)
        out[name] = torch.from_numpy(arr.copy())
    return out, meta


def _bf16_bytes(t):
    """Round-to-nearest-even float32 -> bfloat16 bytes."""
    u = t.detach().float().contiguous().numpy().view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return r.tobytes()


def save(path, tensors, metadata=None, dtype=None):
    """tensors: name -> torch tensor. dtype: None (keep), 'F32', 'F16' or 'BF16' for float tensors.
    Tensors are written in sorted name order (as the Python safetensors library does)."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        if t.is_floating_point():
            want = dtype or {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}[t.dtype]
            if want == "BF16":
                raw = _bf16_bytes(t)
            else:
                raw = t.to(torch.float16 if want == "F16" else torch.float32).numpy().tobytes()
        else:
            want = {torch.int32: "I32", torch.int64: "I64", torch.uint8: "U8"}[t.dtype]
            raw = t.numpy().tobytes()
        header[name] = {"dtype": want, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for raw in blobs:
            f.write(raw)
