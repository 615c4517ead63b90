/* Element-wise ops, layout changes and convolution: op_act, op_copy, op_binary, op_transpose,
 * op_upsample_nearest2x, op_pack2x2, op_unpack2x2, op_conv2d. */
#include "ops_internal.h"

struct unary_push {
    uint32_t rows, cols, x_off, x_stride, y_off, y_stride, act;
};
_Static_assert(sizeof(struct unary_push) == 28, "mirrors shaders/unary.comp");

enum lw_status op_act(struct op_ctx *ctx, enum op_act act, struct op_tensor x, struct op_tensor y,
                      struct lw_error *err) {
    enum lw_status status;
    if ((status = op_check("act", "x", &x, -1, -1, true, err)) ||
        (status = op_check("act", "y", &y, x.rows, x.cols, true, err)))
        return status;
    struct op_binding xb = op_bind(&x, 4), yb = op_bind(&y, 4);
    struct unary_push p = {(uint32_t)x.rows, (uint32_t)x.cols, xb.offset, (uint32_t)op_stride(&x),
                           yb.offset, (uint32_t)op_stride(&y), (uint32_t)act};
    struct cmp_view   views[] = {xb.view, yb.view};
    return op_dispatch_linear(ctx, CMP_KERNEL_UNARY, views, 2, &p, sizeof p,
                              (uint64_t)(x.rows * x.cols), err);
}

enum lw_status op_copy(struct op_ctx *ctx, struct op_tensor src, struct op_tensor dst,
                       struct lw_error *err) {
    return op_act(ctx, OP_ACT_NONE, src, dst, err);
}

struct binary_push {
    uint32_t rows, cols, a_off, a_stride, b_off, b_stride, y_off, y_stride, mul;
};
_Static_assert(sizeof(struct binary_push) == 36, "mirrors shaders/binary.comp");

enum lw_status op_binary(struct op_ctx *ctx, enum op_binary kind, struct op_tensor a,
                         struct op_tensor b, struct op_tensor y, struct lw_error *err) {
    enum lw_status status;
    if ((status = op_check("binary", "a", &a, -1, -1, true, err)) ||
        (status = op_check("binary", "b", &b, -1, a.cols, true, err)) ||
        (status = op_check("binary", "y", &y, a.rows, a.cols, true, err)))
        return status;
    if (b.rows != a.rows && b.rows != 1)
        return lw_error_set(err, LW_ERR_SHAPE, "binary: b has %lld rows, a has %lld (or 1 to broadcast)",
                            (long long)b.rows, (long long)a.rows);
    struct op_binding  ab = op_bind(&a, 4), bb = op_bind(&b, 4), yb = op_bind(&y, 4);
    struct binary_push p = {(uint32_t)a.rows, (uint32_t)a.cols, ab.offset, (uint32_t)op_stride(&a),
                            bb.offset, b.rows == 1 && a.rows != 1 ? 0u : (uint32_t)op_stride(&b),
                            yb.offset, (uint32_t)op_stride(&y), kind == OP_MUL};
    struct cmp_view    views[] = {ab.view, bb.view, yb.view};
    return op_dispatch_linear(ctx, CMP_KERNEL_BINARY, views, 3, &p, sizeof p,
                              (uint64_t)(a.rows * a.cols), err);
}

struct layout_push {
    uint32_t op, a, b, c, x_off, x_stride, y_off, y_stride;
};
_Static_assert(sizeof(struct layout_push) == 32, "mirrors shaders/layout_ops.comp");

static enum lw_status layout(struct op_ctx *ctx, struct layout_push p, const struct op_tensor *x,
                             const struct op_tensor *y, uint64_t n, struct lw_error *err) {
    struct op_binding xb = op_bind(x, 4), yb = op_bind(y, 4);
    p.x_off = xb.offset;
    p.y_off = yb.offset;
    p.x_stride = (uint32_t)op_stride(x);
    p.y_stride = (uint32_t)op_stride(y);
    struct cmp_view views[] = {xb.view, yb.view};
    return op_dispatch_linear(ctx, CMP_KERNEL_LAYOUT_OPS, views, 2, &p, sizeof p, n, err);
}

