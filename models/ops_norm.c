/* Normalisations: op_norm (LayerNorm / RMSNorm with affine and adaLN modulation), op_qk_norm_rope,
 * op_group_norm, op_softmax. */
#include "ops_internal.h"

struct norm_push {
    uint32_t rows, cols, x_off, x_stride, y_off, y_stride, w_off, b_off, sh_off, sc_off, flags;
    float    eps;
};
_Static_assert(sizeof(struct norm_push) == 48, "mirrors shaders/norm.comp");

static void row_groups(int64_t rows, uint32_t *gx, uint32_t *gy) {
    *gx = rows > 65535 ? 65535 : (uint32_t)rows;
    *gy = (uint32_t)((rows + *gx - 1) / *gx);
}

enum lw_status op_norm(struct op_ctx *ctx, const struct op_norm_args *a, struct lw_error *err) {
    enum lw_status status;
    int64_t        rows = a->x.rows, cols = a->x.cols;
    if ((status = op_check("norm", "x", &a->x, -1, -1, true, err)) ||
        (status = op_check("norm", "y", &a->y, rows, cols, true, err)))
        return status;
    const struct op_tensor *opt[] = {&a->weight, &a->bias, &a->shift, &a->scale};
    const char             *names[] = {"weight", "bias", "shift", "scale"};
    struct op_binding       bind[4];
    uint32_t                flags = a->rms ? 16u : 0u;
    for (int i = 0; i < 4; i++) {
        if (!op_tensor_absent(opt[i])) {
            if ((status = op_check("norm", names[i], opt[i], -1, -1, true, err))) return status;
            if (opt[i]->rows * opt[i]->cols != cols)
                return lw_error_set(err, LW_ERR_SHAPE, "norm: %s has %lld elements, rows have %lld",
                                    names[i], (long long)(opt[i]->rows * opt[i]->cols), (long long)cols);
            flags |= 1u << i;
        }
        bind[i] = op_bind_optional(opt[i], &a->x, 4);
    }
    struct op_binding x = op_bind(&a->x, 4), y = op_bind(&a->y, 4);
    struct norm_push  p = {
        .rows = (uint32_t)rows, .cols = (uint32_t)cols, .x_off = x.offset,
        .x_stride = (uint32_t)op_stride(&a->x), .y_off = y.offset, .y_stride = (uint32_t)op_stride(&a->y),
        .w_off = bind[0].offset, .b_off = bind[1].offset, .sh_off = bind[2].offset,
        .sc_off = bind[3].offset, .flags = flags, .eps = a->eps,
    };
    struct cmp_kernel *kernel;
    if ((status = op_kernel(ctx, CMP_KERNEL_NORM, NULL, 0, &kernel, err))) return status;
    struct cmp_view views[] = {x.view, bind[0].view, bind[1].view, bind[2].view, bind[3].view, y.view};
    uint32_t        gx, gy;
    row_groups(rows, &gx, &gy);
    cmp_cmd_dispatch(ctx->cmd, kernel, views, 6, &p, sizeof p, gx, gy, 1);
    return LW_OK;
}

struct qk_push {
    uint32_t tokens, heads, head_dim, x_off, x_stride, s_off, r_off, has_scale, has_rope;
    float    eps;
};
_Static_assert(sizeof(struct qk_push) == 40, "mirrors shaders/qk_norm_rope.comp");

static enum lw_status qk_one(struct op_ctx *ctx, const struct op_qk_args *a, const struct op_tensor *x,
                             const struct op_tensor *scale, struct lw_error *err) {
    enum lw_status status;
    int64_t        hd = a->heads * a->head_dim;
    if ((status = op_check("qk_norm_rope", "q/k", x, -1, hd, true, err))) return status;
    if (!op_tensor_absent(scale) && scale->rows * scale->cols != a->head_dim)
        return lw_error_set(err, LW_ERR_SHAPE, "qk_norm_rope: scale has %lld elements, head dim %lld",
                            (long long)(scale->rows * scale->cols), (long long)a->head_dim);
    if (!op_tensor_absent(&a->rope) && a->rope.rows * a->rope.cols != x->rows * a->head_dim * 2)
        return lw_error_set(err, LW_ERR_SHAPE, "qk_norm_rope: rope table has %lld elements, need %lld",
                            (long long)(a->rope.rows * a->rope.cols),
                            (long long)(x->rows * a->head_dim * 2));
    struct op_binding xb = op_bind(x, 4), sb = op_bind_optional(scale, x, 4);
    struct op_binding rb = op_bind_optional(&a->rope, x, 4);
    struct qk_push    p = {
        .tokens = (uint32_t)x->rows, .heads = (uint32_t)a->heads, .head_dim = (uint32_t)a->head_dim,
        .x_off = xb.offset, .x_stride = (uint32_t)op_stride(x), .s_off = sb.offset, .r_off = rb.offset,
        .has_scale = !op_tensor_absent(scale), .has_rope = !op_tensor_absent(&a->rope), .eps = a->eps,
    };
    struct cmp_kernel *kernel;
    if ((status = op_kernel(ctx, CMP_KERNEL_QK_NORM_ROPE, NULL, 0, &kernel, err))) return status;
    struct cmp_view views[] = {sb.view, rb.view, xb.view};
    if (x->rows > 65535) return lw_error_set(err, LW_ERR_TOO_LARGE, "qk_norm_rope: too many tokens");
    cmp_cmd_dispatch(ctx->cmd, kernel, views, 3, &p, sizeof p, (uint32_t)x->rows, (uint32_t)a->heads, 1);
    return LW_OK;
}

