/* The FLUX autoencoder on the engine: encoder (image → moments → normalised mean) and decoder.
 *
 * Mirrors BFL flux `modules/autoencoder.py` (spec-flux-kontext.md §4): ResnetBlocks of GroupNorm(32,
 * eps 1e-6) + SiLU + 3×3 convs, Downsample = right/bottom zero pad then 3×3 stride-2 conv, Upsample =
 * nearest ×2 then 3×3 conv, one single-head attention block in the middle of each half. Only the
 * encoder's mean is used (deterministic, as BFL's Kontext path and diffusers' argmax mode).
 * Not here: decoding images too large for the device (vae_banded.c) and image normalisation.
 *
 * Activations live in three buffers of the largest activation size that take turns (x, t1, t2),
 * plus the attention temporaries, all from one arena sized per call. C channels, H×W resolution. */
#include "vae.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "ops.h"
#include "vae_internal.h"
#include "weights.h"

/* ---------------------------------------------------------------------------------------------- */
/* Loading                                                                                         */

/* diffusers `vae/` names for a BFL name (spec §4.6); false when the name is the same. */
static bool diffusers_name(const char *bfl, char *out, size_t size) {
    int  l, b, n = 0;
    char rest[200];
    if (sscanf(bfl, "encoder.down.%d.block.%d.%199s%n", &l, &b, rest, &n) == 3) {
        snprintf(out, size, "encoder.down_blocks.%d.resnets.%d.%s", l, b, rest);
    } else if (sscanf(bfl, "encoder.down.%d.downsample.%199s", &l, rest) == 2) {
        snprintf(out, size, "encoder.down_blocks.%d.downsamplers.0.%s", l, rest);
    } else if (sscanf(bfl, "decoder.up.%d.block.%d.%199s", &l, &b, rest) == 3) {
        snprintf(out, size, "decoder.up_blocks.%d.resnets.%d.%s", 3 - l, b, rest);
    } else if (sscanf(bfl, "decoder.up.%d.upsample.%199s", &l, rest) == 2) {
        snprintf(out, size, "decoder.up_blocks.%d.upsamplers.0.%s", 3 - l, rest);
    } else {
        const char *half = strncmp(bfl, "encoder.", 8) == 0 ? "encoder" : "decoder";
        const char *tail = bfl + 8;
        static const char *const pairs[][2] = {
            {"mid.block_1.", "mid_block.resnets.0."},     {"mid.block_2.", "mid_block.resnets.1."},
            {"mid.attn_1.norm.", "mid_block.attentions.0.group_norm."},
            {"mid.attn_1.q.", "mid_block.attentions.0.to_q."},
            {"mid.attn_1.k.", "mid_block.attentions.0.to_k."},
            {"mid.attn_1.v.", "mid_block.attentions.0.to_v."},
            {"mid.attn_1.proj_out.", "mid_block.attentions.0.to_out.0."},
            {"norm_out.", "conv_norm_out."},
        };
        for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
            size_t k = strlen(pairs[i][0]);
            if (strncmp(tail, pairs[i][0], k) == 0) {
                snprintf(out, size, "%s.%s%s", half, pairs[i][1], tail + k);
                goto shortcut;
            }
        }
        return false;
    }
shortcut:;
    char *nin = strstr(out, "nin_shortcut");
    if (nin) {
        char tail[200];
        snprintf(tail, sizeof tail, "%s", nin + strlen("nin_shortcut"));
        snprintf(nin, size - (size_t)(nin - out), "conv_shortcut%s", tail);
    }
    return true;
}

/* Uses diffusers names when the file has no BFL encoder/decoder names. */
static bool translate_diffusers(const char *name, char *out, size_t size) {
    return diffusers_name(name, out, size);
}

