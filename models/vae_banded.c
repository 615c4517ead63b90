/* Encoding and decoding images too large for the device, in row bands, exactly (vae.h:
 * vae_encode_banded, vae_decode_banded). Described for the decoder; the encoder is the mirror image
 * (its levels banded with stride-2 downsampling, then its middle and output whole).
 *
 * The decoder's input convolution and middle block (whose attention sees every position) run whole
 * at latent resolution (vae_decode_middle). Above it every activation lives in host memory as
 * (C, H, W) f32, and:
 *  - each 3×3 or 1×1 convolution runs on the device one band of output rows at a time: its input
 *    rows are gathered with k/2 halo rows above and below (zeros beyond the image, as the padding
 *    of the whole-image convolution), for the convolution after an upsample straight from the
 *    half-resolution tensor (every row and column twice); a residual is added by the kernel
 *    (accumulate) into the band of the tensor it goes to;
 *  - GroupNorm (+SiLU) is applied on the host with its statistics over the whole tensor (two passes
 *    in double), so there are no per-tile statistics and no seams to blend.
 * Every output is the same sum of the same products as in vae_decode; the two agree to rounding
 * (test_encoders). Host memory: about three activations of the widest level at full resolution;
 * device memory: the weights, the middle's run and two band buffers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vae_internal.h"

#define BAND_BUDGET (256ull << 20) /* device bytes for the two band buffers, at most (else half the free) */

struct host_act { /* (c, h, w) f32 in host memory */
    float  *d;
    int64_t c, h, w;
};

struct banded {
    struct vae_model *m;
    struct op_ctx     ctx;
    struct cmp_view   xb, yb;     /* band input (with halo) and output on the device */
    int64_t           band;       /* output rows per band */
    float            *stage;      /* host side of one band buffer */
    uint64_t          band_floats; /* size of xb, yb and stage in floats */
};

static enum lw_status act_alloc(struct host_act *a, int64_t c, int64_t h, int64_t w, struct lw_error *err) {
    *a = (struct host_act){malloc((size_t)(c * h * w) * sizeof(float)), c, h, w};
    return a->d ? LW_OK
                : lw_error_set(err, LW_ERR_HOST_MEMORY, "autoencoder (banded): out of host memory for a %lld×%lld×%lld "
                               "activation", (long long)c, (long long)h, (long long)w);
}

static void act_free(struct host_act *a) {
    free(a->d);
    a->d = NULL;
}

/* A convolution's geometry: k×k kernel, stride, zero padding above, left and right (below: the rows
 * past the input's end read as zeros, which is the whole-image convolution's bottom padding). */
struct conv_shape {
    int k, stride, pad_top, pad_left, pad_right;
};
static const struct conv_shape CONV3 = {3, 1, 1, 1, 1}, CONV1 = {1, 1, 0, 0, 0}, DOWN = {3, 2, 0, 0, 1};

/* y = conv(x) of shape `g`; x upsampled 2× on the fly when `up`; with `add`, y += conv(x). y is
 * allocated by the caller at the output size. */
