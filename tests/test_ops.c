/* Every op of models/ops.h against its CPU reference (tests/ref.c) on random inputs over awkward
 * shapes: odd and prime sizes, sizes that are not multiples of the workgroup, slices at odd element
 * offsets with strides, every weight dtype (inputs rounded through the dtype before the reference).
 * Outputs are poisoned with NaN first, so an element a kernel never writes fails. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ops.h"
#include "ref.h"

static struct cmp_device *dev;
static struct cmp_arena  *arena;
static struct cmp_cmd    *cmd;
static struct th_rng      rng;
static size_t             pad_elems = 3; /* odd: slices not 4-aligned; 4: the vectorised paths */

/* Uploads n floats (as dtype) at an odd element offset inside a fresh allocation, so kernels are
 * exercised on views that do not start at a buffer's beginning. */
static struct op_tensor upload(const float *x, int64_t rows, int64_t cols, enum lw_dtype dtype) {
    struct lw_error err = {0};
    size_t          n = (size_t)(rows * cols), eb = dtype == LW_DTYPE_F32 ? 4 : 2, pad = pad_elems * eb;
    struct cmp_view v;
    cmp_arena_alloc(arena, n * eb + pad, &v, &err);
    uint8_t *host = calloc(1, n * eb + pad);
    for (size_t i = 0; i < n; i++) {
        if (dtype == LW_DTYPE_F32) memcpy(host + pad + 4 * i, &x[i], 4);
        else {
            uint16_t h = dtype == LW_DTYPE_F16 ? th_f32_to_f16(x[i]) : th_f32_to_bf16(x[i]);
            memcpy(host + pad + 2 * i, &h, 2);
        }
    }
    cmp_view_upload(v, host, n * eb + pad, &err);
    free(host);
    return op_tensor_2d(cmp_view_slice(v, pad, n * eb), dtype, rows, cols);
}

static struct op_tensor output(int64_t rows, int64_t cols, float *poison_host) {
    float *p = malloc((size_t)(rows * cols) * sizeof *p);
    if (poison_host) memcpy(p, poison_host, (size_t)(rows * cols) * sizeof *p);
    else th_poison(p, (size_t)(rows * cols));
    struct op_tensor t = upload(p, rows, cols, LW_DTYPE_F32);
    free(p);
    return t;
}

static float *download(struct op_tensor t) {
    struct lw_error err = {0};
    size_t          n = (size_t)(t.rows * t.cols);
    float          *out = malloc(n * sizeof *out);
    th_check(cmp_cmd_submit(cmd, &err) == LW_OK, "submit: %s", err.message);
    cmp_cmd_reset(cmd);
    cmp_view_download(t.view, out, n * 4, &err);
    return out;
}

static float *randn(size_t n, float scale) {
    float *x = malloc(n * sizeof *x);
    th_fill_normal(&rng, x, n, scale);
    return x;
}

static float round_to(float x, enum lw_dtype dtype) {
    return dtype == LW_DTYPE_F16 ? th_round_f16(x) : dtype == LW_DTYPE_BF16 ? th_round_bf16(x) : x;
}

/* Runs `test` on a device that reports no texel-buffer support, so the storage-buffer kernels are
 * tested too (on lavapipe the texel kernels are otherwise the ones chosen). */
static void without_texels(void (*test)(void)) {
    struct cmp_device        *saved_dev = dev;
    struct cmp_arena         *saved_arena = arena;
    struct cmp_cmd           *saved_cmd = cmd;
    struct cmp_device_options opt = {.no_texel_buffers = true, .cache_dir = ""};
    struct lw_error           err = {0};
    th_check(cmp_device_create(&opt, &dev, &err) == LW_OK, "device without texels: %s",
             err.message);
    th_check(cmp_arena_create(dev, CMP_MEMORY_DEVICE, 32u << 20, &arena, &err) == LW_OK,
             "arena: %s", err.message);
    th_check(cmp_cmd_create(dev, &cmd, &err) == LW_OK, "cmd: %s", err.message);
    test();
    cmp_cmd_destroy(cmd);
    cmp_arena_destroy(arena);
    cmp_device_destroy(dev);
    dev = saved_dev, arena = saved_arena, cmd = saved_cmd;
}