static void resnet_load(struct ld_loader *ld, struct vae_resnet *r, const char *p, int64_t cin,
                        int64_t cout) {
    r->cin = cin;
    r->cout = cout;
    r->norm1_w = ld_vectorf(ld, cin, "%s.norm1.weight", p);
    r->norm1_b = ld_vectorf(ld, cin, "%s.norm1.bias", p);
    r->conv1_w = ld_weightf(ld, 4, (int64_t[]){cout, cin, 3, 3}, "%s.conv1.weight", p);
    r->conv1_b = ld_vectorf(ld, cout, "%s.conv1.bias", p);
    r->norm2_w = ld_vectorf(ld, cout, "%s.norm2.weight", p);
    r->norm2_b = ld_vectorf(ld, cout, "%s.norm2.bias", p);
    r->conv2_w = ld_weightf(ld, 4, (int64_t[]){cout, cout, 3, 3}, "%s.conv2.weight", p);
    r->conv2_b = ld_vectorf(ld, cout, "%s.conv2.bias", p);
    if (cin != cout) {
        r->shortcut_w = ld_weightf(ld, 4, (int64_t[]){cout, cin, 1, 1}, "%s.nin_shortcut.weight", p);
        r->shortcut_b = ld_vectorf(ld, cout, "%s.nin_shortcut.bias", p);
    }
}

/* Attention 1×1 convs as (C, C) matrices: BFL stores [C, C, 1, 1], diffusers [C, C]. */
static struct op_tensor square(struct ld_loader *ld, const char *p, const char *which, int64_t c) {
    char name[256];
    snprintf(name, sizeof name, "%s.%s.weight", p, which);
    const struct wt_tensor *t = ld_find(ld, name);
    if (t && t->ndim == 2) return ld_weight(ld, name, 2, (int64_t[]){c, c});
    struct op_tensor w = ld_weight(ld, name, 4, (int64_t[]){c, c, 1, 1});
    w.rows = c;
    w.cols = c;
    return w;
}

static void attn_load(struct ld_loader *ld, struct vae_attn *a, const char *p, int64_t c) {
    a->c = c;
    a->norm_w = ld_vectorf(ld, c, "%s.norm.weight", p);
    a->norm_b = ld_vectorf(ld, c, "%s.norm.bias", p);
    a->q_w = square(ld, p, "q", c);
    a->q_b = ld_vectorf(ld, c, "%s.q.bias", p);
    a->k_w = square(ld, p, "k", c);
    a->k_b = ld_vectorf(ld, c, "%s.k.bias", p);
    a->v_w = square(ld, p, "v", c);
    a->v_b = ld_vectorf(ld, c, "%s.v.bias", p);
    a->proj_w = square(ld, p, "proj_out", c);
    a->proj_b = ld_vectorf(ld, c, "%s.proj_out.bias", p);
}

int64_t vae_level_width(const struct vae_config *c, int64_t level) {
    return c->ch * c->ch_mult[level];
}

static void encoder_load(struct ld_loader *ld, struct vae_half *e, const struct vae_config *c) {
    char p[128];
    e->present = true;
    e->conv_in_w = ld_weight(ld, "encoder.conv_in.weight", 4, (int64_t[]){c->ch, c->in_channels, 3, 3});
    e->conv_in_b = ld_vector(ld, "encoder.conv_in.bias", c->ch);
    int64_t cin = c->ch;
    for (int64_t l = 0; l < c->levels; l++) {
        for (int64_t b = 0; b < c->res_blocks; b++) {
            snprintf(p, sizeof p, "encoder.down.%lld.block.%lld", (long long)l, (long long)b);
            resnet_load(ld, &e->blocks[l][b], p, cin, vae_level_width(c, l));
            cin = vae_level_width(c, l);
        }
        if (l + 1 < c->levels) {
            e->resample_w[l] = ld_weightf(ld, 4, (int64_t[]){cin, cin, 3, 3},
                                          "encoder.down.%lld.downsample.conv.weight", (long long)l);
            e->resample_b[l] = ld_vectorf(ld, cin, "encoder.down.%lld.downsample.conv.bias", (long long)l);
        }
    }
    resnet_load(ld, &e->mid_1, "encoder.mid.block_1", cin, cin);
    attn_load(ld, &e->mid_attn, "encoder.mid.attn_1", cin);
    resnet_load(ld, &e->mid_2, "encoder.mid.block_2", cin, cin);
    e->norm_out_w = ld_vector(ld, "encoder.norm_out.weight", cin);
    e->norm_out_b = ld_vector(ld, "encoder.norm_out.bias", cin);
    e->conv_out_w = ld_weight(ld, "encoder.conv_out.weight", 4, (int64_t[]){2 * c->z_channels, cin, 3, 3});
    e->conv_out_b = ld_vector(ld, "encoder.conv_out.bias", 2 * c->z_channels);
}

