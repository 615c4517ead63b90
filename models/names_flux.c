/* The FLUX BFL ↔ diffusers name table and the LoRWeB key mapping (see names_flux.h). The table is
 * spec-flux-kontext.md §1.11 row by row; the LoRWeB targets are spec-lorweb.md §1.2 (diffusers
 * module → row slice of a fused BFL weight). BFL names are the engine's internal layout, so every
 * lookup starts from one. */
#include "names_flux.h"

#include <stdio.h>
#include <string.h>

#define COMFY_PREFIX "model.diffusion_model."

struct entry {
    const char *bfl; /* module path inside its scope */
    const char *parts[WT_MAX_PARTS];
    bool        swap;   /* scale/shift halves exchanged */
    bool        linear; /* a Linear (LoRWeB may adapt those inside blocks) */
};

/* Scope: outside blocks, double_blocks.N / transformer_blocks.N, single_blocks.N /
 * single_transformer_blocks.N. */
static const struct entry global[] = {
    {"img_in", {"x_embedder"}, false, true},
    {"txt_in", {"context_embedder"}, false, true},
    {"time_in.in_layer", {"time_text_embed.timestep_embedder.linear_1"}, false, true},
    {"time_in.out_layer", {"time_text_embed.timestep_embedder.linear_2"}, false, true},
    {"guidance_in.in_layer", {"time_text_embed.guidance_embedder.linear_1"}, false, true},
    {"guidance_in.out_layer", {"time_text_embed.guidance_embedder.linear_2"}, false, true},
    {"vector_in.in_layer", {"time_text_embed.text_embedder.linear_1"}, false, true},
    {"vector_in.out_layer", {"time_text_embed.text_embedder.linear_2"}, false, true},
    {"final_layer.linear", {"proj_out"}, false, true},
    {"final_layer.adaLN_modulation.1", {"norm_out.linear"}, true, true},
};

static const struct entry double_block[] = {
    {"img_mod.lin", {"norm1.linear"}, false, true},
    {"txt_mod.lin", {"norm1_context.linear"}, false, true},
    {"img_attn.qkv", {"attn.to_q", "attn.to_k", "attn.to_v"}, false, true},
    {"txt_attn.qkv", {"attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj"}, false, true},
    {"img_attn.norm.query_norm", {"attn.norm_q"}, false, false},
    {"img_attn.norm.key_norm", {"attn.norm_k"}, false, false},
    {"txt_attn.norm.query_norm", {"attn.norm_added_q"}, false, false},
    {"txt_attn.norm.key_norm", {"attn.norm_added_k"}, false, false},
    {"img_attn.proj", {"attn.to_out.0"}, false, true},
    {"txt_attn.proj", {"attn.to_add_out"}, false, true},
    {"img_mlp.0", {"ff.net.0.proj"}, false, true},
    {"img_mlp.2", {"ff.net.2"}, false, true},
    {"txt_mlp.0", {"ff_context.net.0.proj"}, false, true},
    {"txt_mlp.2", {"ff_context.net.2"}, false, true},
};

static const struct entry single_block[] = {
    {"modulation.lin", {"norm.linear"}, false, true},
    {"linear1", {"attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp"}, false, true},
    {"norm.query_norm", {"attn.norm_q"}, false, false},
    {"norm.key_norm", {"attn.norm_k"}, false, false},
    {"linear2", {"proj_out"}, false, true},
};

struct scope {
    const char         *bfl, *diffusers; /* "double_blocks", "transformer_blocks"; NULL: global */
    const struct entry *entries;
    size_t              count;
};

static const struct scope scopes[] = {
    {NULL, NULL, global, sizeof global / sizeof global[0]},
    {"double_blocks", "transformer_blocks", double_block,
     sizeof double_block / sizeof double_block[0]},
    {"single_blocks", "single_transformer_blocks", single_block,
     sizeof single_block / sizeof single_block[0]},
};

static int count_parts(const struct entry *e) {
    int n = 0;
    while (n < WT_MAX_PARTS && e->parts[n])
        n++;
    return n;
}

/* Splits "<scope>.<N>.<module>" (or a global "<module>") against a scope; returns the module part
 * and the block index, or NULL. */