static void test_matmul(void) {
    const int shapes[][3] = {{1, 1, 1},     {3, 5, 7},   {13, 17, 19}, {32, 32, 64}, {33, 31, 65},
                             {127, 3, 129}, {5, 200, 3}, {1, 4, 4},    {13, 17, 20}, {37, 61, 132},
                             {65, 97, 40},  {31, 49, 8}, {100, 5, 36}};
    const struct cmp_device_info *info = cmp_device_info(dev);
    bool                texels = info->type == CMP_DEVICE_CPU && info->max_texel_elements > 0;
    const enum lw_dtype dtypes[] = {LW_DTYPE_F32, LW_DTYPE_F16, LW_DTYPE_BF16};
    struct op_ctx       ctx = {dev, cmd};
    for (size_t s = 0; s < 2 * sizeof shapes / sizeof shapes[0]; s++)
        for (int di = 0; di < 3; di++)
            for (int variant = 0; variant < 4; variant++) {
                size_t shape = s % (sizeof shapes / sizeof shapes[0]);
                pad_elems = s < sizeof shapes / sizeof shapes[0] ? 3 : 4; /* second pass: aligned */
                int   m = shapes[shape][0], n = shapes[shape][1], k = shapes[shape][2];
                int   act = variant % 5, mode = variant == 2 ? 1 : variant == 3 ? 2 : 0;
                float *x = randn((size_t)m * k, 1), *w = randn((size_t)n * k, 0.3f), *b = randn(n, 1);
                float *g = randn(n, 1), *y0 = randn((size_t)m * n, 1), *want = malloc((size_t)m * n * 4);
                for (int i = 0; i < n * k; i++) w[i] = round_to(w[i], dtypes[di]);
                memcpy(want, y0, (size_t)m * n * 4);
                bool has_bias = variant != 1, has_gate = variant == 2;
                ref_matmul(x, w, has_bias ? b : NULL, has_gate ? g : NULL, want, m, n, k, act, mode);
                struct op_tensor      ty = output(m, n, mode ? y0 : NULL);
                struct op_matmul_args a = {.x = upload(x, m, k, LW_DTYPE_F32), .w = upload(w, n, k, dtypes[di]),
                                           .y = ty, .act = (enum op_act)act, .mode = (enum op_matmul_mode)mode};
                if (has_bias) a.bias = upload(b, n, 1, LW_DTYPE_F32);
                if (has_gate) a.gate = upload(g, 1, n, LW_DTYPE_F32);
                struct lw_error err = {0};
                th_check(op_matmul(&ctx, &a, &err) == LW_OK, "op_matmul: %s", err.message);
                if (pad_elems == 4 && k % 4 == 0) { /* aligned: the variant for this device class */
                    bool is_texel =
                        (int)cmp_cmd_last_kernel(cmd) == CMP_KERNEL_MATMUL_TEXEL_F32 + di;
                    bool is_vec4 = (int)cmp_cmd_last_kernel(cmd) == CMP_KERNEL_MATMUL_VEC4_F32 + di;
                    th_check(texels ? is_texel : is_vec4, "matmul %dx%dx%d %s: %s kernel chosen", m,
                             n, k, lw_dtype_info(dtypes[di])->name,
                             cmp_kernel_name(cmp_cmd_last_kernel(cmd)));
                }
                float *got = download(ty);
                char   what[96];
                snprintf(what, sizeof what, "matmul %dx%dx%d %s act %d mode %d %s%s", m, n, k,
                         lw_dtype_info(dtypes[di])->name, act, mode,
                         pad_elems == 4 ? "aligned" : "odd offset",
                         texels ? "" : ", storage kernels");
                th_check_close(what, got, want, (size_t)m * n, 1e-4, 1e-4);
                free(x), free(w), free(b), free(g), free(y0), free(want), free(got);
            }
    pad_elems = 3;
    /* A strided slice in and out: columns 3..3+k of a wider x, rows 2.. of a wider y. */
    int    m = 9, n = 11, k = 13, wide = 20;
    float *xw = randn((size_t)m * wide, 1), *w = randn((size_t)n * k, 0.3f), *x = malloc((size_t)m * k * 4);
    for (int i = 0; i < m; i++) memcpy(x + i * k, xw + i * wide + 3, (size_t)k * 4);
    float *want = malloc((size_t)m * n * 4);
    ref_matmul(x, w, NULL, NULL, want, m, n, k, 0, 0);
    struct op_tensor      yw = output(m + 2, n + 5, NULL);
    struct op_matmul_args a = {.x = op_tensor_slice(upload(xw, m, wide, LW_DTYPE_F32), 0, m, 3, k),
                               .w = upload(w, n, k, LW_DTYPE_F32), .y = op_tensor_slice(yw, 2, m, 1, n)};
    struct lw_error err = {0};
    op_matmul(&ctx, &a, &err);
    float *got = download(yw), *sub = malloc((size_t)m * n * 4);
    for (int i = 0; i < m; i++) memcpy(sub + i * n, got + (i + 2) * (n + 5) + 1, (size_t)n * 4);
    th_check_close("matmul on strided slices", sub, want, (size_t)m * n, 1e-4, 1e-4);
    th_check(isnan(got[0]) && isnan(got[(m + 1) * (n + 5) + n + 4]), "matmul leaves the rest of y alone");
    a.y = output(m, n + 1, NULL);
    th_check(op_matmul(&ctx, &a, &err) == LW_ERR_SHAPE && strstr(err.message, "y"), "shape mismatch: %s", err.message);
    free(xw), free(w), free(x), free(want), free(got), free(sub);
}

