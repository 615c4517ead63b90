/* FLUX on random tiny models of shapes unlike the fixtures' (width, heads, axes split, depths, token
 * grids, text length, guidance off), checked against a plain-C forward written here from the spec
 * (spec-flux-kontext.md §1–2) on top of tests/ref.c, and the sampler against the forward: one Euler
 * step from t = 1 to 0 must equal noise − v(noise, 1). Also: streamed blocks (forced, and from a
 * memory budget) give the resident result bit for bit; the activation plan matches what a run
 * allocates and stays under 2 GB for the real model at 8,704 tokens; a LoRWeB basis of another
 * size (F16, several side paths on one fused Linear, modulation Linears included) equals the CPU
 * forward with the deltas merged into the weights (spec-lorweb.md §1.1–1.2). Runs without ../shared. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flux.h"
#include "harness.h"
#include "ref.h"
#include "weights.h"

struct shape {
    int d, heads, axes[3], depth, single, vec, ctx, t, gh, gw, ch, cw;
    bool guidance;
};

/* A model file of random weights (f32) with its metadata; tensors kept for the CPU forward. */
struct model {
    struct shape      s;
    struct wt_tensor  t[512];
    float            *data[512];
    char              names[512][96];
    int               count;
};

static struct th_rng rng;

static float *find(struct model *m, const char *name) {
    for (int i = 0; i < m->count; i++)
        if (!strcmp(m->names[i], name)) return m->data[i];
    return NULL;
}

static void add(struct model *m, const char *name, int rows, int cols, float scale) {
    int    i = m->count++;
    size_t n = (size_t)rows * (cols ? cols : 1);
    snprintf(m->names[i], sizeof m->names[i], "%s", name);
    m->data[i] = malloc(n * sizeof(float));
    th_fill_normal(&rng, m->data[i], n, scale);
    m->t[i] = (struct wt_tensor){.name = m->names[i], .dtype = LW_DTYPE_F32, .ndim = cols ? 2 : 1,
                                 .shape = {rows, cols}, .data = m->data[i], .bytes = n * 4};
}