static void decoder_load(struct ld_loader *ld, struct vae_half *d, const struct vae_config *c) {
    char p[128];
    d->present = true;
    int64_t cin = vae_level_width(c, c->levels - 1);
    d->conv_in_w = ld_weight(ld, "decoder.conv_in.weight", 4, (int64_t[]){cin, c->z_channels, 3, 3});
    d->conv_in_b = ld_vector(ld, "decoder.conv_in.bias", cin);
    resnet_load(ld, &d->mid_1, "decoder.mid.block_1", cin, cin);
    attn_load(ld, &d->mid_attn, "decoder.mid.attn_1", cin);
    resnet_load(ld, &d->mid_2, "decoder.mid.block_2", cin, cin);
    for (int64_t l = c->levels - 1; l >= 0; l--) {
        for (int64_t b = 0; b <= c->res_blocks; b++) {
            snprintf(p, sizeof p, "decoder.up.%lld.block.%lld", (long long)l, (long long)b);
            resnet_load(ld, &d->blocks[l][b], p, cin, vae_level_width(c, l));
            cin = vae_level_width(c, l);
        }
        if (l > 0) {
            d->resample_w[l] = ld_weightf(ld, 4, (int64_t[]){cin, cin, 3, 3},
                                          "decoder.up.%lld.upsample.conv.weight", (long long)l);
            d->resample_b[l] = ld_vectorf(ld, cin, "decoder.up.%lld.upsample.conv.bias", (long long)l);
        }
    }
    d->norm_out_w = ld_vector(ld, "decoder.norm_out.weight", cin);
    d->norm_out_b = ld_vector(ld, "decoder.norm_out.bias", cin);
    d->conv_out_w = ld_weight(ld, "decoder.conv_out.weight", 4, (int64_t[]){c->out_channels, cin, 3, 3});
    d->conv_out_b = ld_vector(ld, "decoder.conv_out.bias", c->out_channels);
}

/* Hyper-parameters: metadata first, then shapes, then the published defaults (spec §4.1). */
static enum lw_status config_read(struct ld_loader *ld, struct vae_config *c, struct lw_error *err) {
    const struct wt_tensor *conv_in = ld_find(ld, "encoder.conv_in.weight");
    if (!conv_in) conv_in = ld_find(ld, "decoder.conv_out.weight");
    const struct wt_tensor *dec_in = ld_find(ld, "decoder.conv_in.weight");
    c->ch = ld_meta_int(ld, "ae.ch", conv_in && conv_in->ndim == 4 ? conv_in->shape[0] : 128);
    if (conv_in && !ld_find(ld, "encoder.conv_in.weight") && conv_in->ndim == 4)
        c->ch = ld_meta_int(ld, "ae.ch", conv_in->shape[1]);
    c->in_channels = 3;
    c->out_channels = 3;
    c->z_channels = ld_meta_int(ld, "ae.z_channels", dec_in && dec_in->ndim == 4 ? dec_in->shape[1] : 16);
    c->res_blocks = ld_meta_int(ld, "ae.num_res_blocks", -1);
    if (c->res_blocks < 0) {
        c->res_blocks = 0;
        char name[128];
        for (int b = 0; b < MAX_BLOCKS; b++) {
            snprintf(name, sizeof name, "decoder.up.0.block.%d.conv1.weight", b);
            if (ld_find(ld, name)) c->res_blocks = b; /* decoder has res_blocks + 1 */
        }
        if (c->res_blocks == 0) c->res_blocks = 2;
    }
    c->levels = ld_meta_int_list(ld, "ae.ch_mult", c->ch_mult, MAX_LEVELS);
    if (c->levels == 0) {
        char name[128];
        for (int l = 0; l < MAX_LEVELS; l++) {
            snprintf(name, sizeof name, "decoder.up.%d.block.0.conv2.weight", l);
            const struct wt_tensor *t = ld_find(ld, name);
            if (!t || t->ndim != 4 || c->ch <= 0) break;
            c->ch_mult[l] = t->shape[0] / c->ch;
            c->levels = l + 1;
        }
    }
    if (c->levels == 0) {
        static const int64_t defaults[] = {1, 2, 4, 4};
        memcpy(c->ch_mult, defaults, sizeof defaults);
        c->levels = 4;
    }
    c->groups = 32;
    c->scale = ld_meta_float(ld, "ae.scale_factor", 0.3611);
    c->shift = ld_meta_float(ld, "ae.shift_factor", 0.1159);
    if (c->ch <= 0 || c->ch % c->groups || c->z_channels <= 0 || c->levels > MAX_LEVELS ||
        c->res_blocks + 1 > MAX_BLOCKS)
        return lw_error_set(err, LW_ERR_FORMAT,
                            "%s: implausible autoencoder hyper-parameters (ch %lld, z %lld, "
                            "%lld levels, %lld res blocks)",
                            ld->path, (long long)c->ch, (long long)c->z_channels,
                            (long long)c->levels, (long long)c->res_blocks);
    return LW_OK;
}