static void test_norm(void) {
    struct op_ctx ctx = {dev, cmd};
    const int     shapes[][2] = {{1, 1}, {3, 7}, {17, 64}, {5, 129}, {2, 1000}};
    for (size_t s = 0; s < 5; s++)
        for (int variant = 0; variant < 4; variant++) {
            int    r = shapes[s][0], c = shapes[s][1];
            bool   rms = variant == 3;
            float *x = randn((size_t)r * c, 2), *w = randn(c, 1), *b = randn(c, 1), *sh = randn(c, 1), *sc = randn(c, 1);
            for (int i = 0; i < r * c; i++) x[i] += 3; /* a mean to remove */
            float *want = malloc((size_t)r * c * 4);
            const float *rw = variant == 1 || rms ? w : NULL, *rb = variant == 1 ? b : NULL;
            const float *rsh = variant == 2 ? sh : NULL, *rsc = variant == 2 ? sc : NULL;
            ref_norm(x, rw, rb, rsh, rsc, want, r, c, 1e-6f, rms);
            struct op_tensor    y = output(r, c, NULL);
            struct op_norm_args a = {.x = upload(x, r, c, LW_DTYPE_F32), .y = y, .eps = 1e-6f, .rms = rms};
            if (rw) a.weight = upload(w, c, 1, LW_DTYPE_F32);
            if (rb) a.bias = upload(b, c, 1, LW_DTYPE_F32);
            if (rsh) a.shift = upload(sh, 1, c, LW_DTYPE_F32), a.scale = upload(sc, 1, c, LW_DTYPE_F32);
            struct lw_error err = {0};
            th_check(op_norm(&ctx, &a, &err) == LW_OK, "op_norm: %s", err.message);
            float *got = download(y);
            char   what[64];
            snprintf(what, sizeof what, "norm %dx%d variant %d", r, c, variant);
            th_check_close(what, got, want, (size_t)r * c, 1e-4, 1e-4);
            free(x), free(w), free(b), free(sh), free(sc), free(want), free(got);
        }
}

