"""PyTorch modules of the nano model, written from our specs (spec-flux-kontext.md §1-§4, spec-lorweb.md
§1 and §3), with parameter names equal to the checkpoint names the C engine reads:

- Flux: BFL naming (double_blocks.i.img_attn.qkv, single_blocks.i.linear1, ...), fused QKV.
- AutoEncoder: BFL naming (encoder.down.l.block.b..., decoder.up.l...), GroupNorm(32), no quant convs.
- ClipVision: Hugging Face CLIPVisionModelWithProjection naming (vision_model.*, visual_projection).
- LoRWeB: one AttLoRA per diffusers module name (spec-lorweb §1.2), applied to the row slice of the fused
  BFL Linear it belongs to; a single LoRA is the same thing with one basis element.

This is training code only: the engine (models/*.c) is the implementation users run. Checked against
the shared fixtures by check_fixtures.py."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


# --------------------------------------------------------------------------------------------------
# FLUX transformer (spec-flux-kontext.md §1, §2)

class Lin(nn.Linear):
    """nn.Linear with an optional side path (LoRA delta) set from outside; the adapter is kept out of
    the state dict so the base's names stay the BFL names."""

    def __init__(self, i, o, bias=True):
        super().__init__(i, o, bias)
        object.__setattr__(self, "adapter", None)

    def forward(self, x):
        y = F.linear(x, self.weight, self.bias)
        if self.adapter is not None:
            y = y + self.adapter(x)
        return y