enum lw_status vae_load(struct cmp_device *device, const char *path, enum vae_parts parts,
                        struct vae_model **out, struct lw_error *err) {
    *out = NULL;
    struct vae_model *m = calloc(1, sizeof *m);
    if (!m) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    m->device = device;
    struct wt_file *file = NULL;
    enum lw_status  status = wt_open(path, &file, err);
    if (status == LW_OK) status = ld_resources_create(device, &m->res, err);
    if (status != LW_OK) goto cleanup;
    struct ld_loader ld = {.device = device, .arena = m->res.weights, .file = file, .path = path, .err = err};
    if (!wt_find(file, "encoder.conv_in.weight") && !wt_find(file, "decoder.conv_in.weight") &&
        (wt_find(file, "encoder.down_blocks.0.resnets.0.conv1.weight") ||
         wt_find(file, "decoder.up_blocks.0.resnets.0.conv1.weight")))
        ld.translate = translate_diffusers;
    status = config_read(&ld, &m->cfg, err);
    if (status != LW_OK) goto cleanup;
    if (parts != VAE_DECODER_ONLY) encoder_load(&ld, &m->encoder, &m->cfg);
    if (parts != VAE_ENCODER_ONLY) decoder_load(&ld, &m->decoder, &m->cfg);
    status = ld.status;
cleanup:
    wt_close(file);
    if (status != LW_OK) {
        vae_destroy(m);
        return status;
    }
    *out = m;
    return LW_OK;
}

void vae_destroy(struct vae_model *m) {
    if (!m) return;
    ld_resources_destroy(&m->res);
    free(m);
}

const struct vae_config *vae_config(const struct vae_model *m) {
    return &m->cfg;
}

int64_t vae_downsampling(const struct vae_model *m) {
    return (int64_t)1 << (m->cfg.levels - 1);
}

/* ---------------------------------------------------------------------------------------------- */
/* Forward                                                                                          */

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        status = (expr);                                                                           \
        if (status != LW_OK) return status;                                                        \
    } while (0)

/* Three interchangeable activation buffers, each large enough for any (C, H, W) of the run. */
struct vae_run {
    struct op_ctx   ctx;
    struct cmp_view buf[3];
    int             x; /* index of the buffer holding the current activation */
    int64_t         c, h, w;
    struct cmp_view tokens, q, k, v, att; /* attention temporaries (H·W, C) at the middle */
    float           groups;
};

static struct op_tensor act(struct vae_run *r, int index, int64_t c, int64_t h, int64_t w) {
    return op_tensor_chw(cmp_view_slice(r->buf[index], 0, (uint64_t)(c * h * w) * 4), c, h, w);
}

static int other(struct vae_run *r, int not_a, int not_b) {
    for (int i = 0; i < 3; i++)
        if (i != not_a && i != not_b) return i;
    (void)r;
    return 0;
}

static enum lw_status conv(struct vae_run *r, struct op_tensor x, struct op_tensor w,
                           struct op_tensor b, struct op_tensor y, int stride, int pad_tl,
                           int pad_br, bool accumulate, struct lw_error *err) {
    struct op_conv2d_args a = {.x = x, .w = w, .bias = b, .y = y, .stride = stride,
                               .pad_top = pad_tl, .pad_left = pad_tl, .pad_bottom = pad_br,
                               .pad_right = pad_br, .accumulate = accumulate};
    return op_conv2d(&r->ctx, &a, err);
}