static void test_attention(void) {
    struct op_ctx ctx = {dev, cmd};
    const int     cases[][5] = {/* mq, mk, h, d, flags (1 causal, 2 bias) */
                            {1, 1, 1, 8, 0}, {7, 13, 2, 32, 0}, {127, 127, 3, 64, 1}, {33, 257, 2, 128, 2}, {3, 1031, 1, 128, 0}, {33, 257, 4, 64, 0}, {33, 25, 2, 128, 2},
                            {5, 5, 2, 12, 3}, {19, 23, 1, 200, 0}, {9, 9, 1, 512, 0}, {100, 70, 2, 64, 1}, {50, 40, 2, 128, 3},
                            {49, 33, 1, 256, 0}};
    const struct cmp_device_info *info = cmp_device_info(dev);
    bool texels = info->type == CMP_DEVICE_CPU && info->max_texel_elements > 0;
    size_t ncases = sizeof cases / sizeof cases[0];
    for (size_t s = 0; s < 2 * ncases; s++) {
        pad_elems = s < ncases ? 3 : 4; /* second pass: aligned, the vectorised kernel */
        int   mq = cases[s % ncases][0], mk = cases[s % ncases][1], h = cases[s % ncases][2], d = cases[s % ncases][3];
        bool  causal = cases[s % ncases][4] & 1, has_bias = cases[s % ncases][4] & 2;
        float *q = randn((size_t)mq * h * d, 1), *k = randn((size_t)mk * h * d, 1), *v = randn((size_t)mk * h * d, 1);
        float *bias = randn((size_t)h * mq * mk, 2), *want = malloc((size_t)mq * h * d * 4);
        float  scale = 1.0f / sqrtf((float)d);
        ref_attention(q, k, v, has_bias ? bias : NULL, want, mq, mk, h, d, scale, causal);
        struct op_tensor         out = output(mq, h * d, NULL);
        struct op_attention_args a = {.q = upload(q, mq, h * d, LW_DTYPE_F32), .k = upload(k, mk, h * d, LW_DTYPE_F32),
                                      .v = upload(v, mk, h * d, LW_DTYPE_F32), .out = out, .heads = h,
                                      .head_dim = d, .scale = scale, .causal = causal};
        if (has_bias) a.bias = upload(bias, (int64_t)h * mq, mk, LW_DTYPE_F32);
        struct lw_error err = {0};
        th_check(op_attention(&ctx, &a, &err) == LW_OK, "op_attention: %s", err.message);
        if (pad_elems == 4 && d % 4 == 0) {
            enum cmp_kernel_id want_id = texels ? CMP_KERNEL_ATTENTION_TEXEL : CMP_KERNEL_ATTENTION_VEC4;
            th_check(cmp_cmd_last_kernel(cmd) == want_id, "attention %dx%d d%d: %s kernel chosen", mq, mk, d,
                     cmp_kernel_name(cmp_cmd_last_kernel(cmd)));
        }
        float *got = download(out);
        char   what[100];
        snprintf(what, sizeof what, "attention %dx%d h%d d%d causal %d bias %d %s%s", mq, mk, h, d, causal,
                 has_bias, pad_elems == 4 ? "aligned" : "odd offset", texels ? "" : ", storage kernels");
        th_check_close(what, got, want, (size_t)mq * h * d, 1e-4, 1e-3);
        free(q), free(k), free(v), free(bias), free(want), free(got);
    }
    pad_elems = 3;
}

static void test_qk_rope(void) {
    struct op_ctx ctx = {dev, cmd};
    int           tokens = 37, h = 3, d = 32, width = 3 * h * d;
    float        *qkv = randn((size_t)tokens * width, 1), *qs = randn(d, 1), *ks = randn(d, 1);
    float        *rope = malloc((size_t)tokens * d * 2 * 4);
    for (int t = 0; t < tokens; t++)
        for (int i = 0; i < d / 2; i++) {
            double a = t * 0.37 + i * 0.11;
            float *r = rope + ((size_t)t * (d / 2) + i) * 4;
            r[0] = (float)cos(a), r[1] = (float)-sin(a), r[2] = (float)sin(a), r[3] = (float)cos(a);
        }
    float *q = malloc((size_t)tokens * h * d * 4), *k = malloc((size_t)tokens * h * d * 4);
    for (int t = 0; t < tokens; t++) {
        memcpy(q + t * h * d, qkv + t * width, (size_t)h * d * 4);
        memcpy(k + t * h * d, qkv + t * width + h * d, (size_t)h * d * 4);
    }
    ref_qk_norm_rope(q, qs, rope, tokens, h, d, 1e-6f);
    ref_qk_norm_rope(k, ks, rope, tokens, h, d, 1e-6f);
    struct op_tensor  t = upload(qkv, tokens, width, LW_DTYPE_F32);
    struct op_qk_args a = {.q = op_tensor_slice(t, 0, tokens, 0, h * d), .k = op_tensor_slice(t, 0, tokens, h * d, h * d),
                           .q_scale = upload(qs, d, 1, LW_DTYPE_F32), .k_scale = upload(ks, d, 1, LW_DTYPE_F32),
                           .rope = upload(rope, tokens, d * 2, LW_DTYPE_F32), .heads = h, .head_dim = d, .eps = 1e-6f};
    struct lw_error err = {0};
    th_check(op_qk_norm_rope(&ctx, &a, &err) == LW_OK, "op_qk_norm_rope: %s", err.message);
    float *got = download(t), *gq = malloc((size_t)tokens * h * d * 4), *gk = malloc((size_t)tokens * h * d * 4);
    for (int i = 0; i < tokens; i++) {
        memcpy(gq + i * h * d, got + i * width, (size_t)h * d * 4);
        memcpy(gk + i * h * d, got + i * width + h * d, (size_t)h * d * 4);
    }
    th_check_close("qk norm + rope (q)", gq, q, (size_t)tokens * h * d, 1e-5, 1e-4);
    th_check_close("qk norm + rope (k)", gk, k, (size_t)tokens * h * d, 1e-5, 1e-4);
    th_check(memcmp(got + 2 * h * d, qkv + 2 * h * d, (size_t)h * d * 4) == 0, "v columns untouched");
    free(qkv), free(qs), free(ks), free(rope), free(q), free(k), free(got), free(gq), free(gk);
}