static const char *scope_match(const struct scope *s, const char *name, bool bfl, int *block) {
    const char *prefix = bfl ? s->bfl : s->diffusers;
    if (!prefix) {
        for (size_t k = 1; k < sizeof scopes / sizeof scopes[0]; k++) {
            size_t n = strlen(bfl ? scopes[k].bfl : scopes[k].diffusers);
            if (!strncmp(name, bfl ? scopes[k].bfl : scopes[k].diffusers, n) && name[n] == '.')
                return NULL;
        }
        *block = -1;
        return name;
    }
    size_t n = strlen(prefix);
    if (strncmp(name, prefix, n) || name[n] != '.') return NULL;
    const char *p = name + n + 1;
    int         i = 0, digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 6)
        i = i * 10 + (*p++ - '0'), digits++;
    if (!digits || *p != '.' || (digits > 1 && p[-digits] == '0')) return NULL;
    *block = i;
    return p + 1;
}

/* Finds the entry for a BFL tensor name: splits off its leaf (weight, bias, scale). */
static const struct entry *bfl_entry(const char *bfl_name, const struct scope **scope, int *block,
                                     const char **leaf) {
    const char *dot = strrchr(bfl_name, '.');
    if (!dot) return NULL;
    *leaf = dot + 1;
    for (size_t k = 0; k < sizeof scopes / sizeof scopes[0]; k++) {
        const char *module = scope_match(&scopes[k], bfl_name, true, block);
        if (!module) continue;
        size_t len = (size_t)(dot - module);
        for (size_t e = 0; e < scopes[k].count; e++)
            if (strlen(scopes[k].entries[e].bfl) == len &&
                !strncmp(module, scopes[k].entries[e].bfl, len)) {
                *scope = &scopes[k];
                return &scopes[k].entries[e];
            }
    }
    return NULL;
}

int wt_flux_diffusers_names(const char *bfl_name, char names[WT_MAX_PARTS][WT_NAME_MAX],
                            bool *swap_halves) {
    const struct scope *s;
    int                 block;
    const char         *leaf;
    const struct entry *e = bfl_entry(bfl_name, &s, &block, &leaf);
    *swap_halves = false;
    if (!e) return 0;
    if (strcmp(leaf, e->linear ? "weight" : "scale") && (!e->linear || strcmp(leaf, "bias")))
        return 0;
    const char *dleaf = e->linear ? leaf : "weight"; /* RMSNorm scales are `.weight` in diffusers */
    int         n = count_parts(e);
    for (int k = 0; k < n; k++) {
        if (s->diffusers)
            snprintf(names[k], WT_NAME_MAX, "%s.%d.%s.%s", s->diffusers, block, e->parts[k], dleaf);
        else
            snprintf(names[k], WT_NAME_MAX, "%s.%s", e->parts[k], dleaf);
    }
    *swap_halves = e->swap;
    return n;
}

enum wt_flux_layout wt_flux_layout(const struct wt_file *f) {
    static const char *const probes[][3] = {
        {"img_in.weight", "double_blocks.0.img_attn.qkv.weight", "single_blocks.0.linear1.weight"},
        {COMFY_PREFIX "img_in.weight", COMFY_PREFIX "double_blocks.0.img_attn.qkv.weight",
         COMFY_PREFIX "single_blocks.0.linear1.weight"},
        {"x_embedder.weight", "transformer_blocks.0.attn.to_q.weight",
         "single_transformer_blocks.0.attn.to_q.weight"},
    };
    static const enum wt_flux_layout layouts[] = {WT_FLUX_BFL, WT_FLUX_COMFY, WT_FLUX_DIFFUSERS};
    for (int l = 0; l < 3; l++)
        for (int p = 0; p < 3; p++)
            if (wt_find(f, probes[l][p])) return layouts[l];
    return WT_FLUX_UNKNOWN;
}

const char *wt_flux_layout_name(enum wt_flux_layout layout) {
    switch (layout) {
    case WT_FLUX_BFL:
        return "BFL";
    case WT_FLUX_COMFY:
        return "ComfyUI";
    case WT_FLUX_DIFFUSERS:
        return "diffusers";
    default:
        return "unknown";
    }
}

static bool try_single(const struct wt_file *f, const char *name, struct wt_parts *out) {
    const struct wt_tensor *t = wt_find(f, name);
    if (!t) return false;
    *out = (struct wt_parts){.count = 1, .part = {t}};
    return true;
}