/* x ← shortcut(x) + conv2(silu(gn2(conv1(silu(gn1(x)))))) */
static enum lw_status resnet(struct vae_run *r, const struct vae_resnet *b, int64_t groups,
                             struct lw_error *err) {
    enum lw_status   status;
    int64_t          h = r->h, w = r->w;
    int              t1 = other(r, r->x, -1), t2 = other(r, r->x, t1);
    struct op_tensor x = act(r, r->x, b->cin, h, w);
    TRY(op_group_norm(&r->ctx, x, b->norm1_w, b->norm1_b, groups, GN_EPS, true,
                      act(r, t1, b->cin, h, w), err));
    TRY(conv(r, act(r, t1, b->cin, h, w), b->conv1_w, b->conv1_b, act(r, t2, b->cout, h, w), 1, 1,
             1, false, err));
    TRY(op_group_norm(&r->ctx, act(r, t2, b->cout, h, w), b->norm2_w, b->norm2_b, groups, GN_EPS,
                      true, act(r, t1, b->cout, h, w), err));
    if (b->cin != b->cout) { /* the 1×1 shortcut becomes the residual the block adds to */
        TRY(conv(r, x, b->shortcut_w, b->shortcut_b, act(r, t2, b->cout, h, w), 1, 0, 0, false, err));
        r->x = t2;
    }
    TRY(conv(r, act(r, t1, b->cout, h, w), b->conv2_w, b->conv2_b, act(r, r->x, b->cout, h, w), 1,
             1, 1, true, err));
    r->c = b->cout;
    return LW_OK;
}

/* x ← x + proj(attention(q(gn(x)), k(gn(x)), v(gn(x)))), one head of dim C over H·W positions. */
static enum lw_status attention(struct vae_run *r, const struct vae_attn *a, int64_t groups,
                                struct lw_error *err) {
    enum lw_status   status;
    int64_t          c = a->c, p = r->h * r->w;
    int              t1 = other(r, r->x, -1);
    struct op_tensor x = act(r, r->x, c, r->h, r->w), normed = act(r, t1, c, r->h, r->w);
    struct op_tensor tok = op_tensor_2d(r->tokens, LW_DTYPE_F32, p, c); // (P, C)
    struct op_tensor q = op_tensor_2d(r->q, LW_DTYPE_F32, p, c), k = op_tensor_2d(r->k, LW_DTYPE_F32, p, c);
    struct op_tensor v = op_tensor_2d(r->v, LW_DTYPE_F32, p, c), o = op_tensor_2d(r->att, LW_DTYPE_F32, p, c);
    TRY(op_group_norm(&r->ctx, x, a->norm_w, a->norm_b, groups, GN_EPS, false, normed, err));
    TRY(op_transpose(&r->ctx, normed, tok, err));
    struct op_matmul_args mm = {.x = tok, .w = a->q_w, .bias = a->q_b, .y = q};
    TRY(op_matmul(&r->ctx, &mm, err));
    mm.w = a->k_w, mm.bias = a->k_b, mm.y = k;
    TRY(op_matmul(&r->ctx, &mm, err));
    mm.w = a->v_w, mm.bias = a->v_b, mm.y = v;
    TRY(op_matmul(&r->ctx, &mm, err));
    struct op_attention_args at = {.q = q, .k = k, .v = v, .out = o, .heads = 1, .head_dim = c,
                                   .scale = (float)(1.0 / sqrt((double)c))};
    TRY(op_attention(&r->ctx, &at, err));
    mm = (struct op_matmul_args){.x = o, .w = a->proj_w, .bias = a->proj_b, .y = tok};
    TRY(op_matmul(&r->ctx, &mm, err));
    TRY(op_transpose(&r->ctx, tok, normed, err)); /* (P, C) → (C, H, W) */
    return op_binary(&r->ctx, OP_ADD, x, normed, x, err);
}

static enum lw_status middle(struct vae_run *r, const struct vae_half *half, int64_t groups,
                             struct lw_error *err) {
    enum lw_status status;
    TRY(resnet(r, &half->mid_1, groups, err));
    TRY(attention(r, &half->mid_attn, groups, err));
    return resnet(r, &half->mid_2, groups, err);
}