static void test_image_ops(void) {
    struct op_ctx   ctx = {dev, cmd};
    struct lw_error err = {0};
    /* group norm, with and without SiLU */
    const int gn[][3] = {{32, 7, 5}, {64, 13, 11}, {96, 1, 1}};
    for (int s = 0; s < 3; s++)
        for (int silu = 0; silu < 2; silu++) {
            int   c = gn[s][0], hw = gn[s][1] * gn[s][2];
            float *x = randn((size_t)c * hw, 2), *g = randn(c, 1), *b = randn(c, 1), *want = malloc((size_t)c * hw * 4);
            ref_group_norm(x, g, b, want, c, hw, 32, 1e-6f, silu);
            struct op_tensor y = output(c, hw, NULL);
            struct op_tensor tx = upload(x, c, hw, LW_DTYPE_F32);
            tx.shape[0] = c, tx.shape[1] = gn[s][1], tx.shape[2] = gn[s][2];
            th_check(op_group_norm(&ctx, tx, upload(g, c, 1, LW_DTYPE_F32), upload(b, c, 1, LW_DTYPE_F32), 32,
                                   1e-6f, silu, y, &err) == LW_OK, "op_group_norm: %s", err.message);
            float *got = download(y);
            th_check_close("group norm", got, want, (size_t)c * hw, 1e-4, 1e-4);
            free(x), free(g), free(b), free(want), free(got);
        }
    /* conv2d: 3×3 pad 1, the autoencoder's downsampling, 1×1, CLIP's 14×14 stride 14; f32 and f16 */
    const int                     cv[][9] = {/* c, h, w, o, k, stride, pt/pl, pb/pr, dtype */
                         {3, 9, 11, 5, 3, 1, 1, 1, 0},  {4, 8, 10, 6, 3, 2, 0, 1, 1},
                         {7, 5, 3, 9, 1, 1, 0, 0, 2},   {3, 28, 28, 8, 14, 14, 0, 0, 0},
                         {5, 6, 70, 40, 3, 1, 1, 1, 0}, {6, 7, 9, 33, 3, 1, 1, 1, 1},
                         {4, 5, 37, 12, 3, 1, 1, 1, 2}, {9, 4, 33, 70, 1, 1, 0, 0, 0}};
    const struct cmp_device_info *info = cmp_device_info(dev);
    bool texels = info->type == CMP_DEVICE_CPU && info->max_texel_elements > 0;
    for (int s = 0; s < (int)(sizeof cv / sizeof cv[0]); s++) {
        int           c = cv[s][0], h = cv[s][1], w = cv[s][2], o = cv[s][3], k = cv[s][4], st = cv[s][5];
        int           pt = cv[s][6], pb = cv[s][7];
        enum lw_dtype dt = cv[s][8] == 0 ? LW_DTYPE_F32 : cv[s][8] == 1 ? LW_DTYPE_F16 : LW_DTYPE_BF16;
        int           ho = (h + pt + pb - k) / st + 1, wo = (w + pt + pb - k) / st + 1;
        float        *x = randn((size_t)c * h * w, 1), *wt = randn((size_t)o * c * k * k, 0.3f), *b = randn(o, 1);
        for (int i = 0; i < o * c * k * k; i++) wt[i] = round_to(wt[i], dt);
        float *want = malloc((size_t)o * ho * wo * 4);
        ref_conv2d(x, wt, b, want, c, h, w, o, k, k, st, pt, pt, pb, pb);
        struct op_tensor tx = upload(x, c, h * w, LW_DTYPE_F32), tw = upload(wt, o, c * k * k, dt);
        tx.shape[0] = c, tx.shape[1] = h, tx.shape[2] = w;
        tw.shape[0] = o, tw.shape[1] = c, tw.shape[2] = k, tw.shape[3] = k;
        struct op_tensor y = output(o, ho * wo, NULL);
        y.shape[0] = o, y.shape[1] = ho, y.shape[2] = wo;
        struct op_conv2d_args a = {.x = tx, .w = tw, .bias = upload(b, o, 1, LW_DTYPE_F32), .y = y, .stride = st,
                                   .pad_top = pt, .pad_left = pt, .pad_bottom = pb, .pad_right = pb};
        th_check(op_conv2d(&ctx, &a, &err) == LW_OK, "op_conv2d: %s", err.message);
        enum cmp_kernel_id base =
            texels && st == 1 && k <= 3 ? CMP_KERNEL_CONV2D_TEXEL_F32 : CMP_KERNEL_CONV2D_F32;
        th_check((int)cmp_cmd_last_kernel(cmd) == (int)base + cv[s][8],
                 "conv2d case %d: %s kernel chosen", s, cmp_kernel_name(cmp_cmd_last_kernel(cmd)));
        float *got = download(y);
        char   what[64];
        snprintf(what, sizeof what, "conv2d case %d%s", s, texels ? "" : ", storage kernels");
        th_check_close(what, got, want, (size_t)o * ho * wo, 1e-4, 1e-4);
        free(x), free(wt), free(b), free(want), free(got);
    }
    /* upsample, pack/unpack, transpose */
    int    c = 5, h = 6, w = 10;
    float *x = randn((size_t)c * h * w, 1);
    struct op_tensor tx = op_tensor_chw(upload(x, c, h * w, LW_DTYPE_F32).view, c, h, w);
    struct op_tensor up = op_tensor_chw(output(c, 4 * h * w, NULL).view, c, 2 * h, 2 * w);
    op_upsample_nearest2x(&ctx, tx, up, &err);
    float *got = download(up);
    size_t bad = 0;
    for (int ch = 0; ch < c; ch++)
        for (int yy = 0; yy < 2 * h; yy++)
            for (int xx = 0; xx < 2 * w; xx++)
                bad += got[(ch * 2 * h + yy) * 2 * w + xx] != x[(ch * h + yy / 2) * w + xx / 2];
    th_check(bad == 0, "upsample: %zu wrong", bad);
    free(got);
    struct op_tensor tokens = output(h / 2 * (w / 2), 4 * c, NULL);
    op_pack2x2(&ctx, tx, tokens, &err);
    got = download(tokens);
    bad = 0;
    for (int ty = 0; ty < h / 2; ty++)
        for (int txx = 0; txx < w / 2; txx++)
            for (int ch = 0; ch < c; ch++)
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++)
                        bad += got[(ty * (w / 2) + txx) * 4 * c + ch * 4 + dy * 2 + dx] !=
                               x[(ch * h + 2 * ty + dy) * w + 2 * txx + dx];
    th_check(bad == 0, "pack2x2 (spec §2.2 layout): %zu wrong", bad);
    free(got);
    struct op_tensor back = op_tensor_chw(output(c, h * w, NULL).view, c, h, w);
    op_unpack2x2(&ctx, tokens, back, &err);
    got = download(back);
    th_check(memcmp(got, x, (size_t)c * h * w * 4) == 0, "unpack2x2 inverts pack2x2");
    free(got);
    struct op_tensor tr = output(h * w, c, NULL);
    op_transpose(&ctx, op_tensor_2d(tx.view, LW_DTYPE_F32, c, h * w), tr, &err);
    got = download(tr);
    bad = 0;
    for (int i = 0; i < h * w; i++)
        for (int ch = 0; ch < c; ch++) bad += got[i * c + ch] != x[ch * h * w + i];
    th_check(bad == 0, "transpose: %zu wrong", bad);
    free(got), free(x);
}