static enum lw_status band_conv(struct banded *b, const struct host_act *x, bool up, struct op_tensor w,
                                struct op_tensor bias, struct conv_shape g, struct host_act *y, bool add,
                                struct lw_error *err) {
    int64_t        H = y->h, W = y->w, cin = x->c, cout = y->c;
    int64_t        in_h = up ? 2 * x->h : x->h, in_w = up ? 2 * x->w : x->w;
    enum lw_status status = LW_OK;
    for (int64_t r0 = 0; r0 < H && status == LW_OK; r0 += b->band) {
        int64_t rows = r0 + b->band <= H ? b->band : H - r0, in_rows = (rows - 1) * g.stride + g.k;
        int64_t first = r0 * g.stride - g.pad_top;
        for (int64_t c = 0; c < cin; c++) /* gather the input band with its halo */
            for (int64_t i = 0; i < in_rows; i++) {
                float  *dst = b->stage + (size_t)((c * in_rows + i) * in_w);
                int64_t yy = first + i;
                if (yy < 0 || yy >= in_h) {
                    memset(dst, 0, (size_t)in_w * sizeof *dst);
                    continue;
                }
                const float *src = x->d + (size_t)((c * x->h + (up ? yy / 2 : yy)) * x->w);
                if (up)
                    for (int64_t xx = 0; xx < in_w; xx++) dst[xx] = src[xx / 2];
                else
                    memcpy(dst, src, (size_t)in_w * sizeof *dst);
            }
        uint64_t in_bytes = (uint64_t)(cin * in_rows * in_w) * 4, out_bytes = (uint64_t)(cout * rows * W) * 4;
        status = cmp_view_upload(b->xb, b->stage, in_bytes, err);
        if (status == LW_OK && add) { /* the residual this band adds to */
            for (int64_t c = 0; c < cout; c++)
                memcpy(b->stage + (size_t)(c * rows * W), y->d + (size_t)((c * H + r0) * W), (size_t)(rows * W) * 4);
            status = cmp_view_upload(b->yb, b->stage, out_bytes, err);
        }
        struct op_conv2d_args a = {.x = op_tensor_chw(cmp_view_slice(b->xb, 0, in_bytes), cin, in_rows, in_w),
                                   .w = w, .bias = bias,
                                   .y = op_tensor_chw(cmp_view_slice(b->yb, 0, out_bytes), cout, rows, W),
                                   .stride = g.stride, .pad_left = g.pad_left, .pad_right = g.pad_right,
                                   .accumulate = add};
        if (status == LW_OK) status = op_conv2d(&b->ctx, &a, err);
        if (status == LW_OK) status = cmp_cmd_submit(b->ctx.cmd, err);
        cmp_cmd_reset(b->ctx.cmd);
        if (status == LW_OK) status = cmp_view_download(b->yb, b->stage, out_bytes, err);
        for (int64_t c = 0; status == LW_OK && c < cout; c++)
            memcpy(y->d + (size_t)((c * H + r0) * W), b->stage + (size_t)(c * rows * W), (size_t)(rows * W) * 4);
    }
    return status;
}

/* GroupNorm of x into y (may be x) with affine gamma, beta (device vectors of x->c), then SiLU. */
static enum lw_status group_norm_silu(const struct host_act *x, struct op_tensor gamma, struct op_tensor beta,
                                      int64_t groups, struct host_act *y, struct lw_error *err) {
    size_t         c_n = (size_t)x->c;
    float         *g = malloc(2 * c_n * sizeof *g);
    enum lw_status status = g ? cmp_view_download(gamma.view, g, c_n * 4, err)
                              : lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    if (status == LW_OK) status = cmp_view_download(beta.view, g + c_n, c_n * 4, err);
    int64_t per = x->c / groups;
    size_t  plane = (size_t)(x->h * x->w), n = (size_t)per * plane;
    for (int64_t gi = 0; status == LW_OK && gi < groups; gi++) {
        const float *xs = x->d + (size_t)(gi * per) * plane;
        double       sum = 0, sq = 0;
        for (size_t i = 0; i < n; i++) sum += xs[i];
        double mean = sum / (double)n;
        for (size_t i = 0; i < n; i++) sq += (xs[i] - mean) * (xs[i] - mean);
        double rstd = 1.0 / sqrt(sq / (double)n + GN_EPS);
        for (int64_t c = gi * per; c < (gi + 1) * per; c++) {
            const float *xc = x->d + (size_t)c * plane;
            float       *yc = y->d + (size_t)c * plane;
            double       scale = rstd * g[c], shift = g[c_n + c] - mean * scale;
            for (size_t i = 0; i < plane; i++) {
                float v = (float)(xc[i] * scale + shift);
                yc[i] = v / (1.0f + expf(-v));
            }
        }
    }
    free(g);
    return status;
}