/* Activation sizes of a run at full resolution h×w: the largest (C, H, W) of both halves and the
 * middle's (H/f · W/f, C), in floats. */
static void run_sizes(const struct vae_config *c, int64_t h, int64_t w, uint64_t *biggest_out,
                      uint64_t *mid_out) {
    uint64_t biggest = (uint64_t)(c->in_channels * h * w);
    for (int64_t l = 0; l < c->levels; l++) {
        /* level l sees its own width, the encoder's input from level l − 1 and, in the decoder,
         * level l + 1's width arriving through the upsample */
        int64_t hl = h >> l, wl = w >> l, cl = vae_level_width(c, l);
        int64_t cp = l ? vae_level_width(c, l - 1) : c->ch, cn = vae_level_width(c, l + 1 < c->levels ? l + 1 : l);
        int64_t widest = cl > cp ? cl : cp;
        if (cn > widest) widest = cn;
        uint64_t n = (uint64_t)(widest * hl * wl);
        if (n > biggest) biggest = n;
    }
    int64_t  f = (int64_t)1 << (c->levels - 1), cm = vae_level_width(c, c->levels - 1);
    uint64_t z2 = (uint64_t)(2 * c->z_channels * (h / f) * (w / f));
    *biggest_out = z2 > biggest ? z2 : biggest;
    *mid_out = (uint64_t)(cm * (h / f) * (w / f));
}

/* Sizes the activation arena for a run at full resolution h×w (the largest of both halves). Every
 * activation must fit one kernel binding: a larger image is LW_ERR_TOO_LARGE with the numbers. */
static enum lw_status run_alloc(struct vae_model *m, struct vae_run *r, uint64_t biggest, uint64_t mid,
                                const char *what, struct lw_error *err) {
    uint64_t range = cmp_device_info(m->device)->max_storage_buffer_range;
    if (biggest * 4 > range || mid * 4 > range)
        return lw_error_set(err, LW_ERR_TOO_LARGE,
                            "autoencoder: %s needs %llu-byte activations, over the device's %llu-byte "
                            "storage range", what, (unsigned long long)((biggest > mid ? biggest : mid) * 4),
                            (unsigned long long)range);
    memset(r, 0, sizeof *r);
    r->ctx = (struct op_ctx){.device = m->device, .cmd = m->res.cmd};
    cmp_cmd_reset(m->res.cmd);
    cmp_arena_reset(m->res.activations);
    enum lw_status status;
    for (int i = 0; i < 3; i++) TRY(cmp_arena_alloc(m->res.activations, biggest * 4, &r->buf[i], err));
    TRY(cmp_arena_alloc(m->res.activations, mid * 4, &r->tokens, err));
    TRY(cmp_arena_alloc(m->res.activations, mid * 4, &r->q, err));
    TRY(cmp_arena_alloc(m->res.activations, mid * 4, &r->k, err));
    TRY(cmp_arena_alloc(m->res.activations, mid * 4, &r->v, err));
    TRY(cmp_arena_alloc(m->res.activations, mid * 4, &r->att, err));
    return LW_OK;
}

static enum lw_status run_begin(struct vae_model *m, struct vae_run *r, int64_t h, int64_t w,
                                struct lw_error *err) {
    uint64_t biggest, mid;
    char     what[64];
    run_sizes(&m->cfg, h, w, &biggest, &mid);
    snprintf(what, sizeof what, "a %lld×%lld image", (long long)w, (long long)h);
    return run_alloc(m, r, biggest, mid, what, err);
}

enum lw_status vae_check_size(int64_t h, int64_t w, int64_t f, struct lw_error *err) {
    if (h <= 0 || w <= 0 || h % f || w % f)
        return lw_error_set(err, LW_ERR_ARGUMENT,
                            "autoencoder: image size %lld×%lld is not a positive multiple of %lld",
                            (long long)w, (long long)h, (long long)f);
    return LW_OK;
}

/* The encoder's middle block, norm_out + SiLU and conv_out on the run's current activation (the last
 * level's output at latent resolution), then the mean's channels normalised the FLUX way. */