static void test_elementwise(void) {
    struct op_ctx   ctx = {dev, cmd};
    struct lw_error err = {0};
    int             r = 13, c = 67;
    float          *a = randn((size_t)r * c, 2), *b = randn((size_t)r * c, 1), *row = randn(c, 1);
    float          *want = malloc((size_t)r * c * 4);
    for (int act = 0; act < 5; act++) {
        for (int i = 0; i < r * c; i++) want[i] = (float)ref_act(a[i], act);
        struct op_tensor y = output(r, c, NULL);
        op_act(&ctx, (enum op_act)act, upload(a, r, c, LW_DTYPE_F32), y, &err);
        float *got = download(y);
        char   what[32];
        snprintf(what, sizeof what, "act %d", act);
        th_check_close(what, got, want, (size_t)r * c, 1e-6, 1e-5);
        free(got);
    }
    for (int mul = 0; mul < 2; mul++)
        for (int bcast = 0; bcast < 2; bcast++) {
            for (int i = 0; i < r * c; i++) {
                float bv = bcast ? row[i % c] : b[i];
                want[i] = mul ? a[i] * bv : a[i] + bv;
            }
            struct op_tensor y = output(r, c, NULL);
            op_binary(&ctx, mul ? OP_MUL : OP_ADD, upload(a, r, c, LW_DTYPE_F32),
                      bcast ? upload(row, 1, c, LW_DTYPE_F32) : upload(b, r, c, LW_DTYPE_F32), y, &err);
            float *got = download(y);
            th_check_close(mul ? "binary mul" : "binary add", got, want, (size_t)r * c, 0, 1e-6);
            free(got);
        }
    ref_softmax(a, want, r, c);
    struct op_tensor y = output(r, c, NULL);
    op_softmax(&ctx, upload(a, r, c, LW_DTYPE_F32), y, &err);
    float *got = download(y);
    th_check_close("softmax", got, want, (size_t)r * c, 1e-7, 1e-5);
    free(got), free(a), free(b), free(row), free(want);
}

