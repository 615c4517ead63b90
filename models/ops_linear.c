/* op_matmul and op_attention: the two ops that carry almost all the FLOPs. */
#include <math.h>

#include "ops_internal.h"

struct matmul_push {
    uint32_t m, n, k, x_off, x_stride, w_off, y_off, y_stride, b_off, g_off;
    uint32_t has_bias, has_gate, act, mode;
};
_Static_assert(sizeof(struct matmul_push) == 56, "mirrors shaders/matmul.comp");

enum lw_status op_matmul(struct op_ctx *ctx, const struct op_matmul_args *a, struct lw_error *err) {
    enum lw_status status;
    int64_t        m = a->x.rows, k = a->x.cols, n = a->w.rows;
    if ((status = op_check("matmul", "x", &a->x, -1, -1, true, err)) ||
        (status = op_check("matmul", "W", &a->w, -1, k, false, err)) ||
        (status = op_check("matmul", "y", &a->y, m, n, true, err)))
        return status;
    if (!op_tensor_absent(&a->bias) && (status = op_check("matmul", "bias", &a->bias, -1, -1, true, err)))
        return status;
    if (!op_tensor_absent(&a->gate) && (status = op_check("matmul", "gate", &a->gate, -1, -1, true, err)))
        return status;
    if (op_stride(&a->w) != k)
        return lw_error_set(err, LW_ERR_ARGUMENT, "matmul: W must be contiguous rows");
    if (m == 0 || n == 0) return LW_OK;
    /* Operands larger than one binding window are split: along N while W or y is too wide, else
     * along M (each half is a slice: no copies). */
    bool w_fits = op_fits(&a->w), x_fits = op_fits(&a->x), y_fits = op_fits(&a->y);
    if (!w_fits || !x_fits || !y_fits) {
        struct op_matmul_args lo = *a, hi = *a;
        if (!w_fits || (!y_fits && m == 1)) {
            if (n < 2) return lw_error_set(err, LW_ERR_TOO_LARGE, "matmul: one weight row exceeds the storage range");
            int64_t h = n / 2;
            lo.w = op_tensor_slice(a->w, 0, h, 0, k), hi.w = op_tensor_slice(a->w, h, n - h, 0, k);
            lo.y = op_tensor_slice(a->y, 0, m, 0, h), hi.y = op_tensor_slice(a->y, 0, m, h, n - h);
            if (!op_tensor_absent(&a->bias)) {
                bool col = a->bias.rows == 1;
                lo.bias = col ? op_tensor_slice(a->bias, 0, 1, 0, h) : op_tensor_slice(a->bias, 0, h, 0, 1);
                hi.bias = col ? op_tensor_slice(a->bias, 0, 1, h, n - h) : op_tensor_slice(a->bias, h, n - h, 0, 1);
            }
            if (!op_tensor_absent(&a->gate)) {
                bool col = a->gate.rows == 1;
                lo.gate = col ? op_tensor_slice(a->gate, 0, 1, 0, h) : op_tensor_slice(a->gate, 0, h, 0, 1);
                hi.gate = col ? op_tensor_slice(a->gate, 0, 1, h, n - h) : op_tensor_slice(a->gate, h, n - h, 0, 1);
            }
        } else {
            int64_t h = m / 2;
            if (m < 2) return lw_error_set(err, LW_ERR_TOO_LARGE, "matmul: one row exceeds the storage range");
            lo.x = op_tensor_slice(a->x, 0, h, 0, k), hi.x = op_tensor_slice(a->x, h, m - h, 0, k);
            lo.y = op_tensor_slice(a->y, 0, h, 0, n), hi.y = op_tensor_slice(a->y, h, m - h, 0, n);
        }
        enum lw_status st = op_matmul(ctx, &lo, err);
        return st == LW_OK ? op_matmul(ctx, &hi, err) : st;
    }
    enum cmp_kernel_id id;
    uint32_t           wb;
    switch (a->w.dtype) {
    case LW_DTYPE_F32: id = CMP_KERNEL_MATMUL_F32, wb = 4; break;
    case LW_DTYPE_F16: id = CMP_KERNEL_MATMUL_F16, wb = 2; break;
    case LW_DTYPE_BF16: id = CMP_KERNEL_MATMUL_BF16, wb = 2; break;
    default:
        return lw_error_set(err, LW_ERR_DTYPE, "matmul: weights of dtype %s are not supported yet",
                            lw_dtype_info(a->w.dtype) ? lw_dtype_info(a->w.dtype)->name : "?");
    }
    struct op_binding x = op_bind(&a->x, 4), w = op_bind(&a->w, wb), y = op_bind(&a->y, 4);
    /* Four K-elements per load when everything lines up (the usual case for model weights). On CPU
     * devices that read x and W as texel buffers (32×6 outputs per invocation, 8×1 workgroups); on
     * others as storage buffers (8×8 per invocation, 8×8 workgroups). Otherwise the general kernel
     * (4×4 per invocation, 8×8 workgroups). */
    uint32_t groups_x = cmp_div_up((uint64_t)n, 32), groups_y = cmp_div_up((uint64_t)m, 32);
    bool     aligned =
        k % 4 == 0 && x.offset % 4 == 0 && op_stride(&a->x) % 4 == 0 && w.offset % 4 == 0;
    int  variant = id == CMP_KERNEL_MATMUL_F32 ? 0 : id == CMP_KERNEL_MATMUL_F16 ? 1 : 2;
    struct op_binding x_texels, w_texels;
    if (aligned && op_bind_texels(&a->x, 4, 16, &x_texels) &&
        op_bind_texels(&a->w, wb, 4 * wb, &w_texels)) {
        static const enum cmp_kernel_id texel_ids[] = {
            CMP_KERNEL_MATMUL_TEXEL_F32, CMP_KERNEL_MATMUL_TEXEL_F16, CMP_KERNEL_MATMUL_TEXEL_BF16};
        id = texel_ids[variant], x = x_texels, w = w_texels;
        groups_x = cmp_div_up((uint64_t)n, 8 * 6), groups_y = cmp_div_up((uint64_t)m, 32);
    } else if (aligned) {
        static const enum cmp_kernel_id vec4_ids[] = {
            CMP_KERNEL_MATMUL_VEC4_F32, CMP_KERNEL_MATMUL_VEC4_F16, CMP_KERNEL_MATMUL_VEC4_BF16};
        id = vec4_ids[variant];
        groups_x = cmp_div_up((uint64_t)n, 64), groups_y = cmp_div_up((uint64_t)m, 64);
    }
    struct op_binding b = op_bind_optional(&a->bias, &a->x, 4), g = op_bind_optional(&a->gate, &a->x, 4);
    struct matmul_push p = {
        .m = (uint32_t)m, .n = (uint32_t)n, .k = (uint32_t)k,
        .x_off = x.offset, .x_stride = (uint32_t)op_stride(&a->x), .w_off = w.offset,
        .y_off = y.offset, .y_stride = (uint32_t)op_stride(&a->y), .b_off = b.offset, .g_off = g.offset,
        .has_bias = !op_tensor_absent(&a->bias), .has_gate = !op_tensor_absent(&a->gate),
        .act = (uint32_t)a->act, .mode = (uint32_t)a->mode,
    };
    struct cmp_kernel *kernel;
    if ((status = op_kernel(ctx, id, NULL, 0, &kernel, err))) return status;
    struct cmp_view views[] = {x.view, w.view, b.view, g.view, y.view};
    cmp_cmd_dispatch(ctx->cmd, kernel, views, 5, &p, sizeof p, groups_x, groups_y, 1);
    return LW_OK;
}