static enum lw_status encode_out(struct vae_model *m, struct vae_run *r, float *latent, struct lw_error *err) {
    const struct vae_config *c = &m->cfg;
    const struct vae_half   *e = &m->encoder;
    int64_t                  z = c->z_channels;
    enum lw_status           status;
    TRY(middle(r, e, c->groups, err));
    int t1 = other(r, r->x, -1), t2 = other(r, r->x, t1);
    TRY(op_group_norm(&r->ctx, act(r, r->x, r->c, r->h, r->w), e->norm_out_w, e->norm_out_b, c->groups,
                      GN_EPS, true, act(r, t1, r->c, r->h, r->w), err));
    TRY(conv(r, act(r, t1, r->c, r->h, r->w), e->conv_out_w, e->conv_out_b, act(r, t2, 2 * z, r->h, r->w), 1, 1,
             1, false, err));
    TRY(cmp_cmd_submit(m->res.cmd, err));
    uint64_t n = (uint64_t)(z * r->h * r->w); /* channels 0..z−1 are the mean */
    TRY(cmp_view_download(r->buf[t2], latent, n * 4, err));
    for (uint64_t i = 0; i < n; i++) latent[i] = (float)(c->scale * (latent[i] - c->shift));
    return LW_OK;
}

enum lw_status vae_encode(struct vae_model *m, const float *image, int64_t h, int64_t w,
                          float *latent, struct lw_error *err) {
    const struct vae_config *c = &m->cfg;
    const struct vae_half   *e = &m->encoder;
    int64_t                  f = vae_downsampling(m);
    enum lw_status           status = vae_check_size(h, w, f, err);
    if (status != LW_OK) return status;
    if (!e->present) return lw_error_set(err, LW_ERR_ARGUMENT, "autoencoder: encoder not loaded");
    struct vae_run r;
    TRY(run_begin(m, &r, h, w, err));
    TRY(cmp_view_upload(r.buf[0], image, (uint64_t)(c->in_channels * h * w) * 4, err));
    r.h = h, r.w = w, r.x = 1;
    TRY(conv(&r, act(&r, 0, c->in_channels, h, w), e->conv_in_w, e->conv_in_b, act(&r, 1, c->ch, h, w),
             1, 1, 1, false, err));
    r.c = c->ch;
    for (int64_t l = 0; l < c->levels; l++) {
        for (int64_t b = 0; b < c->res_blocks; b++) TRY(resnet(&r, &e->blocks[l][b], c->groups, err));
        if (l + 1 < c->levels) { /* pad right/bottom by one, 3×3 stride 2 */
            int t = other(&r, r.x, -1);
            TRY(conv(&r, act(&r, r.x, r.c, r.h, r.w), e->resample_w[l], e->resample_b[l],
                     act(&r, t, r.c, r.h / 2, r.w / 2), 2, 0, 1, false, err));
            r.x = t, r.h /= 2, r.w /= 2;
        }
    }
    return encode_out(m, &r, latent, err);
}

enum lw_status vae_encode_middle(struct vae_model *m, const float *x, int64_t h, int64_t w, float *latent,
                                 struct lw_error *err) {
    const struct vae_config *c = &m->cfg;
    enum lw_status           status;
    if (!m->encoder.present) return lw_error_set(err, LW_ERR_ARGUMENT, "autoencoder: encoder not loaded");
    int64_t        cm = vae_level_width(c, c->levels - 1), z2 = 2 * c->z_channels;
    struct vae_run r;
    char           what[80];
    snprintf(what, sizeof what, "the middle of a %lld×%lld latent", (long long)w, (long long)h);
    TRY(run_alloc(m, &r, (uint64_t)((cm > z2 ? cm : z2) * h * w), (uint64_t)(cm * h * w), what, err));
    TRY(cmp_view_upload(r.buf[1], x, (uint64_t)(cm * h * w) * 4, err));
    r.h = h, r.w = w, r.x = 1, r.c = cm;
    return encode_out(m, &r, latent, err);
}