/* x ← shortcut(x) + conv2(silu(gn2(conv1(silu(gn1(x)))))), as vae.c's resnet. */
static enum lw_status resnet(struct banded *b, const struct vae_resnet *r, int64_t groups, struct host_act *x,
                             struct lw_error *err) {
    struct host_act t = {0}, h = {0}, s = {0};
    enum lw_status  status = act_alloc(&t, r->cin, x->h, x->w, err);
    if (status == LW_OK) status = group_norm_silu(x, r->norm1_w, r->norm1_b, groups, &t, err);
    if (status == LW_OK) status = act_alloc(&h, r->cout, x->h, x->w, err);
    if (status == LW_OK) status = band_conv(b, &t, false, r->conv1_w, r->conv1_b, CONV3, &h, false, err);
    act_free(&t);
    if (status == LW_OK) status = group_norm_silu(&h, r->norm2_w, r->norm2_b, groups, &h, err);
    if (status == LW_OK && r->cin != r->cout) {
        status = act_alloc(&s, r->cout, x->h, x->w, err);
        if (status == LW_OK) status = band_conv(b, x, false, r->shortcut_w, r->shortcut_b, CONV1, &s, false, err);
        act_free(x);
        *x = s;
    }
    if (status == LW_OK) status = band_conv(b, &h, false, r->conv2_w, r->conv2_b, CONV3, x, true, err);
    act_free(&h);
    return status;
}

/* x ← the resampling convolution of x, into a new activation: up = nearest ×2 then 3×3 (decoder),
 * else 3×3 stride 2 after padding right and bottom by one (encoder). */
static enum lw_status resample(struct banded *b, struct host_act *x, bool up, struct op_tensor w, struct op_tensor bias,
                               struct lw_error *err) {
    struct host_act y = {0};
    enum lw_status  status = up ? act_alloc(&y, x->c, 2 * x->h, 2 * x->w, err) : act_alloc(&y, x->c, x->h / 2, x->w / 2, err);
    if (status == LW_OK) status = band_conv(b, x, up, w, bias, up ? CONV3 : DOWN, &y, false, err);
    act_free(x);
    *x = y;
    return status;
}

/* The band buffers: rows per band from the request or the budget (and the storage range). */
static enum lw_status band_setup(struct banded *b, int64_t h, int64_t w, int64_t band_rows, struct lw_error *err) {
    const struct vae_config *c = &b->m->cfg;
    uint64_t                 row = 0; /* floats of one row at a level's resolution, its widest tensor */
    for (int64_t l = 0; l < c->levels; l++) {
        int64_t ch = vae_level_width(c, l); /* and the neighbours' widths arriving through a resample */
        if (l > 0 && vae_level_width(c, l - 1) > ch) ch = vae_level_width(c, l - 1);
        if (l + 1 < c->levels && vae_level_width(c, l + 1) > ch) ch = vae_level_width(c, l + 1);
        uint64_t r = (uint64_t)((ch > c->in_channels ? ch : c->in_channels) * (w >> l));
        if (r > row) row = r;
    }
    /* half of the device memory still free (at most BAND_BUDGET), each buffer within one binding */
    const struct cmp_device_info *info = cmp_device_info(b->m->device);
    uint64_t held = cmp_device_allocated_bytes(b->m->device), budget = BAND_BUDGET;
    if (!info->unified_memory && info->device_local_bytes) {
        uint64_t free_bytes = info->device_local_bytes > held ? info->device_local_bytes - held : 0;
        if (free_bytes / 2 < budget) budget = free_bytes / 2;
    }
    uint64_t range = info->max_storage_buffer_range;
    uint64_t limit = (budget / 2 < range ? budget / 2 : range) / 4;
    int64_t  fit = ((int64_t)(limit / row) - 3) / 2; /* a stride-2 band reads 2·rows + 1 input rows */
    if (fit < 1)
        return lw_error_set(err, LW_ERR_TOO_LARGE, "autoencoder (banded): one %lld-pixel row needs %llu bytes "
                            "per band buffer, over %llu", (long long)w, (unsigned long long)(row * 5 * 4),
                            (unsigned long long)(limit * 4));
    b->band = band_rows > 0 && band_rows < fit ? band_rows : fit;
    if (b->band > h) b->band = h;
    b->band_floats = row * (uint64_t)(2 * b->band + 3);
    b->stage = malloc(b->band_floats * sizeof *b->stage);
    if (!b->stage) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    cmp_arena_reset(b->m->res.activations);
    cmp_cmd_reset(b->m->res.cmd);
    b->ctx = (struct op_ctx){.device = b->m->device, .cmd = b->m->res.cmd};
    enum lw_status status = cmp_arena_alloc(b->m->res.activations, b->band_floats * 4, &b->xb, err);
    if (status == LW_OK) status = cmp_arena_alloc(b->m->res.activations, b->band_floats * 4, &b->yb, err);
    return status;
}