struct lora_merge_push {
    uint32_t out_rows, in_cols, rank, w_off, w_stride, a_off, b_off, c_off;
};
_Static_assert(sizeof(struct lora_merge_push) == 32, "mirrors shaders/lora_merge.comp");

static int dtype_index(enum lw_dtype t) { /* f32, f16, bf16 → 0, 1, 2; others −1 */
    return t == LW_DTYPE_F32 ? 0 : t == LW_DTYPE_F16 ? 1 : t == LW_DTYPE_BF16 ? 2 : -1;
}

enum lw_status op_lora_merge(struct op_ctx *ctx, struct op_tensor w, struct op_tensor a, struct op_tensor b,
                             struct op_tensor c, struct lw_error *err) {
    static const enum cmp_kernel_id ids[3][3] = {
        {CMP_KERNEL_LORA_MERGE_F32_F32, CMP_KERNEL_LORA_MERGE_F32_F16, CMP_KERNEL_LORA_MERGE_F32_BF16},
        {CMP_KERNEL_LORA_MERGE_F16_F32, CMP_KERNEL_LORA_MERGE_F16_F16, CMP_KERNEL_LORA_MERGE_F16_BF16},
        {CMP_KERNEL_LORA_MERGE_BF16_F32, CMP_KERNEL_LORA_MERGE_BF16_F16, CMP_KERNEL_LORA_MERGE_BF16_BF16}};
    enum lw_status status;
    int64_t        out = w.rows, in = w.cols, rank = a.rows;
    int            wi = dtype_index(w.dtype), ai = dtype_index(a.dtype);
    if (wi < 0 || ai < 0 || a.dtype != b.dtype)
        return lw_error_set(err, LW_ERR_DTYPE, "lora_merge: weight %s, A %s, B %s (f32/f16/bf16, A and B alike)",
                            lw_dtype_info(w.dtype) ? lw_dtype_info(w.dtype)->name : "?",
                            lw_dtype_info(a.dtype) ? lw_dtype_info(a.dtype)->name : "?",
                            lw_dtype_info(b.dtype) ? lw_dtype_info(b.dtype)->name : "?");
    if ((status = op_check("lora_merge", "w", &w, -1, -1, false, err)) ||
        (status = op_check("lora_merge", "a", &a, rank, in, false, err)) ||
        (status = op_check("lora_merge", "b", &b, out, rank, false, err)) ||
        (status = op_check("lora_merge", "c", &c, 1, rank, true, err)))
        return status;
    if (op_stride(&a) != in || op_stride(&b) != rank || out <= 0 || in <= 0 || rank <= 0)
        return lw_error_set(err, LW_ERR_ARGUMENT, "lora_merge: A and B must be dense, sizes positive");
    uint32_t          wb = wi == 0 ? 4 : 2, ab = ai == 0 ? 4 : 2;
    struct op_binding wv = op_bind(&w, wb), av = op_bind(&a, ab), bv = op_bind(&b, ab), cv = op_bind(&c, 4);
    struct lora_merge_push p = {(uint32_t)out, (uint32_t)in, (uint32_t)rank, wv.offset, (uint32_t)op_stride(&w),
                                av.offset, bv.offset, cv.offset};
    uint64_t per_word = wb == 2 ? 2 : 1;
    uint64_t words = (p.w_off + (uint64_t)(out - 1) * p.w_stride + (uint64_t)in - 1) / per_word - p.w_off / per_word + 1;
    struct cmp_view views[] = {wv.view, av.view, bv.view, cv.view};
    return op_dispatch_linear(ctx, ids[wi][ai], views, 4, &p, sizeof p, words, err);
}