def timestep_embedding(s, dim=256, max_period=10000.0, factor=1000.0):
    """E(s): cosines first, then sines; argument fp32(1000·s)·f_k (spec §1.3)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = (factor * s.float())[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def rope_table(ids, axes_dim, theta):
    """ids [B, L, 3] -> (cos, sin) [B, 1, L, head_dim/2], one angle per interleaved pair (spec §2.4)."""
    angles = []
    for a, d in enumerate(axes_dim):
        scale = torch.arange(0, d, 2, dtype=torch.float64) / d
        omega = 1.0 / (theta ** scale)
        angles.append(ids[..., a].double()[..., None] * omega)
    ang = torch.cat(angles, dim=-1).float()
    return torch.cos(ang)[:, None], torch.sin(ang)[:, None]


def apply_rope(x, cs):
    cos, sin = cs
    x0, x1 = x[..., 0::2].float(), x[..., 1::2].float()
    out = torch.stack([cos * x0 - sin * x1, sin * x0 + cos * x1], dim=-1)
    return out.flatten(-2).type_as(x)


def attention(q, k, v, cs):
    """q, k, v [B, H, L, d] -> [B, L, H·d] (RoPE on q, k; no mask)."""
    q, k = apply_rope(q, cs), apply_rope(k, cs)
    w = torch.softmax((q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1]), dim=-1)
    o = w @ v
    return o.transpose(1, 2).flatten(2)


class RMSNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(d))

    def forward(self, x):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + 1e-6)).type_as(x) * self.scale


class QKNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.query_norm = RMSNorm(d)
        self.key_norm = RMSNorm(d)


class MLPEmbedder(nn.Module):
    def __init__(self, i, d):
        super().__init__()
        self.in_layer = Lin(i, d)
        self.out_layer = Lin(d, d)

    def forward(self, x):
        return self.out_layer(F.silu(self.in_layer(x)))


class Modulation(nn.Module):
    def __init__(self, d, n):
        super().__init__()
        self.n = n
        self.lin = Lin(d, n * d)

    def forward(self, silu_vec):
        return self.lin(silu_vec)[:, None, :].chunk(self.n, dim=-1)


class SelfAttn(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.qkv = Lin(d, 3 * d)
        self.norm = QKNorm(d // heads)
        self.proj = Lin(d, d)


def layer_norm(x):
    return F.layer_norm(x, x.shape[-1:], eps=1e-6)


def gelu_tanh(x):
    return F.gelu(x, approximate="tanh")


class DoubleBlock(nn.Module):
    def __init__(self, d, heads, mlp):
        super().__init__()
        self.heads = heads
        for s in ("img", "txt"):
            setattr(self, s + "_mod", Modulation(d, 6))
            setattr(self, s + "_attn", SelfAttn(d, heads))
            setattr(self, s + "_mlp", nn.Sequential(Lin(d, mlp), nn.GELU(approximate="tanh"), Lin(mlp, d)))

    def _qkv(self, attn, x):
        b, l, _ = x.shape
        q, k, v = attn.qkv(x).view(b, l, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        return attn.norm.query_norm(q), attn.norm.key_norm(k), v

    def forward(self, img, txt, silu_vec, cs):
        im = self.img_mod(silu_vec)
        tm = self.txt_mod(silu_vec)
        iq, ik, iv = self._qkv(self.img_attn, (1 + im[1]) * layer_norm(img) + im[0])
        tq, tk, tv = self._qkv(self.txt_attn, (1 + tm[1]) * layer_norm(txt) + tm[0])
        a = attention(torch.cat([tq, iq], 2), torch.cat([tk, ik], 2), torch.cat([tv, iv], 2), cs)
        t_len = txt.shape[1]
        ta, ia = a[:, :t_len], a[:, t_len:]
        img = img + im[2] * self.img_attn.proj(ia)
        img = img + im[5] * self.img_mlp((1 + im[4]) * layer_norm(img) + im[3])
        txt = txt + tm[2] * self.txt_attn.proj(ta)
        txt = txt + tm[5] * self.txt_mlp((1 + tm[4]) * layer_norm(txt) + tm[3])
        return img, txt


class SingleBlock(nn.Module):
    def __init__(self, d, heads, mlp):
        super().__init__()
        self.heads, self.d, self.mlp = heads, d, mlp
        self.linear1 = Lin(d, 3 * d + mlp)
        self.linear2 = Lin(d + mlp, d)
        self.norm = QKNorm(d // heads)
        self.modulation = Modulation(d, 3)

    def forward(self, x, silu_vec, cs):
        sh, sc, g = self.modulation(silu_vec)
        h = self.linear1((1 + sc) * layer_norm(x) + sh)
        b, l, _ = x.shape
        qkv, m = h[..., :3 * self.d], h[..., 3 * self.d:]
        q, k, v = qkv.reshape(b, l, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        a = attention(self.norm.query_norm(q), self.norm.key_norm(k), v, cs)
        return x + g * self.linear2(torch.cat([a, gelu_tanh(m)], -1))


class LastLayer(nn.Module):
    def __init__(self, d, out):
        super().__init__()
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), Lin(d, 2 * d))
        self.linear = Lin(d, out)

    def forward(self, x, vec):
        shift, scale = self.adaLN_modulation(vec).chunk(2, dim=-1)
        return self.linear((1 + scale[:, None]) * layer_norm(x) + shift[:, None])


class Flux(nn.Module):
    def __init__(self, hidden=96, heads=3, axes_dim=(8, 12, 12), theta=10000, depth=2, depth_single=2,
                 vec_in=32, context_in=48, in_channels=64, mlp_ratio=4.0, guidance_embed=True):
        super().__init__()
        self.cfg = dict(hidden=hidden, heads=heads, axes_dim=list(axes_dim), theta=theta, depth=depth,
                        depth_single=depth_single, vec_in=vec_in, context_in=context_in,
                        in_channels=in_channels, mlp_ratio=mlp_ratio, guidance_embed=guidance_embed)
        mlp = int(hidden * mlp_ratio)
        self.img_in = Lin(in_channels, hidden)
        self.txt_in = Lin(context_in, hidden)
        self.time_in = MLPEmbedder(256, hidden)
        self.vector_in = MLPEmbedder(vec_in, hidden)
        self.guidance_in = MLPEmbedder(256, hidden) if guidance_embed else None
        self.double_blocks = nn.ModuleList([DoubleBlock(hidden, heads, mlp) for _ in range(depth)])
        self.single_blocks = nn.ModuleList([SingleBlock(hidden, heads, mlp) for _ in range(depth_single)])
        self.final_layer = LastLayer(hidden, in_channels)

    def metadata(self):
        c = self.cfg
        return {"flux.hidden_size": c["hidden"], "flux.num_heads": c["heads"],
                "flux.axes_dim": str(list(c["axes_dim"])), "flux.theta": c["theta"], "flux.depth": c["depth"],
                "flux.depth_single_blocks": c["depth_single"], "flux.vec_in_dim": c["vec_in"],
                "flux.context_in_dim": c["context_in"], "flux.in_channels": c["in_channels"],
                "flux.out_channels": c["in_channels"], "flux.mlp_ratio": c["mlp_ratio"],
                "flux.qkv_bias": "true", "flux.guidance_embed": "true" if c["guidance_embed"] else "false"}

    def forward(self, img, img_ids, txt, txt_ids, y, timesteps, guidance, ctx=None, ctx_ids=None):
        """img [B, N, C]; ctx [B, Cn, C] (Kontext tokens, optional) -> velocity [B, N, C]."""
        n = img.shape[1]
        if ctx is not None:
            img = torch.cat([img, ctx], 1)
            img_ids = torch.cat([img_ids, ctx_ids], 1)
        x = self.img_in(img)
        t = self.txt_in(txt)
        vec = self.time_in(timestep_embedding(timesteps))
        if self.guidance_in is not None:
            vec = vec + self.guidance_in(timestep_embedding(guidance))
        vec = vec + self.vector_in(y)
        cs = rope_table(torch.cat([txt_ids, img_ids], 1), self.cfg["axes_dim"], self.cfg["theta"])
        sv = F.silu(vec)
        for b in self.double_blocks:
            x, t = b(x, t, sv, cs)
        h = torch.cat([t, x], 1)
        for b in self.single_blocks:
            h = b(h, sv, cs)
        out = self.final_layer(h[:, t.shape[1]:], vec)
        return out[:, :n]

    # diffusers module name -> (fused BFL Lin, first row, rows) (spec-lorweb §1.2)
    def lora_targets(self):
        d, out = self.cfg["hidden"], []
        for i, b in enumerate(self.double_blocks):
            p = "transformer_blocks.%d." % i
            out += [(p + "norm1.linear", b.img_mod.lin, 0, 6 * d),
                    (p + "norm1_context.linear", b.txt_mod.lin, 0, 6 * d)]
            for j, s in enumerate("qkv"):
                out.append((p + "attn.to_" + s, b.img_attn.qkv, j * d, d))
            for j, s in enumerate("qkv"):
                out.append((p + "attn.add_%s_proj" % s, b.txt_attn.qkv, j * d, d))
            out += [(p + "attn.to_out.0", b.img_attn.proj, 0, d), (p + "attn.to_add_out", b.txt_attn.proj, 0, d),
                    (p + "ff.net.0.proj", b.img_mlp[0], 0, b.img_mlp[0].out_features),
                    (p + "ff.net.2", b.img_mlp[2], 0, d),
                    (p + "ff_context.net.0.proj", b.txt_mlp[0], 0, b.txt_mlp[0].out_features),
                    (p + "ff_context.net.2", b.txt_mlp[2], 0, d)]
        for i, b in enumerate(self.single_blocks):
            p = "single_transformer_blocks.%d." % i
            out.append((p + "norm.linear", b.modulation.lin, 0, 3 * d))
            for j, s in enumerate("qkv"):
                out.append((p + "attn.to_" + s, b.linear1, j * d, d))
            out += [(p + "proj_mlp", b.linear1, 3 * d, b.mlp), (p + "proj_out", b.linear2, 0, d)]
        return out


# --------------------------------------------------------------------------------------------------
# LoRWeB (spec-lorweb.md §1): a basis of N LoRAs of rank r per module, mixed by per-module softmax
# attention of a projected query over learned keys.

class LoRWeB(nn.Module):
    def __init__(self, flux, num=32, rank=4, keys_dim=32, query_dim=192, heads=1, softmax=True, seed=0):
        super().__init__()
        self.num, self.rank, self.keys_dim, self.query_dim, self.heads = num, rank, keys_dim, query_dim, heads
        self.softmax = softmax
        g = torch.Generator().manual_seed(seed)
        self.names = []
        self.A, self.B, self.keys, self.proj = (nn.ParameterDict() for _ in range(4))
        self.targets = {}
        for name, lin, row0, rows in flux.lora_targets():
            k = name.replace(".", "$")
            self.names.append(name)
            fan_in = lin.in_features
            # lora_A [N, in, r] (Kaiming-uniform-like), lora_B [N, r, out] zero: training starts at the base.
            bound = 1.0 / math.sqrt(fan_in)
            self.A[k] = nn.Parameter((torch.rand(num, fan_in, rank, generator=g) * 2 - 1) * bound)
            self.B[k] = nn.Parameter(torch.zeros(num, rank, rows))
            self.keys[k] = nn.Parameter(torch.randn(num, keys_dim, generator=g))
            self.proj[k] = nn.Parameter(torch.randn(keys_dim, query_dim, generator=g) / math.sqrt(query_dim))
            self.targets.setdefault(id(lin), (lin, []))[1].append((k, row0, rows))
        self.coeffs = None  # k -> [B, N], set by set_query

    def module_coeffs(self, query):
        """query [B, Q] -> dict k -> c [B, N] (spec-lorweb §1.5: linear projection, heads, softmax, mean)."""
        out = {}
        dh = self.keys_dim // self.heads
        for k in self.A.keys():
            q = query @ self.proj[k].t()  # [B, K]
            qh = q.view(q.shape[0], self.heads, dh)
            kh = self.keys[k].view(self.num, self.heads, dh)
            logits = torch.einsum("bhd,nhd->bhn", qh, kh) / math.sqrt(dh)
            w = torch.softmax(logits, -1) if self.softmax else torch.tanh(logits)
            out[k] = w.mean(1)
        return out

    def set_query(self, query):
        self.coeffs = self.module_coeffs(query)

    def _delta(self, k, x):
        a, b, c = self.A[k], self.B[k], self.coeffs[k]  # [N,in,r], [N,r,out], [Bt,N]
        n, i, r = a.shape
        t = x @ a.permute(1, 0, 2).reshape(i, n * r)  # [..., N·r]
        cr = c.repeat_interleave(r, dim=1)  # [Bt, N·r]
        if t.dim() == 3:
            cr = cr[:, None, :]
        return (t * cr) @ b.reshape(n * r, -1)

    def attach(self):
        for lin, subs in self.targets.values():
            def adapter(x, subs=subs):
                return torch.cat([self._delta(k, x) for k, _, _ in subs], -1)
            object.__setattr__(lin, "adapter", adapter)

    def detach(self):
        for lin, _ in self.targets.values():
            object.__setattr__(lin, "adapter", None)

    def checkpoint(self):
        """Tensors in the real LoRWeB naming (spec-lorweb §1.3)."""
        out = {}
        for k in self.A.keys():
            p = "transformer." + k.replace("$", ".")
            out[p + ".lora_A"] = self.A[k]
            out[p + ".lora_B"] = self.B[k]
            out[p + ".lora_keys"] = self.keys[k]
            out[p + ".att_lora_to_q.weight"] = self.proj[k]
        return out

    def load_checkpoint(self, tensors):
        for k in self.A.keys():
            p = "transformer." + k.replace("$", ".")
            self.A[k].data.copy_(tensors[p + ".lora_A"])
            self.B[k].data.copy_(tensors[p + ".lora_B"])
            self.keys[k].data.copy_(tensors[p + ".lora_keys"])
            self.proj[k].data.copy_(tensors[p + ".att_lora_to_q.weight"])


# --------------------------------------------------------------------------------------------------
# Autoencoder, FLUX architecture (spec-flux-kontext.md §4)

def gn(c):
    return nn.GroupNorm(32, c, eps=1e-6, affine=True)


class ResnetBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm1 = gn(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.norm2 = gn(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        if cin != cout:
            self.nin_shortcut = nn.Conv2d(cin, cout, 1)
        else:
            self.nin_shortcut = None

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (x if self.nin_shortcut is None else self.nin_shortcut(x)) + h


class AttnBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm = gn(c)
        self.q, self.k, self.v, self.proj_out = (nn.Conv2d(c, c, 1) for _ in range(4))

    def forward(self, x):
        h = self.norm(x)
        b, c, hh, ww = x.shape
        q = self.q(h).flatten(2).transpose(1, 2)
        k = self.k(h).flatten(2).transpose(1, 2)
        v = self.v(h).flatten(2).transpose(1, 2)
        w = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(c), -1)
        o = (w @ v).transpose(1, 2).reshape(b, c, hh, ww)
        return x + self.proj_out(o)


class Downsample(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 2, 0)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 1, 1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Mid(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.block_1 = ResnetBlock(c, c)
        self.attn_1 = AttnBlock(c)
        self.block_2 = ResnetBlock(c, c)

    def forward(self, x):
        return self.block_2(self.attn_1(self.block_1(x)))


class Encoder(nn.Module):
    def __init__(self, ch, ch_mult, nres, z):
        super().__init__()
        self.conv_in = nn.Conv2d(3, ch, 3, 1, 1)
        in_mult = (1,) + tuple(ch_mult)
        self.down = nn.ModuleList()
        for l, m in enumerate(ch_mult):
            lev = nn.Module()
            bi, bo = ch * in_mult[l], ch * m
            lev.block = nn.ModuleList([ResnetBlock(bi if b == 0 else bo, bo) for b in range(nres)])
            if l != len(ch_mult) - 1:
                lev.downsample = Downsample(bo)
            self.down.append(lev)
        c = ch * ch_mult[-1]
        self.mid = Mid(c)
        self.norm_out = gn(c)
        self.conv_out = nn.Conv2d(c, 2 * z, 3, 1, 1)

    def forward(self, x):
        h = self.conv_in(x)
        for lev in self.down:
            for b in lev.block:
                h = b(h)
            if hasattr(lev, "downsample"):
                h = lev.downsample(h)
        h = self.mid(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, ch, ch_mult, nres, z):
        super().__init__()
        c = ch * ch_mult[-1]
        self.conv_in = nn.Conv2d(z, c, 3, 1, 1)
        self.mid = Mid(c)
        ups = []
        bi = c
        for l in reversed(range(len(ch_mult))):
            lev = nn.Module()
            bo = ch * ch_mult[l]
            lev.block = nn.ModuleList([ResnetBlock(bi if b == 0 else bo, bo) for b in range(nres + 1)])
            bi = bo
            if l != 0:
                lev.upsample = Upsample(bo)
            ups.insert(0, lev)
        self.up = nn.ModuleList(ups)
        self.norm_out = gn(bi)
        self.conv_out = nn.Conv2d(bi, 3, 3, 1, 1)

    def forward(self, z):
        h = self.mid(self.conv_in(z))
        for lev in reversed(self.up):
            for b in lev.block:
                h = b(h)
            if hasattr(lev, "upsample"):
                h = lev.upsample(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class AutoEncoder(nn.Module):
    def __init__(self, ch=32, ch_mult=(1, 2, 2), nres=1, z=16, scale=0.3611, shift=0.1159):
        super().__init__()
        self.cfg = dict(ch=ch, ch_mult=list(ch_mult), nres=nres, z=z)
        self.encoder = Encoder(ch, ch_mult, nres, z)
        self.decoder = Decoder(ch, ch_mult, nres, z)
        self.scale, self.shift = scale, shift
        self.z = z

    def metadata(self):
        c = self.cfg
        return {"ae.ch": c["ch"], "ae.ch_mult": str(c["ch_mult"]), "ae.num_res_blocks": c["nres"],
                "ae.z_channels": c["z"], "ae.scale_factor": "%.6g" % self.scale,
                "ae.shift_factor": "%.6g" % self.shift, "ae.in_channels": 3, "ae.out_ch": 3,
                "ae.downsample_factor": 2 ** (len(c["ch_mult"]) - 1), "ae.groupnorm_groups": 32}

    def moments(self, x):
        return self.encoder(x)

    def encode(self, x):
        mean = self.encoder(x)[:, :self.z]
        return self.scale * (mean - self.shift)

    def decode(self, z):
        return self.decoder(z / self.scale + self.shift)


# --------------------------------------------------------------------------------------------------
# CLIP vision tower with projection, Hugging Face naming (spec-lorweb.md §3.2)

class ClipAttn(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x):
        b, l, d = x.shape
        sh = lambda t: t.view(b, l, self.heads, -1).transpose(1, 2)
        q, k, v = sh(self.q_proj(x)), sh(self.k_proj(x)), sh(self.v_proj(x))
        w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // self.heads), -1)
        return self.out_proj((w @ v).transpose(1, 2).reshape(b, l, d))


class ClipMLP(nn.Module):
    def __init__(self, d, f):
        super().__init__()
        self.fc1 = nn.Linear(d, f)
        self.fc2 = nn.Linear(f, d)

    def forward(self, x):
        h = self.fc1(x)
        return self.fc2(h * torch.sigmoid(1.702 * h))


class ClipLayer(nn.Module):
    def __init__(self, d, heads, f):
        super().__init__()
        self.self_attn = ClipAttn(d, heads)
        self.layer_norm1 = nn.LayerNorm(d, eps=1e-5)
        self.mlp = ClipMLP(d, f)
        self.layer_norm2 = nn.LayerNorm(d, eps=1e-5)

    def forward(self, x):
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class ClipVision(nn.Module):
    MEAN = (0.48145466, 0.4578275, 0.40821073)
    STD = (0.26862954, 0.26130258, 0.27577711)

    def __init__(self, width=64, heads=4, layers=2, patch=14, image=56, proj=16, mlp=None):
        super().__init__()
        mlp = mlp or 4 * width
        self.cfg = dict(width=width, heads=heads, layers=layers, patch=patch, image=image, proj=proj, mlp=mlp)
        vm = nn.Module()
        vm.embeddings = nn.Module()
        vm.embeddings.class_embedding = nn.Parameter(torch.randn(width) * 0.02)
        vm.embeddings.patch_embedding = nn.Conv2d(3, width, patch, patch, bias=False)
        vm.embeddings.position_embedding = nn.Embedding((image // patch) ** 2 + 1, width)
        nn.init.normal_(vm.embeddings.position_embedding.weight, std=0.02)
        vm.pre_layrnorm = nn.LayerNorm(width, eps=1e-5)
        vm.encoder = nn.Module()
        vm.encoder.layers = nn.ModuleList([ClipLayer(width, heads, mlp) for _ in range(layers)])
        vm.post_layernorm = nn.LayerNorm(width, eps=1e-5)
        self.vision_model = vm
        self.visual_projection = nn.Linear(width, proj, bias=False)

    def metadata(self):
        c = self.cfg
        return {"clip_vision.hidden_size": c["width"], "clip_vision.num_heads": c["heads"],
                "clip_vision.num_layers": c["layers"], "clip_vision.patch_size": c["patch"],
                "clip_vision.image_size": c["image"], "clip_vision.projection_dim": c["proj"],
                "clip_vision.intermediate_size": c["mlp"], "clip_vision.hidden_act": "quick_gelu",
                "clip_vision.layer_norm_eps": "1e-05"}

    def normalise(self, rgb01):
        """[B, 3, S, S] in [0, 1] (clamped) -> CLIP pixel_values."""
        m = torch.tensor(self.MEAN).view(1, 3, 1, 1)
        s = torch.tensor(self.STD).view(1, 3, 1, 1)
        return (rgb01.clamp(0, 1) - m) / s

    def forward(self, pixel_values):
        vm = self.vision_model
        e = vm.embeddings
        p = e.patch_embedding(pixel_values).flatten(2).transpose(1, 2)
        cls = e.class_embedding.expand(p.shape[0], 1, -1)
        h = torch.cat([cls, p], 1) + e.position_embedding.weight[None]
        h = vm.pre_layrnorm(h)
        for layer in vm.encoder.layers:
            h = layer(h)
        pooled = vm.post_layernorm(h[:, 0])
        return self.visual_projection(pooled), h, pooled


# --------------------------------------------------------------------------------------------------
# Packing, ids, schedule, sampler (spec-flux-kontext.md §2.2, §2.3, §3)

def pack(lat):
    """[B, z, h, w] -> [B, (h/2)(w/2), 4z], feature = c·4 + dy·2 + dx."""
    b, c, h, w = lat.shape
    return lat.view(b, c, h // 2, 2, w // 2, 2).permute(0, 2, 4, 1, 3, 5).reshape(b, (h // 2) * (w // 2), c * 4)


def unpack(tok, h, w):
    b, n, f = tok.shape
    c = f // 4
    return tok.view(b, h // 2, w // 2, c, 2, 2).permute(0, 3, 1, 4, 2, 5).reshape(b, c, h, w)


def grid_ids(gh, gw, index, batch=1):
    i, j = torch.meshgrid(torch.arange(gh), torch.arange(gw), indexing="ij")
    ids = torch.stack([torch.full_like(i, index), i, j], -1).view(1, gh * gw, 3).float()
    return ids.expand(batch, -1, -1)


def mu_of(n):
    return 0.5 + (1.15 - 0.5) * (n - 256) / (4096 - 256)


def time_shift(mu, t):
    t = torch.as_tensor(t, dtype=torch.float64)
    out = math.exp(mu) / (math.exp(mu) + (1 / t.clamp_min(1e-300) - 1))
    return torch.where(t <= 0, torch.zeros_like(out), out)


def schedule(steps, n):
    t = torch.linspace(1, 0, steps + 1, dtype=torch.float64)
    return time_shift(mu_of(n), t).float()


@torch.no_grad()
def sample(flux, noise, ids, txt, txt_ids, y, ctx, ctx_ids, steps, guidance=2.5):
    """Euler on the shifted schedule (spec §3.1-3.2); context tokens appended at every step."""
    x = noise
    sig = schedule(steps, noise.shape[1]).tolist()
    g = torch.full((x.shape[0],), guidance)
    for tc, tn in zip(sig[:-1], sig[1:]):
        v = flux(x, ids, txt, txt_ids, y, torch.full((x.shape[0],), tc), g, ctx, ctx_ids)
        x = x + (tn - tc) * v
    return x
