/* FLUX transformer tensor names across the layouts users have (spec-flux-kontext.md §1.10–1.11,
 * spec-lorweb.md §1.2–1.3). Our model code asks for BFL names
 * (`double_blocks.3.img_attn.qkv.weight`, `final_layer.adaLN_modulation.1.weight`); these functions
 * find them in a file that uses BFL names (the BFL release, GGUF repacks), ComfyUI's
 * `model.diffusion_model.` prefix, or diffusers names (fused q/k/v and linear1 stored split,
 * norm_out's scale/shift halves swapped). And they say which BFL weight, and which of its output
 * rows, a LoRWeB checkpoint key adapts. Pure name logic: no device, no copies. */
#pragma once

#include "weights.h"

enum wt_flux_layout {
    WT_FLUX_UNKNOWN = 0,
    WT_FLUX_BFL,       /* img_in.weight, double_blocks.N.… */
    WT_FLUX_COMFY,     /* model.diffusion_model.img_in.weight, … */
    WT_FLUX_DIFFUSERS, /* x_embedder.weight, transformer_blocks.N.… */
};

/* Which naming a file uses (by a few probe names); WT_FLUX_UNKNOWN when none fits. */
enum wt_flux_layout wt_flux_layout(const struct wt_file *file);
const char         *wt_flux_layout_name(enum wt_flux_layout layout); /* "BFL", "ComfyUI", … */

/* Finds BFL tensor `bfl_name` in `file`, whatever its layout, as the parts to concatenate
 * (weights.h). LW_ERR_MISSING naming the file and every name tried when absent; LW_ERR_SHAPE /
 * LW_ERR_DTYPE when split parts do not fit together. Its signature fits ld_loader.resolve. */
enum lw_status wt_flux_resolve(const struct wt_file *file, const char *bfl_name,
                               struct wt_parts *out, struct lw_error *err);

/* The diffusers names BFL tensor `bfl_name` is stored as (in concatenation order) and whether the
 * halves swap; returns how many (0: no diffusers counterpart). For converters and tests. */
#define WT_NAME_MAX 192
int wt_flux_diffusers_names(const char *bfl_name, char names[WT_MAX_PARTS][WT_NAME_MAX],
                            bool *swap_halves);

/* A LoRWeB checkpoint key `transformer.<diffusers module>.<part>` (spec-lorweb.md §1.3), parsed
 * and mapped onto the BFL weight whose output rows the module's delta adds to. */
struct wt_lorweb_target {
    char    module[WT_NAME_MAX]; /* diffusers module path, e.g. "transformer_blocks.3.attn.to_k" */
    char    part[32];         /* "lora_A", "lora_B", "lora_keys" or "att_lora_to_q" ("" if none) */
    char    bfl[WT_NAME_MAX]; /* e.g. "double_blocks.3.img_attn.qkv.weight" */
    int64_t row0, rows;       /* output rows of `bfl` adapted; rows −1 = through the last row */
};

/* `key` may be a whole checkpoint key (with or without a `.weight` suffix on its part) or a bare
 * module path. `hidden` is the transformer width (row offsets of q/k/v inside the fused weights).
 * LW_ERR_FORMAT naming the key when it is not a module LoRWeB adapts (only Linears inside
 * transformer_blocks / single_transformer_blocks are). */
enum lw_status wt_lorweb_target(const char *key, int64_t hidden, struct wt_lorweb_target *out,
                                struct lw_error *err);