enum lw_status wt_flux_resolve(const struct wt_file *f, const char *bfl_name, struct wt_parts *out,
                               struct lw_error *err) {
    enum wt_flux_layout layout = wt_flux_layout(f);
    char                comfy[WT_NAME_MAX + 32], names[WT_MAX_PARTS][WT_NAME_MAX];
    bool                swap = false;
    int                 n = wt_flux_diffusers_names(bfl_name, names, &swap);
    snprintf(comfy, sizeof comfy, COMFY_PREFIX "%s", bfl_name);
    *out = (struct wt_parts){0};
    /* The detected layout only; a file of unknown layout is tried in each. */
    enum wt_flux_layout order[3] = {layout};
    int                 tries = 1;
    if (layout == WT_FLUX_UNKNOWN)
        order[0] = WT_FLUX_BFL, order[1] = WT_FLUX_COMFY, order[2] = WT_FLUX_DIFFUSERS, tries = 3;
    for (int i = 0; i < tries && out->count == 0; i++) {
        if (order[i] == WT_FLUX_BFL) try_single(f, bfl_name, out);
        if (order[i] == WT_FLUX_COMFY) try_single(f, comfy, out);
        if (order[i] != WT_FLUX_DIFFUSERS || n == 0) continue;
        int found = 0;
        for (int k = 0; k < n; k++)
            found += (out->part[k] = wt_find(f, names[k])) != NULL;
        for (int k = 0; k < n && found && found < n; k++)
            if (!out->part[k])
                return lw_error_set(err, LW_ERR_MISSING,
                                    "%s: tensor %s (part %d of BFL %s) is missing",
                                    wt_file_path(f, 0), names[k], k + 1, bfl_name);
        if (found == n)
            out->count = n, out->swap_halves = swap;
        else
            *out = (struct wt_parts){0};
    }
    if (out->count == 0) {
        const char *file = wt_file_path(f, 0) ? wt_file_path(f, 0) : "?";
        if (layout == WT_FLUX_DIFFUSERS)
            return lw_error_set(err, LW_ERR_MISSING,
                                "%s: tensor %s is missing (diffusers name %s%s)", file, bfl_name,
                                n ? names[0] : "(none)", n > 1 ? " and its siblings" : "");
        return lw_error_set(err, LW_ERR_MISSING, "%s: tensor %s is missing (%s naming)", file,
                            layout == WT_FLUX_COMFY ? comfy : bfl_name,
                            wt_flux_layout_name(layout));
    }
    return wt_parts_finish(out, err);
}

enum lw_status wt_lorweb_target(const char *key, int64_t hidden, struct wt_lorweb_target *out,
                                struct lw_error *err) {
    static const char *const suffixes[] = {".lora_A", ".lora_B", ".lora_keys", ".att_lora_to_q"};
    char                     module[WT_NAME_MAX];
    *out = (struct wt_lorweb_target){0};
    const char *m = !strncmp(key, "transformer.", 12) ? key + 12 : key;
    snprintf(module, sizeof module, "%s", m);
    size_t len = strlen(module);
    if (len > 7 && !strcmp(module + len - 7, ".weight")) module[len -= 7] = 0;
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        size_t n = strlen(suffixes[i]);
        if (len > n && !strcmp(module + len - n, suffixes[i])) {
            snprintf(out->part, sizeof out->part, "%s", suffixes[i] + 1);
            module[len - n] = 0;
            break;
        }
    }
    snprintf(out->module, sizeof out->module, "%s", module);
    for (size_t k = 1; k < sizeof scopes / sizeof scopes[0]; k++) {
        int         block;
        const char *rest = scope_match(&scopes[k], module, false, &block);
        if (!rest) continue;
        for (size_t e = 0; e < scopes[k].count; e++) {
            const struct entry *en = &scopes[k].entries[e];
            int                 n = count_parts(en);
            for (int p = 0; p < n && en->linear; p++) {
                if (strcmp(rest, en->parts[p])) continue;
                snprintf(out->bfl, sizeof out->bfl, "%s.%d.%s.weight", scopes[k].bfl, block,
                         en->bfl);
                out->row0 = n > 1 ? p * hidden : 0;
                out->rows = n == 1 || (n == 4 && p == 3) ? -1 : hidden;
                return LW_OK;
            }
        }
    }
    return lw_error_set(err, LW_ERR_FORMAT,
                        "LoRWeB key %s: %s is not a Linear inside the transformer "
                        "blocks (the modules LoRWeB adapts)",
                        key, module);
}