struct attention_push {
    uint32_t mq, mk, heads, head_dim;
    uint32_t q_off, q_stride, k_off, k_stride, v_off, v_stride, o_off, o_stride, bias_off;
    uint32_t has_bias, causal;
    float    scale;
};
_Static_assert(sizeof(struct attention_push) == 64, "mirrors shaders/attention.comp");

enum lw_status op_attention(struct op_ctx *ctx, const struct op_attention_args *a,
                            struct lw_error *err) {
    enum lw_status status;
    int64_t        hd = a->heads * a->head_dim, mq = a->q.rows, mk = a->k.rows;
    if (a->heads <= 0 || a->head_dim <= 0 || a->head_dim > 512)
        return lw_error_set(err, LW_ERR_ARGUMENT, "attention: %lld heads of dim %lld (dim ≤ 512)",
                            (long long)a->heads, (long long)a->head_dim);
    if ((status = op_check("attention", "q", &a->q, -1, hd, true, err)) ||
        (status = op_check("attention", "k", &a->k, -1, hd, true, err)) ||
        (status = op_check("attention", "v", &a->v, mk, hd, true, err)) ||
        (status = op_check("attention", "out", &a->out, mq, hd, true, err)))
        return status;
    if (!op_tensor_absent(&a->bias) &&
        (status = op_check("attention", "bias", &a->bias, a->heads * mq, mk, true, err)))
        return status;
    struct op_binding q = op_bind(&a->q, 4), k = op_bind(&a->k, 4), v = op_bind(&a->v, 4);
    struct op_binding o = op_bind(&a->out, 4), b = op_bind_optional(&a->bias, &a->q, 4);
    struct attention_push p = {
        .mq = (uint32_t)mq, .mk = (uint32_t)mk, .heads = (uint32_t)a->heads,
        .head_dim = (uint32_t)a->head_dim,
        .q_off = q.offset, .q_stride = (uint32_t)op_stride(&a->q),
        .k_off = k.offset, .k_stride = (uint32_t)op_stride(&a->k),
        .v_off = v.offset, .v_stride = (uint32_t)op_stride(&a->v),
        .o_off = o.offset, .o_stride = (uint32_t)op_stride(&a->out),
        .bias_off = b.offset, .has_bias = !op_tensor_absent(&a->bias), .causal = a->causal,
        .scale = a->scale,
    };
    uint32_t           chunk = a->head_dim <= 32 ? 32 : a->head_dim <= 64 ? 64 : 128;
    struct cmp_kernel *kernel;
    /* Four head-dim elements per load when dims, strides and offsets are multiples of 4. */
    bool aligned = a->head_dim % 4 == 0 && q.offset % 4 == 0 && k.offset % 4 == 0 && v.offset % 4 == 0 &&
                   o.offset % 4 == 0 && p.q_stride % 4 == 0 && p.k_stride % 4 == 0 && p.v_stride % 4 == 0 &&
                   p.o_stride % 4 == 0;
    /* On CPU devices, q, k and v as texel buffers (48 queries per workgroup, 8 per storage kernel's 32). */
    enum cmp_kernel_id id = aligned ? CMP_KERNEL_ATTENTION_VEC4 : CMP_KERNEL_ATTENTION;
    uint32_t           queries_per_group = 32;
    struct op_binding  q_texels, k_texels, v_texels;
    if (aligned && op_bind_texels(&a->q, 4, 16, &q_texels) &&
        op_bind_texels(&a->k, 4, 16, &k_texels) && op_bind_texels(&a->v, 4, 16, &v_texels)) {
        id = CMP_KERNEL_ATTENTION_TEXEL, queries_per_group = 8 * 6;
        q = q_texels, k = k_texels, v = v_texels;
        p.q_off = q.offset, p.k_off = k.offset, p.v_off = v.offset;
    }
    if ((status = op_kernel(ctx, id, &chunk, 1, &kernel, err))) return status;
    struct cmp_view views[] = {q.view, k.view, v.view, b.view, o.view};
    cmp_cmd_dispatch(ctx->cmd, kernel, views, 5, &p, sizeof p, cmp_div_up((uint64_t)mq, queries_per_group),
                     (uint32_t)a->heads, cmp_div_up((uint64_t)a->head_dim, chunk));
    return LW_OK;
}