enum lw_status op_transpose(struct op_ctx *ctx, struct op_tensor x, struct op_tensor y,
                            struct lw_error *err) {
    enum lw_status status;
    if ((status = op_check("transpose", "x", &x, -1, -1, true, err)) ||
        (status = op_check("transpose", "y", &y, x.cols, x.rows, true, err)))
        return status;
    struct layout_push p = {.op = 0, .a = (uint32_t)x.rows, .b = (uint32_t)x.cols};
    return layout(ctx, p, &x, &y, (uint64_t)(x.rows * x.cols), err);
}

static enum lw_status check_chw(const char *op, const struct op_tensor *t, struct lw_error *err) {
    enum lw_status status = op_check(op, "image", t, -1, -1, true, err);
    if (status == LW_OK && (t->shape[1] * t->shape[2] != t->cols || op_stride(t) != t->cols))
        status = lw_error_set(err, LW_ERR_SHAPE, "%s: the (C, H, W) tensor is not contiguous", op);
    return status;
}

enum lw_status op_upsample_nearest2x(struct op_ctx *ctx, struct op_tensor x, struct op_tensor y,
                                     struct lw_error *err) {
    enum lw_status status;
    if ((status = check_chw("upsample", &x, err)) || (status = check_chw("upsample", &y, err)))
        return status;
    if (y.shape[0] != x.shape[0] || y.shape[1] != 2 * x.shape[1] || y.shape[2] != 2 * x.shape[2])
        return lw_error_set(err, LW_ERR_SHAPE, "upsample: output is not (C, 2H, 2W)");
    struct layout_push p = {.op = 1, .a = (uint32_t)x.shape[0], .b = (uint32_t)x.shape[1], .c = (uint32_t)x.shape[2]};
    return layout(ctx, p, &x, &y, (uint64_t)(4 * x.rows * x.cols), err);
}

static enum lw_status pack(struct op_ctx *ctx, uint32_t op, const struct op_tensor *latent,
                           const struct op_tensor *tokens, struct lw_error *err) {
    enum lw_status status;
    int64_t        c = latent->shape[0], h = latent->shape[1], w = latent->shape[2];
    if ((status = check_chw("pack2x2", latent, err))) return status;
    if (h % 2 || w % 2)
        return lw_error_set(err, LW_ERR_SHAPE, "pack2x2: latent %lld×%lld is not even", (long long)w,
                            (long long)h);
    if ((status = op_check("pack2x2", "tokens", tokens, h / 2 * (w / 2), 4 * c, true, err))) return status;
    if (op_stride(tokens) != 4 * c) return lw_error_set(err, LW_ERR_SHAPE, "pack2x2: tokens not contiguous");
    struct layout_push p = {.op = op, .a = (uint32_t)c, .b = (uint32_t)h, .c = (uint32_t)w};
    return op == 2 ? layout(ctx, p, latent, tokens, (uint64_t)(c * h * w), err)
                   : layout(ctx, p, tokens, latent, (uint64_t)(c * h * w), err);
}

enum lw_status op_pack2x2(struct op_ctx *ctx, struct op_tensor latent, struct op_tensor tokens,
                          struct lw_error *err) {
    return pack(ctx, 2, &latent, &tokens, err);
}

enum lw_status op_unpack2x2(struct op_ctx *ctx, struct op_tensor tokens, struct op_tensor latent,
                            struct lw_error *err) {
    return pack(ctx, 3, &latent, &tokens, err);
}

struct conv_push {
    uint32_t c_in, h, w, c_out, ho, wo, kh, kw, stride, pad_top, pad_left;
    uint32_t x_off, w_off, b_off, y_off, has_bias, accumulate;
};
_Static_assert(sizeof(struct conv_push) == 68, "mirrors shaders/conv2d.comp");