/* With the storage range capped at 64 KiB, a matmul whose x, W and y are each several windows long
 * is split along N and M and still matches the reference. */
static void test_matmul_split(void) {
    struct cmp_device_options opt = {.storage_range_limit = 64 << 10, .cache_dir = ""};
    struct cmp_device        *small = NULL;
    struct cmp_arena         *ar = NULL;
    struct cmp_cmd           *c = NULL;
    struct lw_error           err = {0};
    if (cmp_device_create(&opt, &small, &err) || cmp_arena_create(small, CMP_MEMORY_DEVICE, 0, &ar, &err) ||
        cmp_cmd_create(small, &c, &err)) {
        th_check(false, "capped device: %s", err.message);
        return;
    }
    struct cmp_device *saved_dev = dev;
    struct cmp_arena  *saved_arena = arena;
    struct cmp_cmd    *saved_cmd = cmd;
    dev = small, arena = ar, cmd = c;
    int   m = 97, n = 301, k = 211; /* x 80 KiB, W 248 KiB, y 114 KiB */
    float *x = randn((size_t)m * k, 1), *w = randn((size_t)n * k, 0.3f), *b = randn(n, 1), *g = randn(n, 1);
    float *y0 = randn((size_t)m * n, 1), *want = malloc((size_t)m * n * 4);
    memcpy(want, y0, (size_t)m * n * 4);
    ref_matmul(x, w, b, g, want, m, n, k, 1, 1);
    struct op_ctx         ctx = {dev, cmd};
    struct op_tensor      y = output(m, n, y0);
    struct op_matmul_args a = {.x = upload(x, m, k, LW_DTYPE_F32), .w = upload(w, n, k, LW_DTYPE_F32), .y = y,
                               .bias = upload(b, n, 1, LW_DTYPE_F32), .gate = upload(g, 1, n, LW_DTYPE_F32),
                               .act = OP_ACT_GELU_TANH, .mode = OP_ACCUMULATE};
    th_check(op_matmul(&ctx, &a, &err) == LW_OK, "split matmul: %s", err.message);
    th_check(cmp_cmd_dispatch_count(cmd) >= 4, "the matmul was split (%u dispatches)", cmp_cmd_dispatch_count(cmd));
    float *got = download(y);
    th_check_close("matmul split across 64 KiB windows", got, want, (size_t)m * n, 1e-4, 1e-4);
    free(x), free(w), free(b), free(g), free(y0), free(want), free(got);
    cmp_cmd_destroy(c);
    cmp_arena_destroy(ar);
    cmp_device_destroy(small);
    dev = saved_dev, arena = saved_arena, cmd = saved_cmd;
}

/* Element i of a raw f32/f16/bf16 buffer as a float. */
static float element(const uint8_t *raw, size_t i, enum lw_dtype dtype) {
    if (dtype == LW_DTYPE_F32) {
        float f;
        memcpy(&f, raw + 4 * i, 4);
        return f;
    }
    uint16_t h;
    memcpy(&h, raw + 2 * i, 2);
    return dtype == LW_DTYPE_F16 ? th_f16_to_f32(h) : th_bf16_to_f32(h);
}

/* op_lora_merge on a row slice of a wider, taller weight at an odd element offset (16-bit words then
 * straddle the slice's edges): inside, w + Σ_r b·c·a rounded to the dtype (16-bit: within one unit
 * in the last place of the reference, the order of the sum differs); outside, bit for bit unchanged.
 * Every dtype pair. */