static const float *get(const struct model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const float *get(const struct model *m, const char *fmt, ...) {
    char    name[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    for (int i = 0; i < m->count; i++)
        if (!strcmp(m->names[i], name)) return m->data[i];
    fprintf(stderr, "no tensor %s\n", name);
    abort();
}

static void linear_w(struct model *m, const char *name, int out, int in) {
    char n[96];
    snprintf(n, sizeof n, "%s.weight", name);
    add(m, n, out, in, 1.0f / sqrtf((float)in));
    snprintf(n, sizeof n, "%s.bias", name);
    add(m, n, out, 0, 0.1f);
}

static void build(struct model *m) {
    const struct shape *s = &m->s;
    int                 d = s->d, f = 4 * d, hd = d / s->heads;
    char                p[64], n[128];
    linear_w(m, "img_in", d, 64);
    linear_w(m, "txt_in", d, s->ctx);
    linear_w(m, "time_in.in_layer", d, 256);
    linear_w(m, "time_in.out_layer", d, d);
    if (s->guidance) linear_w(m, "guidance_in.in_layer", d, 256), linear_w(m, "guidance_in.out_layer", d, d);
    linear_w(m, "vector_in.in_layer", d, s->vec);
    linear_w(m, "vector_in.out_layer", d, d);
    for (int i = 0; i < s->depth; i++) {
        const char *streams[] = {"img", "txt"};
        for (int k = 0; k < 2; k++) {
#define L(suffix, o, in_)                                                                          \
    snprintf(n, sizeof n, "double_blocks.%d.%s_" suffix, i, streams[k]);                           \
    linear_w(m, n, o, in_)
            L("mod.lin", 6 * d, d);
            L("attn.qkv", 3 * d, d);
            L("attn.proj", d, d);
            L("mlp.0", f, d);
            L("mlp.2", d, f);
#undef L
            snprintf(n, sizeof n, "double_blocks.%d.%s_attn.norm.query_norm.scale", i, streams[k]);
            add(m, n, hd, 0, 0.5f);
            snprintf(n, sizeof n, "double_blocks.%d.%s_attn.norm.key_norm.scale", i, streams[k]);
            add(m, n, hd, 0, 0.5f);
        }
    }
    for (int i = 0; i < s->single; i++) {
        snprintf(p, sizeof p, "single_blocks.%d", i);
        snprintf(n, sizeof n, "%s.modulation.lin", p), linear_w(m, n, 3 * d, d);
        snprintf(n, sizeof n, "%s.linear1", p), linear_w(m, n, 3 * d + f, d);
        snprintf(n, sizeof n, "%s.linear2", p), linear_w(m, n, d, d + f);
        snprintf(n, sizeof n, "%s.norm.query_norm.scale", p), add(m, n, hd, 0, 0.5f);
        snprintf(n, sizeof n, "%s.norm.key_norm.scale", p), add(m, n, hd, 0, 0.5f);
    }
    linear_w(m, "final_layer.adaLN_modulation.1", 2 * d, d);
    linear_w(m, "final_layer.linear", 64, d);
}

/* ---------------------------------------------------------------------------------------------- */
/* The CPU forward (BFL semantics, written from the spec)                                           */

static void lin(const struct model *m, const char *name, const float *x, float *y, int rows, int out, int in, int act) {
    ref_matmul(x, get(m, "%s.weight", name), get(m, "%s.bias", name), NULL, y, rows, out, in, act, 0);
}

static void embed(float s, float *out) {
    float a = 1000.0f * s;
    for (int k = 0; k < 128; k++) {
        float fr = expf(-logf(10000.0f) * (float)k / 128.0f);
        out[k] = cosf(a * fr), out[128 + k] = sinf(a * fr);
    }
}

static void cpu_forward(const struct model *m, const float *txt, const float *y, const float *img, const float *ctx,
                        float t, float g, float *velocity) {
    const struct shape *s = &m->s;
    int d = s->d, f = 4 * d, h = s->heads, hd = d / h, T = s->t, N = s->gh * s->gw, C = s->ch * s->cw, L = T + N + C;
    float *vec = calloc(d, 4), *tmp = calloc(d, 4), *e = calloc(256, 4), *sv = calloc(d, 4);
    embed(t, e);
    lin(m, "time_in.in_layer", e, tmp, 1, d, 256, 4), lin(m, "time_in.out_layer", tmp, vec, 1, d, d, 0);
    float *add_v = calloc(d, 4);
    if (s->guidance) {
        embed(g, e);
        lin(m, "guidance_in.in_layer", e, tmp, 1, d, 256, 4), lin(m, "guidance_in.out_layer", tmp, add_v, 1, d, d, 0);
        for (int i = 0; i < d; i++) vec[i] += add_v[i];
    }
    lin(m, "vector_in.in_layer", y, tmp, 1, d, s->vec, 4), lin(m, "vector_in.out_layer", tmp, add_v, 1, d, d, 0);
    for (int i = 0; i < d; i++) vec[i] += add_v[i], sv[i] = (float)ref_act(vec[i], 4);
    /* sequence x = [txt; img; ctx] and ids */
    float *x = calloc((size_t)L * d, 4), *tokens = calloc((size_t)(N + C) * 64, 4), *ids = calloc((size_t)L * 3, 4);
    memcpy(tokens, img, (size_t)N * 64 * 4), memcpy(tokens + N * 64, ctx, (size_t)C * 64 * 4);
    lin(m, "txt_in", txt, x, T, d, s->ctx, 0);
    lin(m, "img_in", tokens, x + T * d, N + C, d, 64, 0);
    for (int i = 0; i < N; i++) ids[(T + i) * 3 + 1] = (float)(i / s->gw), ids[(T + i) * 3 + 2] = (float)(i % s->gw);
    for (int i = 0; i < C; i++)
        ids[(T + N + i) * 3] = 1, ids[(T + N + i) * 3 + 1] = (float)(i / s->cw), ids[(T + N + i) * 3 + 2] = (float)(i % s->cw);
    float *rope = calloc((size_t)L * hd * 2, 4);
    for (int tk = 0; tk < L; tk++) {
        int pi = 0;
        for (int ax = 0; ax < 3; ax++)
            for (int k = 0; k < s->axes[ax] / 2; k++, pi++) {
                double w = 1.0 / pow(10000.0, 2.0 * k / s->axes[ax]), phi = ids[tk * 3 + ax] * w;
                float *r = rope + ((size_t)tk * (hd / 2) + pi) * 4;
                r[0] = (float)cos(phi), r[1] = (float)-sin(phi), r[2] = (float)sin(phi), r[3] = (float)cos(phi);
            }
    }
    float *mod = calloc(6 * d, 4), *a = calloc((size_t)L * d, 4), *qkv = calloc((size_t)L * 3 * d, 4);
    float *q = calloc((size_t)L * d, 4), *k = calloc((size_t)L * d, 4), *v = calloc((size_t)L * d, 4), *att = calloc((size_t)L * d, 4);
    float *hid = calloc((size_t)L * f, 4), *o = calloc((size_t)L * d, 4), *cat = calloc((size_t)L * (d + f), 4);
    char   p[64];
    for (int blk = 0; blk < s->depth; blk++) {
        int rows[2] = {N + C, T}, start[2] = {T, 0};
        const char *streams[] = {"img", "txt"};
        float *mods[2] = {calloc(6 * d, 4), calloc(6 * d, 4)};
        for (int k2 = 0; k2 < 2; k2++) {
            snprintf(p, sizeof p, "double_blocks.%d.%s_mod.lin", blk, streams[k2]);
            lin(m, p, sv, mods[k2], 1, 6 * d, d, 0);
            float *xs = x + start[k2] * d, *as = a + start[k2] * d;
            ref_norm(xs, NULL, NULL, mods[k2], mods[k2] + d, as, rows[k2], d, 1e-6f, false);
            snprintf(p, sizeof p, "double_blocks.%d.%s_attn.qkv", blk, streams[k2]);
            lin(m, p, as, qkv + start[k2] * 3 * d, rows[k2], 3 * d, d, 0);
            for (int r = start[k2]; r < start[k2] + rows[k2]; r++) {
                memcpy(q + r * d, qkv + r * 3 * d, d * 4), memcpy(k + r * d, qkv + r * 3 * d + d, d * 4);
                memcpy(v + r * d, qkv + r * 3 * d + 2 * d, d * 4);
            }
            ref_qk_norm_rope(q + start[k2] * d, get(m, "double_blocks.%d.%s_attn.norm.query_norm.scale", blk, streams[k2]),
                             rope + (size_t)start[k2] * hd * 2, rows[k2], h, hd, 1e-6f);
            ref_qk_norm_rope(k + start[k2] * d, get(m, "double_blocks.%d.%s_attn.norm.key_norm.scale", blk, streams[k2]),
                             rope + (size_t)start[k2] * hd * 2, rows[k2], h, hd, 1e-6f);
        }
        ref_attention(q, k, v, NULL, att, L, L, h, hd, 1.0f / sqrtf((float)hd), false);
        for (int k2 = 0; k2 < 2; k2++) {
            float *xs = x + start[k2] * d, *as = a + start[k2] * d, *md = mods[k2];
            snprintf(p, sizeof p, "double_blocks.%d.%s_attn.proj", blk, streams[k2]);
            ref_matmul(att + start[k2] * d, get(m, "%s.weight", p), get(m, "%s.bias", p), md + 2 * d, xs, rows[k2], d, d, 0, 1);
            ref_norm(xs, NULL, NULL, md + 3 * d, md + 4 * d, as, rows[k2], d, 1e-6f, false);
            snprintf(p, sizeof p, "double_blocks.%d.%s_mlp.0", blk, streams[k2]);
            lin(m, p, as, hid, rows[k2], f, d, 1);
            snprintf(p, sizeof p, "double_blocks.%d.%s_mlp.2", blk, streams[k2]);
            ref_matmul(hid, get(m, "%s.weight", p), get(m, "%s.bias", p), md + 5 * d, xs, rows[k2], d, f, 0, 1);
        }
        free(mods[0]), free(mods[1]);
    }
    for (int blk = 0; blk < s->single; blk++) {
        snprintf(p, sizeof p, "single_blocks.%d", blk);
        char n[128];
        snprintf(n, sizeof n, "%s.modulation.lin", p), lin(m, n, sv, mod, 1, 3 * d, d, 0);
        ref_norm(x, NULL, NULL, mod, mod + d, a, L, d, 1e-6f, false);
        float *h1 = calloc((size_t)L * (3 * d + f), 4);
        snprintf(n, sizeof n, "%s.linear1", p), lin(m, n, a, h1, L, 3 * d + f, d, 0);
        for (int r = 0; r < L; r++) {
            memcpy(q + r * d, h1 + r * (3 * d + f), d * 4), memcpy(k + r * d, h1 + r * (3 * d + f) + d, d * 4);
            memcpy(v + r * d, h1 + r * (3 * d + f) + 2 * d, d * 4);
        }
        ref_qk_norm_rope(q, get(m, "%s.norm.query_norm.scale", p), rope, L, h, hd, 1e-6f);
        ref_qk_norm_rope(k, get(m, "%s.norm.key_norm.scale", p), rope, L, h, hd, 1e-6f);
        ref_attention(q, k, v, NULL, att, L, L, h, hd, 1.0f / sqrtf((float)hd), false);
        for (int r = 0; r < L; r++) {
            memcpy(cat + r * (d + f), att + r * d, d * 4);
            for (int c = 0; c < f; c++) cat[r * (d + f) + d + c] = (float)ref_act(h1[r * (3 * d + f) + 3 * d + c], 1);
        }
        snprintf(n, sizeof n, "%s.linear2", p);
        ref_matmul(cat, get(m, "%s.weight", n), get(m, "%s.bias", n), mod + 2 * d, x, L, d, d + f, 0, 1);
        free(h1);
    }
    lin(m, "final_layer.adaLN_modulation.1", sv, mod, 1, 2 * d, d, 0);
    ref_norm(x + T * d, NULL, NULL, mod, mod + d, a, N, d, 1e-6f, false);
    lin(m, "final_layer.linear", a, velocity, N, 64, d, 0);
    free(vec), free(tmp), free(e), free(sv), free(add_v), free(x), free(tokens), free(ids), free(rope), free(mod);
    free(a), free(qkv), free(q), free(k), free(v), free(att), free(hid), free(o), free(cat);
}

/* The model in diffusers naming (spec §1.11, written here from its table): fused q/k/v and linear1
 * split by rows, norm_out's halves swapped; or in ComfyUI's (every name prefixed). */
static void write_layout(const struct model *m, const char *path, bool diffusers, const char *const *meta) {
    static const char *const map[][2] = {
        {"img_in", "x_embedder"}, {"txt_in", "context_embedder"},
        {"time_in.in_layer", "time_text_embed.timestep_embedder.linear_1"},
        {"time_in.out_layer", "time_text_embed.timestep_embedder.linear_2"},
        {"guidance_in.in_layer", "time_text_embed.guidance_embedder.linear_1"},
        {"guidance_in.out_layer", "time_text_embed.guidance_embedder.linear_2"},
        {"vector_in.in_layer", "time_text_embed.text_embedder.linear_1"},
        {"vector_in.out_layer", "time_text_embed.text_embedder.linear_2"}, {"final_layer.linear", "proj_out"},
        {"img_mod.lin", "norm1.linear"}, {"txt_mod.lin", "norm1_context.linear"}, {"img_attn.proj", "attn.to_out.0"},
        {"txt_attn.proj", "attn.to_add_out"}, {"img_mlp.0", "ff.net.0.proj"}, {"img_mlp.2", "ff.net.2"},
        {"txt_mlp.0", "ff_context.net.0.proj"}, {"txt_mlp.2", "ff_context.net.2"},
        {"img_attn.norm.query_norm.scale", "attn.norm_q.weight"}, {"img_attn.norm.key_norm.scale", "attn.norm_k.weight"},
        {"txt_attn.norm.query_norm.scale", "attn.norm_added_q.weight"},
        {"txt_attn.norm.key_norm.scale", "attn.norm_added_k.weight"}, {"modulation.lin", "norm.linear"},
        {"linear2", "proj_out"}, {"norm.query_norm.scale", "attn.norm_q.weight"},
        {"norm.key_norm.scale", "attn.norm_k.weight"},
    };
    struct wt_tensor *t = calloc(1024, sizeof *t);
    char (*names)[128] = calloc(1024, 128);
    int               n = 0, d = m->s.d;
    for (int i = 0; i < m->count; i++) {
        const char *name = m->names[i];
        const struct wt_tensor *src = &m->t[i];
        if (!diffusers) {
            snprintf(names[n], 128, "model.diffusion_model.%s", name);
            t[n] = *src, t[n].name = names[n], n++;
            continue;
        }
        int  block = -1, at = 0;
        char prefix[64] = "", rest[96];
        if (sscanf(name, "double_blocks.%d.%n", &block, &at) == 1) snprintf(prefix, sizeof prefix, "transformer_blocks.%d.", block);
        else if (sscanf(name, "single_blocks.%d.%n", &block, &at) == 1)
            snprintf(prefix, sizeof prefix, "single_transformer_blocks.%d.", block);
        snprintf(rest, sizeof rest, "%s", name + at);
        const char *suffix = strrchr(rest, '.'); /* .weight / .bias (or .scale) */
        size_t      stem = (size_t)(suffix - rest);
        bool        is_bias = !strcmp(suffix, ".bias");
        int64_t     cols = is_bias ? 1 : src->shape[1];
        const char *split3[3] = {0}, *split4[4] = {0};
        if (!strncmp(rest, "img_attn.qkv.", 13)) split3[0] = "attn.to_q", split3[1] = "attn.to_k", split3[2] = "attn.to_v";
        if (!strncmp(rest, "txt_attn.qkv.", 13))
            split3[0] = "attn.add_q_proj", split3[1] = "attn.add_k_proj", split3[2] = "attn.add_v_proj";
        if (!strncmp(rest, "linear1.", 8))
            split4[0] = "attn.to_q", split4[1] = "attn.to_k", split4[2] = "attn.to_v", split4[3] = "proj_mlp";
        if (split3[0] || split4[0]) {
            int parts = split3[0] ? 3 : 4;
            for (int k = 0; k < parts; k++) {
                int64_t rows = k < 3 ? d : src->shape[0] - 3 * d;
                snprintf(names[n], 128, "%s%s%s", prefix, split3[0] ? split3[k] : split4[k], suffix);
                t[n] = *src, t[n].name = names[n], t[n].shape[0] = rows;
                t[n].data = (const float *)src->data + (int64_t)k * d * cols, t[n].bytes = (uint64_t)(rows * cols) * 4;
                n++;
            }
            continue;
        }
        if (!strncmp(name, "final_layer.adaLN_modulation.1.", 31)) { /* diffusers: scale, then shift */
            float *swapped = malloc(src->bytes);
            memcpy(swapped, (const float *)src->data + d * cols, (size_t)(d * cols) * 4);
            memcpy(swapped + d * cols, src->data, (size_t)(d * cols) * 4);
            snprintf(names[n], 128, "norm_out.linear%s", suffix);
            t[n] = *src, t[n].name = names[n], t[n].data = swapped, n++;
            continue;
        }
        bool found = false;
        for (size_t k = 0; k < sizeof map / sizeof map[0] && !found; k++) {
            size_t len = strlen(map[k][0]);
            if (!strcmp(rest, map[k][0])) snprintf(names[n], 128, "%s%s", prefix, map[k][1]), found = true;
            else if (!strncmp(rest, map[k][0], len) && len == stem)
                snprintf(names[n], 128, "%s%s%s", prefix, map[k][1], suffix), found = true;
        }
        if (!found) fprintf(stderr, "no diffusers name for %s\n", name), abort();
        t[n] = *src, t[n].name = names[n], n++;
    }
    struct lw_error err = {0};
    th_check(wt_write_safetensors(path, t, (size_t)n, meta, &err) == LW_OK, "write %s: %s", path, err.message);
    for (int i = 0; i < n; i++)
        if (!strncmp(t[i].name, "norm_out.linear", 15)) free((void *)t[i].data);
    free(t), free(names);
}

/* A LoRWeB basis of N elements of rank r on a few modules (diffusers naming), written as F16; the
 * CPU reference merges strength · Σ_n c_n (A_n·B_n)ᵀ into the target rows of the BFL weights. */
static void lorweb_check(struct cmp_device *dev, struct flux_model *fm, struct model *m,
                         const struct flux_inputs *in, const float *txt, const float *y, const float *img,
                         const float *ctx, const float *base) {
    const struct shape *s = &m->s;
    int                 d = s->d, f = 4 * d, nb = 3, rank = 2, kd = 4, qd = 6;
    const float         strength = 0.8f;
    struct {
        const char *module, *target;
        int         block, in, out, row0;
    } mods[] = {
        {"transformer_blocks.%d.norm1.linear", "double_blocks.%d.img_mod.lin", 0, d, 6 * d, 0},
        {"transformer_blocks.%d.attn.to_q", "double_blocks.%d.img_attn.qkv", 0, d, d, 0},
        {"transformer_blocks.%d.attn.to_v", "double_blocks.%d.img_attn.qkv", 0, d, d, 2 * d},
        {"transformer_blocks.%d.attn.add_k_proj", "double_blocks.%d.txt_attn.qkv", s->depth - 1, d, d, d},
        {"transformer_blocks.%d.ff_context.net.2", "double_blocks.%d.txt_mlp.2", s->depth - 1, f, d, 0},
        {"single_transformer_blocks.%d.norm.linear", "single_blocks.%d.modulation.lin", 0, d, 3 * d, 0},
        {"single_transformer_blocks.%d.attn.to_k", "single_blocks.%d.linear1", 0, d, d, d},
        {"single_transformer_blocks.%d.proj_mlp", "single_blocks.%d.linear1", s->single - 1, d, f, 3 * d},
        {"single_transformer_blocks.%d.proj_out", "single_blocks.%d.linear2", s->single - 1, d + f, d, 0},
    };
    int              count = (int)(sizeof mods / sizeof mods[0]);
    struct wt_tensor t[4 * 9];
    uint16_t        *h[4 * 9];
    char             names[4 * 9][128];
    float           *a[9], *b[9], coeffs[9][3];
    for (int i = 0; i < count; i++) {
        char module[96];
        snprintf(module, sizeof module, mods[i].module, mods[i].block);
        const int64_t shapes[4][3] = {{nb, mods[i].in, rank}, {nb, rank, mods[i].out}, {nb, kd, 0}, {kd, qd, 0}};
        const char   *what[4] = {"lora_A", "lora_B", "lora_keys", "att_lora_to_q.weight"};
        for (int k = 0; k < 4; k++) {
            int      j = 4 * i + k;
            size_t   n = (size_t)shapes[k][0] * shapes[k][1] * (shapes[k][2] ? shapes[k][2] : 1);
            float   *v = malloc(n * 4);
            th_fill_normal(&rng, v, n, k == 1 ? 0.3f : 0.5f);
            h[j] = malloc(n * 2);
            for (size_t e = 0; e < n; e++) h[j][e] = th_f32_to_f16(v[e]), v[e] = th_f16_to_f32(h[j][e]);
            snprintf(names[j], sizeof names[j], "transformer.%s.%s", module, what[k]);
            t[j] = (struct wt_tensor){.name = names[j], .dtype = LW_DTYPE_F16, .ndim = shapes[k][2] ? 3 : 2,
                                      .shape = {shapes[k][0], shapes[k][1], shapes[k][2]}, .data = h[j], .bytes = n * 2};
            if (k == 0) a[i] = v;
            else if (k == 1) b[i] = v;
            else free(v);
        }
        th_fill_uniform(&rng, coeffs[i], nb, 0.0f, 1.0f);
    }
    char path[] = "/tmp/lorweb-basis-XXXXXX";
    int  fd = mkstemp(path);
    if (fd >= 0) close(fd);
    struct lw_error err = {0};
    wt_write_safetensors(path, t, (size_t)(4 * count), NULL, &err);
    int    n = in->grid_h * in->grid_w;
    float *got = malloc((size_t)n * 64 * 4), *want = malloc((size_t)n * 64 * 4);
    th_poison(got, (size_t)n * 64);
    if (th_check(flux_lorweb_attach(fm, path, &err) == LW_OK, "attach basis: %s", err.message) &&
        th_check(flux_lorweb_modules(fm) == count && flux_lorweb_basis(fm) == nb, "%d modules of %d",
                 flux_lorweb_modules(fm), flux_lorweb_basis(fm))) {
        for (int i = 0; i < count; i++) {
            char module[96];
            snprintf(module, sizeof module, mods[i].module, mods[i].block);
            for (int k = 0; k < count; k++) /* attach order is the file's, not ours */
                if (!strcmp(flux_lorweb_module_name(fm, k), module)) flux_lorweb_set(fm, k, coeffs[i], strength, &err);
        }
        th_check(flux_forward(fm, in, img, 0.6f, got, &err) == LW_OK, "forward with basis: %s", err.message);
        for (int i = 0; i < count; i++) { /* W[row0 + o][x] += strength Σ_n c_n Σ_j A[n][x][j] B[n][j][o] */
            char target[96];
            snprintf(target, sizeof target, mods[i].target, mods[i].block);
            strcat(target, ".weight");
            float *w = find(m, target);
            int    cols = mods[i].in;
            for (int o = 0; o < mods[i].out; o++)
                for (int x = 0; x < cols; x++) {
                    double acc = 0;
                    for (int k = 0; k < nb; k++)
                        for (int j = 0; j < rank; j++)
                            acc += coeffs[i][k] * a[i][(k * cols + x) * rank + j] * b[i][(k * rank + j) * mods[i].out + o];
                    w[(size_t)(mods[i].row0 + o) * cols + x] += (float)(strength * acc);
                }
        }
        cpu_forward(m, txt, y, img, ctx, 0.6f, 3.0f, want);
        double e = th_rel_l2(got, want, (size_t)n * 64), moved = th_rel_l2(base, want, (size_t)n * 64);
        printf("  LoRWeB basis %d x rank %d on %d modules: rel L2 %.2e (the basis moves the output by %.2e)\n", nb,
               rank, count, e, moved);
        th_check(e < 1e-4 && moved > 1e-2, "forward with basis vs merged CPU forward: %.2e (moved %.2e)", e, moved);
    }
    unlink(path);
    for (int i = 0; i < 4 * count; i++) free(h[i]);
    for (int i = 0; i < count; i++) free(a[i]), free(b[i]);
    free(got), free(want);
}

static void run_shape(struct cmp_device *dev, struct shape sh) {
    struct model *m = calloc(1, sizeof *m);
    m->s = sh;
    build(m);
    char path[] = "/tmp/lorweb-flux-XXXXXX";
    int  fd = mkstemp(path);
    if (fd >= 0) close(fd);
    char hidden[16], heads[16], axes[48], depth[16], single[16], vec[16], ctx[16];
    snprintf(hidden, sizeof hidden, "%d", sh.d), snprintf(heads, sizeof heads, "%d", sh.heads);
    snprintf(axes, sizeof axes, "[%d, %d, %d]", sh.axes[0], sh.axes[1], sh.axes[2]);
    snprintf(depth, sizeof depth, "%d", sh.depth), snprintf(single, sizeof single, "%d", sh.single);
    snprintf(vec, sizeof vec, "%d", sh.vec), snprintf(ctx, sizeof ctx, "%d", sh.ctx);
    const char     *meta[] = {"flux.hidden_size", hidden, "flux.num_heads", heads, "flux.axes_dim", axes,
                              "flux.depth", depth, "flux.depth_single_blocks", single, "flux.vec_in_dim", vec,
                              "flux.context_in_dim", ctx, "flux.guidance_embed", sh.guidance ? "true" : "false", NULL};
    struct lw_error err = {0};
    wt_write_safetensors(path, m->t, (size_t)m->count, meta, &err);
    struct flux_model *fm = NULL;
    if (!th_check(flux_load(dev, path, &fm, &err) == LW_OK, "load random model: %s", err.message)) goto done;
    int    N = sh.gh * sh.gw, C = sh.ch * sh.cw;
    float *txt = malloc((size_t)sh.t * sh.ctx * 4), *y = malloc((size_t)sh.vec * 4), *img = malloc((size_t)N * 64 * 4);
    float *ctxt = malloc((size_t)(C ? C : 1) * 64 * 4), *got = malloc((size_t)N * 64 * 4), *want = malloc((size_t)N * 64 * 4);
    th_fill_normal(&rng, txt, (size_t)sh.t * sh.ctx, 1), th_fill_normal(&rng, y, sh.vec, 1);
    th_fill_normal(&rng, img, (size_t)N * 64, 1), th_fill_normal(&rng, ctxt, (size_t)(C ? C : 1) * 64, 1);
    struct flux_inputs in = {.txt = txt, .t_tokens = sh.t, .y = y, .grid_h = sh.gh, .grid_w = sh.gw,
                             .context = C ? ctxt : NULL, .ctx_grid_h = sh.ch, .ctx_grid_w = sh.cw, .guidance = 3.0f};
    th_poison(got, (size_t)N * 64);
    th_check(flux_forward(fm, &in, img, 0.6f, got, &err) == LW_OK, "forward: %s", err.message);
    cpu_forward(m, txt, y, img, ctxt, 0.6f, 3.0f, want);
    double e = th_rel_l2(got, want, (size_t)N * 64);
    printf("width %d, %d heads, axes %d/%d/%d, %d+%d blocks, %d text + %dx%d noise + %dx%d context tokens: "
           "rel L2 %.2e\n", sh.d, sh.heads, sh.axes[0], sh.axes[1], sh.axes[2], sh.depth, sh.single, sh.t, sh.gh,
           sh.gw, sh.ch, sh.cw, e);
    th_check(e < 1e-4, "engine vs CPU forward: rel L2 %.2e", e);
    /* one Euler step from 1 to 0 is noise − v(noise, 1) */
    float sig[2] = {1.0f, 0.0f}, *latent = malloc((size_t)N * 64 * 4), *v1 = malloc((size_t)N * 64 * 4);
    th_check(flux_sample(fm, &in, img, sig, 1, NULL, NULL, latent, &err) == LW_OK, "sample: %s", err.message);
    flux_forward(fm, &in, img, 1.0f, v1, &err);
    for (int i = 0; i < N * 64; i++) v1[i] = img[i] - v1[i];
    th_check(th_max_abs_diff(latent, v1, (size_t)N * 64) < 1e-4, "one Euler step = noise − velocity (%g)",
             th_max_abs_diff(latent, v1, (size_t)N * 64));
    /* streamed blocks: all of them, then from a budget that keeps some resident */
    struct flux_memory mem;
    flux_memory_get(fm, &mem);
    th_check(mem.activations == flux_activation_bytes(flux_config(fm), sh.t, N, C, 0),
             "activations %llu B = plan %llu B", (unsigned long long)mem.activations,
             (unsigned long long)flux_activation_bytes(flux_config(fm), sh.t, N, C, 0));
    th_check(mem.conditioning > 0 && mem.streamed_blocks == 0, "modulation weights staged, nothing streamed");
    int   blocks = sh.depth + sh.single;
    float sig3[4] = {1.0f, 0.7f, 0.3f, 0.0f}, *lat3 = malloc((size_t)N * 64 * 4), *slat = malloc((size_t)N * 64 * 4);
    th_check(flux_sample(fm, &in, img, sig3, 3, NULL, NULL, lat3, &err) == LW_OK, "sample: %s", err.message);
    struct flux_load_options plans[] = {{.stream_blocks = blocks}, {.activation_bytes = 1}};
    for (int k = 0; k < 2; k++) {
        struct flux_model *sm = NULL;
        struct flux_memory smem = {0};
        float             *v = malloc((size_t)N * 64 * 4);
        th_poison(v, (size_t)N * 64);
        if (th_check(flux_load_with(dev, path, &plans[k], &sm, &err) == LW_OK, "streamed load: %s", err.message)) {
            flux_memory_get(sm, &smem);
            th_check(flux_forward(sm, &in, img, 0.6f, v, &err) == LW_OK, "streamed forward: %s", err.message);
            printf("  streaming %d of %d blocks (%llu B resident, %llu B streamed, %llu B slots): max diff %g\n",
                   smem.streamed_blocks, smem.blocks, (unsigned long long)smem.resident,
                   (unsigned long long)smem.streamed, (unsigned long long)smem.slots,
                   th_max_abs_diff(v, got, (size_t)N * 64));
            /* a budget of the fixed part and three largest blocks keeps block 0 resident (the two
             * slots are two more) when the blocks are worth more than that, else everything */
            bool partial = k == 1 && plans[1].device_bytes < smem.resident + smem.streamed;
            th_check(k == 0 ? smem.streamed_blocks == blocks
                     : partial ? smem.streamed_blocks > 0 && smem.streamed_blocks < blocks : smem.streamed_blocks == 0,
                     "blocks streamed: %d of %d", smem.streamed_blocks, blocks);
            th_check(th_max_abs_diff(v, got, (size_t)N * 64) == 0, "streamed forward = resident forward");
            th_check(flux_sample(sm, &in, img, sig3, 3, NULL, NULL, slat, &err) == LW_OK &&
                     th_max_abs_diff(slat, lat3, (size_t)N * 64) == 0, "streamed 3-step sample = resident");
            if (k == 0) plans[1].device_bytes = smem.resident + smem.slots * 3 / 2 + 4096;
        }
        flux_destroy(sm);
        free(v);
    }
    /* the same weights in diffusers and ComfyUI naming */
    for (int k = 0; k < 2; k++) {
        char lpath[] = "/tmp/lorweb-flux-layout-XXXXXX";
        int  lfd = mkstemp(lpath);
        if (lfd >= 0) close(lfd);
        write_layout(m, lpath, k == 0, meta);
        struct flux_model *lm = NULL;
        float             *v = malloc((size_t)N * 64 * 4);
        th_poison(v, (size_t)N * 64);
        if (th_check(flux_load(dev, lpath, &lm, &err) == LW_OK, "load %s naming: %s", k ? "ComfyUI" : "diffusers",
                     err.message)) {
            th_check(flux_forward(lm, &in, img, 0.6f, v, &err) == LW_OK, "forward: %s", err.message);
            printf("  %s naming: max diff %g\n", k ? "ComfyUI" : "diffusers", th_max_abs_diff(v, got, (size_t)N * 64));
            th_check(th_max_abs_diff(v, got, (size_t)N * 64) == 0, "%s naming = BFL naming", k ? "ComfyUI" : "diffusers");
        }
        flux_destroy(lm);
        free(v);
        unlink(lpath);
    }
    struct flux_load_options tiny = {.device_bytes = 4096, .activation_bytes = 1};
    struct flux_model       *none = NULL;
    th_check(flux_load_with(dev, path, &tiny, &none, &err) == LW_ERR_DEVICE_MEMORY && strstr(err.message, path),
             "a device too small for even two slots: %s", err.message);
    flux_destroy(none);
    free(lat3), free(slat);
    lorweb_check(dev, fm, m, &in, txt, y, img, ctxt, got);
    free(txt), free(y), free(img), free(ctxt), free(got), free(want), free(latent), free(v1);
done:
    flux_destroy(fm);
    unlink(path);
    for (int i = 0; i < m->count; i++) free(m->data[i]);
    free(m);
}

int main(void) {
    printf("seed 99\n");
    th_rng_seed(&rng, 99);
    struct cmp_device *dev = th_device_or_skip();
    run_shape(dev, (struct shape){.d = 64, .heads = 4, .axes = {4, 6, 6}, .depth = 1, .single = 3, .vec = 24,
                                  .ctx = 40, .t = 5, .gh = 3, .gw = 5, .ch = 2, .cw = 3, .guidance = false});
    run_shape(dev, (struct shape){.d = 72, .heads = 2, .axes = {8, 14, 14}, .depth = 3, .single = 1, .vec = 16,
                                  .ctx = 20, .t = 1, .gh = 2, .gw = 2, .ch = 0, .cw = 0, .guidance = true});
    /* FLUX.1 Kontext at 1024² output + 1024² context, 512 text tokens, the paper's basis (32 × 4) */
    struct flux_config real = {.hidden = 3072, .heads = 24, .head_dim = 128, .depth = 19, .depth_single = 38,
                               .axes_dim = {16, 56, 56}, .theta = 10000, .vec_in = 768, .context_in = 4096,
                               .in_channels = 64, .out_channels = 64, .mlp_hidden = 12288, .guidance_embed = true};
    uint64_t act = flux_activation_bytes(&real, 512, 4096, 4096, 128);
    printf("real model, 8704 tokens, basis 32 x 4: activations %.1f MiB\n", act / 1048576.0);
    th_check(act < 2000000000ull, "activations at 8,704 tokens under 2 GB (%llu B)", (unsigned long long)act);
    cmp_device_destroy(dev);
    return th_finish();
}