/* latent/scale + shift → conv_in, into the run's buffer 1 (r->x), at latent resolution h×w. */
static enum lw_status decode_in(struct vae_model *m, struct vae_run *r, const float *latent, int64_t h, int64_t w,
                                struct lw_error *err) {
    const struct vae_config *c = &m->cfg;
    const struct vae_half   *d = &m->decoder;
    int64_t                  z = c->z_channels;
    uint64_t                 n = (uint64_t)(z * h * w);
    float                   *z_in = malloc(n * sizeof *z_in);
    if (!z_in) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    for (uint64_t i = 0; i < n; i++) z_in[i] = (float)(latent[i] / c->scale + c->shift);
    enum lw_status status = cmp_view_upload(r->buf[0], z_in, n * 4, err);
    free(z_in);
    if (status != LW_OK) return status;
    r->h = h, r->w = w, r->x = 1, r->c = vae_level_width(c, c->levels - 1);
    return conv(r, act(r, 0, z, h, w), d->conv_in_w, d->conv_in_b, act(r, 1, r->c, h, w), 1, 1, 1, false, err);
}

enum lw_status vae_decode_middle(struct vae_model *m, const float *latent, int64_t h, int64_t w, float *out,
                                 struct lw_error *err) {
    const struct vae_config *c = &m->cfg;
    enum lw_status           status;
    if (!m->decoder.present) return lw_error_set(err, LW_ERR_ARGUMENT, "autoencoder: decoder not loaded");
    int64_t  cm = vae_level_width(c, c->levels - 1);
    uint64_t n = (uint64_t)((cm > c->z_channels ? cm : c->z_channels) * h * w);
    struct vae_run r;
    char           what[80];
    snprintf(what, sizeof what, "the middle of a %lld×%lld latent", (long long)w, (long long)h);
    TRY(run_alloc(m, &r, n, (uint64_t)(cm * h * w), what, err));
    TRY(decode_in(m, &r, latent, h, w, err));
    TRY(middle(&r, &m->decoder, c->groups, err));
    TRY(cmp_cmd_submit(m->res.cmd, err));
    return cmp_view_download(r.buf[r.x], out, (uint64_t)(cm * h * w) * 4, err);
}

enum lw_status vae_decode(struct vae_model *m, const float *latent, int64_t h, int64_t w,
                          float *image, struct lw_error *err) {
    const struct vae_config *c = &m->cfg;
    const struct vae_half   *d = &m->decoder;
    int64_t                  f = vae_downsampling(m);
    enum lw_status           status;
    if (h <= 0 || w <= 0)
        return lw_error_set(err, LW_ERR_ARGUMENT, "autoencoder: latent size %lld×%lld", (long long)w,
                            (long long)h);
    if (!d->present) return lw_error_set(err, LW_ERR_ARGUMENT, "autoencoder: decoder not loaded");
    struct vae_run r;
    TRY(run_begin(m, &r, h * f, w * f, err));
    TRY(decode_in(m, &r, latent, h, w, err));
    TRY(middle(&r, d, c->groups, err));
    for (int64_t l = c->levels - 1; l >= 0; l--) {
        for (int64_t b = 0; b <= c->res_blocks; b++) TRY(resnet(&r, &d->blocks[l][b], c->groups, err));
        if (l > 0) { /* nearest ×2, then 3×3 */
            int t = other(&r, r.x, -1);
            TRY(op_upsample_nearest2x(&r.ctx, act(&r, r.x, r.c, r.h, r.w),
                                      act(&r, t, r.c, 2 * r.h, 2 * r.w), err));
            r.h *= 2, r.w *= 2;
            TRY(conv(&r, act(&r, t, r.c, r.h, r.w), d->resample_w[l], d->resample_b[l],
                     act(&r, r.x, r.c, r.h, r.w), 1, 1, 1, false, err));
        }
    }
    int t1 = other(&r, r.x, -1), t2 = other(&r, r.x, t1);
    TRY(op_group_norm(&r.ctx, act(&r, r.x, r.c, r.h, r.w), d->norm_out_w, d->norm_out_b, c->groups,
                      GN_EPS, true, act(&r, t1, r.c, r.h, r.w), err));
    TRY(conv(&r, act(&r, t1, r.c, r.h, r.w), d->conv_out_w, d->conv_out_b,
             act(&r, t2, c->out_channels, r.h, r.w), 1, 1, 1, false, err));
    TRY(cmp_cmd_submit(m->res.cmd, err));
    return cmp_view_download(r.buf[t2], image, (uint64_t)(c->out_channels * r.h * r.w) * 4, err);
}
