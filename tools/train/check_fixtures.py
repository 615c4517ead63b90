"""Checks the recipe's PyTorch modules against the shared fixtures (made by the upstream references):
Flux, Flux + LoRWeB, mixing weights, schedule, Euler loop, autoencoder, CLIP vision. Prints the relative
L2 error of each and exits non-zero above the conformance tolerances of component-io.md.

    /usr/bin/python3 tools/train/check_fixtures.py [FIXTURES_DIR]"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models as M  # noqa: E402
import st  # noqa: E402


def rel(a, b):
    return (torch.linalg.norm((a - b).double()) / torch.linalg.norm(b.double())).item()


def flux_from(tensors, meta):
    f = M.Flux(hidden=int(meta["flux.hidden_size"]), heads=int(meta["flux.num_heads"]),
               axes_dim=json.loads(meta["flux.axes_dim"]), theta=float(meta["flux.theta"]),
               depth=int(meta["flux.depth"]), depth_single=int(meta["flux.depth_single_blocks"]),
               vec_in=int(meta["flux.vec_in_dim"]), context_in=int(meta["flux.context_in_dim"]),
               in_channels=tensors["img_in.weight"].shape[1],
               guidance_embed=meta.get("flux.guidance_embed", "true") == "true")
    f.load_state_dict(tensors)
    return f.eval()


def lorweb_from(flux, tensors, cfg_path):
    import yaml
    kw = yaml.safe_load(open(cfg_path))["config"]["process"][0]["network"]["network_kwargs"]
    a = next(v for k, v in tensors.items() if k.endswith(".lora_A"))
    keys = next(v for k, v in tensors.items() if k.endswith(".lora_keys"))
    proj = next(v for k, v in tensors.items() if k.endswith(".att_lora_to_q.weight"))
    lw = M.LoRWeB(flux, num=a.shape[0], rank=a.shape[2], keys_dim=keys.shape[1], query_dim=proj.shape[1],
                  heads=int(kw["lora_heads"]), softmax=bool(kw["lora_softmax"]))
    lw.load_checkpoint(tensors)
    return lw


def main():
    fx = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../../shared/fixtures")
    L = lambda n: st.load(os.path.join(fx, n + ".safetensors"))
    results, bad = [], False

    def report(name, err, tol):
        nonlocal bad
        ok = err <= tol
        bad |= not ok
        results.append((name, err, tol))
        print("%-26s rel L2 %.3e  (tolerance %.0e) %s" % (name, err, tol, "ok" if ok else "FAIL"))

    with torch.no_grad():
        w, meta = L("flux_weights")
        flux = flux_from(w, meta)
        i, _ = L("flux_in")
        o, _ = L("flux_out")
        args = (i["img"], i["img_ids"], i["txt"], i["txt_ids"], i["y"], i["timesteps"], i["guidance"],
                i["ctx"], i["ctx_ids"])
        report("flux", rel(flux(*args), o["out"]), 3e-3)

        lwt, _ = L("lorweb_weights")
        lw = lorweb_from(flux, lwt, os.path.join(fx, "lorweb_config.yaml"))
        q, _ = L("lorweb_in")
        co, _ = L("lorweb_coeffs")
        c = lw.module_coeffs(q["query"])
        worst = max(rel(c[n.replace(".", "$")][0], co["transformer.%s.coeffs" % n]) for n in lw.names)
        report("lorweb coeffs (worst)", worst, 1e-3)
        lw.set_query(q["query"])
        lw.attach()
        lo, _ = L("flux_lorweb_out")
        report("flux + lorweb", rel(flux(*args), lo["out"]), 3e-3)

        sc, _ = L("sched")
        for k, v in sc.items():
            _, steps, n = k.split("_")
            err = (M.schedule(int(steps), int(n)) - v).abs().max().item()
            report("schedule %s/%s (abs)" % (steps, n), err, 1e-6)

        si, _ = L("sample_in")
        so, _ = L("sample_out")
        lw.set_query(si["query"])
        sargs = (si["noise"], si["img_ids"], si["txt"], si["txt_ids"], si["y"], si["ctx"], si["ctx_ids"],
                 int(si["steps"].item()), float(si["guidance"].item()))
        report("sample + lorweb", rel(M.sample(flux, *sargs), so["latent"]), 3e-3)
        lw.detach()
        report("sample base", rel(M.sample(flux, *sargs), so["latent_base"]), 3e-3)

        aw, am = L("ae_weights")
        ae = M.AutoEncoder(ch=int(am["ae.ch"]), ch_mult=json.loads(am["ae.ch_mult"]),
                           nres=int(am["ae.num_res_blocks"]), z=int(am["ae.z_channels"]),
                           scale=float(am["ae.scale_factor"]), shift=float(am["ae.shift_factor"]))
        ae.load_state_dict(aw)
        ai, _ = L("ae_in")
        ao, _ = L("ae_out")
        report("ae encode", rel(ae.encode(ai["image"]), ao["encoded"]), 5e-3)
        report("ae decode", rel(ae.decode(ai["latent"]), ao["decoded"]), 5e-3)

        cw, cm = L("clip_vision_weights")
        clip = M.ClipVision(width=int(cm["clip_vision.hidden_size"]), heads=int(cm["clip_vision.num_heads"]),
                            layers=int(cm["clip_vision.num_layers"]), patch=int(cm["clip_vision.patch_size"]),
                            image=int(cm["clip_vision.image_size"]), proj=int(cm["clip_vision.projection_dim"]),
                            mlp=int(cm["clip_vision.intermediate_size"]))
        clip.load_state_dict({k: v for k, v in cw.items() if "position_ids" not in k})
        ci, _ = L("clip_vision_in")
        co2, _ = L("clip_vision_out")
        emb, h, _ = clip(ci["pixel_values"])
        report("clip image_embeds", rel(emb, co2["image_embeds"]), 3e-3)
        report("clip last_hidden_state", rel(h, co2["last_hidden_state"]), 3e-3)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