enum lw_status op_qk_norm_rope(struct op_ctx *ctx, const struct op_qk_args *a, struct lw_error *err) {
    if (a->head_dim % 2)
        return lw_error_set(err, LW_ERR_ARGUMENT, "qk_norm_rope: odd head dim %lld", (long long)a->head_dim);
    enum lw_status status = qk_one(ctx, a, &a->q, &a->q_scale, err);
    if (status == LW_OK) status = qk_one(ctx, a, &a->k, &a->k_scale, err);
    return status;
}

struct group_norm_push {
    uint32_t channels, hw, groups, x_off, g_off, b_off, y_off, silu;
    float    eps;
};
_Static_assert(sizeof(struct group_norm_push) == 36, "mirrors shaders/group_norm.comp");

enum lw_status op_group_norm(struct op_ctx *ctx, struct op_tensor x, struct op_tensor gamma,
                             struct op_tensor beta, int64_t groups, float eps, bool silu,
                             struct op_tensor y, struct lw_error *err) {
    enum lw_status status;
    int64_t        c = x.rows, hw = x.cols;
    if ((status = op_check("group_norm", "x", &x, -1, -1, true, err)) ||
        (status = op_check("group_norm", "y", &y, c, hw, true, err)) ||
        (status = op_check("group_norm", "gamma", &gamma, -1, -1, true, err)) ||
        (status = op_check("group_norm", "beta", &beta, -1, -1, true, err)))
        return status;
    if (groups <= 0 || c % groups || op_stride(&x) != hw || op_stride(&y) != hw ||
        gamma.rows * gamma.cols != c || beta.rows * beta.cols != c)
        return lw_error_set(err, LW_ERR_SHAPE, "group_norm: %lld channels in %lld groups (contiguous, "
                            "gamma/beta of C)", (long long)c, (long long)groups);
    struct op_binding xb = op_bind(&x, 4), gb = op_bind(&gamma, 4), bb = op_bind(&beta, 4), yb = op_bind(&y, 4);
    struct group_norm_push p = {(uint32_t)c, (uint32_t)hw, (uint32_t)groups, xb.offset, gb.offset,
                                bb.offset, yb.offset, silu, eps};
    struct cmp_kernel *kernel;
    if ((status = op_kernel(ctx, CMP_KERNEL_GROUP_NORM, NULL, 0, &kernel, err))) return status;
    struct cmp_view views[] = {xb.view, gb.view, bb.view, yb.view};
    cmp_cmd_dispatch(ctx->cmd, kernel, views, 4, &p, sizeof p, (uint32_t)groups, 1, 1);
    return LW_OK;
}

struct softmax_push {
    uint32_t rows, cols, x_off, x_stride, y_off, y_stride;
};
_Static_assert(sizeof(struct softmax_push) == 24, "mirrors shaders/softmax.comp");

enum lw_status op_softmax(struct op_ctx *ctx, struct op_tensor x, struct op_tensor y, struct lw_error *err) {
    enum lw_status status;
    if ((status = op_check("softmax", "x", &x, -1, -1, true, err)) ||
        (status = op_check("softmax", "y", &y, x.rows, x.cols, true, err)))
        return status;
    struct op_binding   xb = op_bind(&x, 4), yb = op_bind(&y, 4);
    struct softmax_push p = {(uint32_t)x.rows, (uint32_t)x.cols, xb.offset, (uint32_t)op_stride(&x),
                             yb.offset, (uint32_t)op_stride(&y)};
    struct cmp_kernel  *kernel;
    if ((status = op_kernel(ctx, CMP_KERNEL_SOFTMAX, NULL, 0, &kernel, err))) return status;
    struct cmp_view views[] = {xb.view, yb.view};
    uint32_t        gx, gy;
    row_groups(x.rows, &gx, &gy);
    cmp_cmd_dispatch(ctx->cmd, kernel, views, 2, &p, sizeof p, gx, gy, 1);
    return LW_OK;
}