static void test_lora_merge(void) {
    const int           shapes[][3] = {{1, 1, 1}, {3, 5, 4}, {7, 13, 8}, {17, 33, 12}, {4, 64, 128}}; /* out, in, R */
    const enum lw_dtype dtypes[] = {LW_DTYPE_F32, LW_DTYPE_F16, LW_DTYPE_BF16};
    struct op_ctx       ctx = {dev, cmd};
    pad_elems = 3;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int wi = 0; wi < 3; wi++)
            for (int ai = 0; ai < 3; ai++) {
                int           out = shapes[s][0], in = shapes[s][1], rank = shapes[s][2];
                int           rows = out + 3, cols = in + 1, row0 = 1; /* parent (rows, cols) */
                enum lw_dtype wd = dtypes[wi], ad = dtypes[ai];
                float *w = randn((size_t)rows * cols, 1), *a = randn((size_t)rank * in, 0.5f);
                float *b = randn((size_t)out * rank, 0.5f), *c = randn((size_t)rank, 1);
                for (int i = 0; i < rows * cols; i++) w[i] = round_to(w[i], wd);
                for (int i = 0; i < rank * in; i++) a[i] = round_to(a[i], ad);
                for (int i = 0; i < out * rank; i++) b[i] = round_to(b[i], ad);
                struct op_tensor wt = upload(w, rows, cols, wd), at = upload(a, rank, in, ad);
                struct op_tensor bt = upload(b, out, rank, ad), ct = upload(c, 1, rank, LW_DTYPE_F32);
                struct lw_error  err = {0};
                enum lw_status   st = op_lora_merge(&ctx, op_tensor_slice(wt, row0, out, 0, in), at, bt, ct, &err);
                size_t           eb = wd == LW_DTYPE_F32 ? 4 : 2;
                uint8_t         *raw = malloc((size_t)rows * cols * eb);
                th_check(cmp_cmd_submit(cmd, &err) == LW_OK, "submit: %s", err.message);
                cmp_cmd_reset(cmd);
                cmp_view_download(wt.view, raw, (size_t)rows * cols * eb, &err);
                int bad = 0;
                for (int r = 0; r < rows; r++)
                    for (int col = 0; col < cols; col++) {
                        float got = element(raw, (size_t)r * cols + col, wd), want = w[r * cols + col];
                        if (r >= row0 && r < row0 + out && col < in) {
                            double d = 0;
                            for (int k = 0; k < rank; k++)
                                d += (double)b[(r - row0) * rank + k] * c[k] * a[k * in + col];
                            float  exact = (float)(want + d);
                            double ulp = wd == LW_DTYPE_F32 ? 1e-5 * (1 + fabs(exact))
                                                            : fabs(exact) * (wd == LW_DTYPE_F16 ? 0x1p-10 : 0x1p-7) + 1e-7;
                            bad += !(fabs(got - round_to(exact, wd)) <= ulp);
                        } else {
                            bad += memcmp(&got, &want, 4) != 0;
                        }
                    }
                th_check(st == LW_OK && bad == 0, "lora_merge out %d in %d rank %d, W %s, A/B %s: %d wrong (%s)", out,
                         in, rank, lw_dtype_info(wd)->name, lw_dtype_info(ad)->name, bad, err.message);
                free(raw), free(w), free(a), free(b), free(c);
            }
    struct lw_error  err = {0};
    float            one = 1;
    struct op_tensor w8 = upload(&one, 1, 1, LW_DTYPE_F32), a8 = upload(&one, 1, 1, LW_DTYPE_F32);
    struct op_tensor b16 = upload(&one, 1, 1, LW_DTYPE_F16);
    th_check(op_lora_merge(&ctx, w8, a8, b16, w8, &err) == LW_ERR_DTYPE, "lora_merge: A and B of different dtypes refused");
}

int main(void) {
    uint64_t seed = 20261122;
    printf("seed %llu\n", (unsigned long long)seed);
    th_rng_seed(&rng, seed);
    dev = th_device_or_skip();
    struct lw_error err = {0};
    cmp_arena_create(dev, CMP_MEMORY_DEVICE, 32u << 20, &arena, &err);
    cmp_cmd_create(dev, &cmd, &err);
    test_matmul();
    without_texels(test_matmul);
    cmp_arena_reset(arena);
    test_norm();
    cmp_arena_reset(arena);
    test_attention();
    cmp_arena_reset(arena);
    without_texels(test_attention);
    cmp_arena_reset(arena);
    test_qk_rope();
    test_image_ops();
    cmp_arena_reset(arena);
    without_texels(test_image_ops);
    test_elementwise();
    test_matmul_split();
    cmp_arena_reset(arena);
    test_lora_merge();
    cmp_cmd_destroy(cmd);
    cmp_arena_destroy(arena);
    cmp_device_destroy(dev);
    return th_finish();
}