enum lw_status vae_decode_banded(struct vae_model *m, const float *latent, int64_t h, int64_t w, int64_t band_rows,
                                 float *image, struct lw_error *err) {
    const struct vae_config *c = &m->cfg;
    const struct vae_half   *d = &m->decoder;
    int64_t                  f = vae_downsampling(m);
    if (h <= 0 || w <= 0) return lw_error_set(err, LW_ERR_ARGUMENT, "autoencoder: latent size %lld×%lld", (long long)w, (long long)h);
    struct banded   b = {.m = m};
    struct host_act x = {0};
    enum lw_status  status = act_alloc(&x, vae_level_width(c, c->levels - 1), h, w, err);
    if (status == LW_OK) status = vae_decode_middle(m, latent, h, w, x.d, err);
    if (status == LW_OK) status = band_setup(&b, h * f, w * f, band_rows, err);
    for (int64_t l = c->levels - 1; l >= 0 && status == LW_OK; l--) {
        for (int64_t i = 0; i <= c->res_blocks && status == LW_OK; i++)
            status = resnet(&b, &d->blocks[l][i], c->groups, &x, err);
        if (l > 0 && status == LW_OK) status = resample(&b, &x, true, d->resample_w[l], d->resample_b[l], err);
    }
    if (status == LW_OK) status = group_norm_silu(&x, d->norm_out_w, d->norm_out_b, c->groups, &x, err);
    struct host_act out = {image, c->out_channels, h * f, w * f};
    if (status == LW_OK) status = band_conv(&b, &x, false, d->conv_out_w, d->conv_out_b, CONV3, &out, false, err);
    act_free(&x);
    free(b.stage);
    cmp_arena_reset(m->res.activations);
    return status;
}

enum lw_status vae_encode_banded(struct vae_model *m, const float *image, int64_t h, int64_t w, int64_t band_rows,
                                 float *latent, struct lw_error *err) {
    const struct vae_config *c = &m->cfg;
    const struct vae_half   *e = &m->encoder;
    enum lw_status           status = vae_check_size(h, w, vae_downsampling(m), err);
    if (status != LW_OK) return status;
    if (!e->present) return lw_error_set(err, LW_ERR_ARGUMENT, "autoencoder: encoder not loaded");
    struct banded   b = {.m = m};
    struct host_act in = {(float *)image, c->in_channels, h, w}, x = {0}; /* `in` is only read */
    status = band_setup(&b, h, w, band_rows, err);
    if (status == LW_OK) status = act_alloc(&x, c->ch, h, w, err);
    if (status == LW_OK) status = band_conv(&b, &in, false, e->conv_in_w, e->conv_in_b, CONV3, &x, false, err);
    for (int64_t l = 0; l < c->levels && status == LW_OK; l++) {
        for (int64_t i = 0; i < c->res_blocks && status == LW_OK; i++)
            status = resnet(&b, &e->blocks[l][i], c->groups, &x, err);
        if (l + 1 < c->levels && status == LW_OK)
            status = resample(&b, &x, false, e->resample_w[l], e->resample_b[l], err);
    }
    free(b.stage);
    cmp_arena_reset(m->res.activations);
    if (status == LW_OK) status = vae_encode_middle(m, x.d, x.h, x.w, latent, err);
    act_free(&x);
    return status;
}