enum lw_status op_conv2d(struct op_ctx *ctx, const struct op_conv2d_args *a, struct lw_error *err) {
    enum lw_status status;
    if ((status = check_chw("conv2d", &a->x, err)) || (status = check_chw("conv2d", &a->y, err)) ||
        (status = op_check("conv2d", "weight", &a->w, -1, -1, false, err)))
        return status;
    int64_t c = a->x.shape[0], h = a->x.shape[1], w = a->x.shape[2];
    int64_t o = a->w.shape[0], kh = a->w.shape[2], kw = a->w.shape[3], s = a->stride ? a->stride : 1;
    int64_t ho = (h + a->pad_top + a->pad_bottom - kh) / s + 1;
    int64_t wo = (w + a->pad_left + a->pad_right - kw) / s + 1;
    if (a->w.shape[1] != c || kh <= 0 || kw <= 0 || ho <= 0 || wo <= 0 || a->y.shape[0] != o ||
        a->y.shape[1] != ho || a->y.shape[2] != wo)
        return lw_error_set(err, LW_ERR_SHAPE,
                            "conv2d: x (%lld, %lld, %lld), weight (%lld, %lld, %lld, %lld), stride "
                            "%lld give (%lld, %lld, %lld); y is (%lld, %lld, %lld)",
                            (long long)c, (long long)h, (long long)w, (long long)o,
                            (long long)a->w.shape[1], (long long)kh, (long long)kw, (long long)s,
                            (long long)o, (long long)ho, (long long)wo, (long long)a->y.shape[0],
                            (long long)a->y.shape[1], (long long)a->y.shape[2]);
    /* one binding each: the caller splits what is larger (vae_banded.c) */
    const struct op_tensor *parts[] = {&a->x, &a->w, &a->y};
    const char *const       names[] = {"x", "weight", "y"};
    for (int i = 0; i < 3; i++)
        if (!op_fits(parts[i]))
            return lw_error_set(err, LW_ERR_TOO_LARGE, "conv2d: %s (%llu bytes) exceeds one kernel binding", names[i],
                                (unsigned long long)parts[i]->view.bytes);
    enum cmp_kernel_id id;
    uint32_t           wb;
    switch (a->w.dtype) {
    case LW_DTYPE_F32: id = CMP_KERNEL_CONV2D_F32, wb = 4; break;
    case LW_DTYPE_F16: id = CMP_KERNEL_CONV2D_F16, wb = 2; break;
    case LW_DTYPE_BF16: id = CMP_KERNEL_CONV2D_BF16, wb = 2; break;
    default: return lw_error_set(err, LW_ERR_DTYPE, "conv2d: weight dtype not supported");
    }
    struct op_binding xb = op_bind(&a->x, 4), wbind = op_bind(&a->w, wb), yb = op_bind(&a->y, 4);
    struct op_binding bb = op_bind_optional(&a->bias, &a->x, 4);
    /* On CPU devices, stride 1 and kernels up to 3 wide: x and the weights as texel buffers, 32
     * pixels × 4 channels per invocation, 8×1 workgroups (the rest: one output per invocation). */
    const struct cmp_device_info *info = cmp_device_info(ctx->device);
    uint64_t                      texel_groups = (uint64_t)ho * (uint64_t)((wo + 31) / 32);
    struct op_binding             x_texels, w_texels;
    bool texels = s == 1 && kw <= 3 && texel_groups <= info->max_workgroup_count[0] &&
                  op_bind_texels(&a->x, 4, 4, &x_texels) &&
                  op_bind_texels(&a->w, wb, wb, &w_texels);
    if (texels) {
        xb = x_texels, wbind = w_texels;
        id = id == CMP_KERNEL_CONV2D_F32   ? CMP_KERNEL_CONV2D_TEXEL_F32
             : id == CMP_KERNEL_CONV2D_F16 ? CMP_KERNEL_CONV2D_TEXEL_F16
                                           : CMP_KERNEL_CONV2D_TEXEL_BF16;
    }
    struct conv_push  p = {(uint32_t)c, (uint32_t)h, (uint32_t)w, (uint32_t)o, (uint32_t)ho,
                           (uint32_t)wo, (uint32_t)kh, (uint32_t)kw, (uint32_t)s,
                           (uint32_t)a->pad_top, (uint32_t)a->pad_left, xb.offset, wbind.offset,
                           bb.offset, yb.offset, !op_tensor_absent(&a->bias), a->accumulate};
    struct cmp_view views[] = {xb.view, wbind.view, bb.view, yb.view};
    if (!texels)
        return op_dispatch_linear(ctx, id, views, 4, &p, sizeof p, (uint64_t)(o * ho * wo), err);
    struct cmp_kernel *kernel;
    if ((status = op_kernel(ctx, id, NULL, 0, &kernel, err))) return status;
    cmp_cmd_dispatch(ctx->cmd, kernel, views, 4, &p, sizeof p, (uint32_t)texel_groups,
                     cmp_div_up((uint64_t)o, 8 * 4), 1);
    return LW_OK;
}
