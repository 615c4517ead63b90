/* Tensor descriptions and the dispatch plumbing shared by every op (ops.h, ops_internal.h). */
#include "ops_internal.h"

#include <stdio.h>

struct op_tensor op_tensor_2d(struct cmp_view view, enum lw_dtype dtype, int64_t rows, int64_t cols) {
    struct op_tensor t = {.view = view, .dtype = dtype, .rows = rows, .cols = cols, .stride = cols};
    t.shape[0] = rows;
    t.shape[1] = cols;
    return t;
}

static uint32_t elem_bytes(enum lw_dtype dtype) {
    const struct lw_dtype_info *info = lw_dtype_info(dtype);
    return info && info->block_elems == 1 ? info->block_bytes : 0;
}

/* Bytes from a tensor's first element to the end of its last, with `eb`-byte elements. */
static uint64_t span_bytes(const struct op_tensor *t, uint32_t eb) {
    return (uint64_t)((t->rows - 1) * op_stride(t) + t->cols) * eb;
}

struct op_tensor op_tensor_slice(struct op_tensor t, int64_t row0, int64_t nrows, int64_t col0,
                                 int64_t ncols) {
    int64_t  stride = op_stride(&t);
    uint32_t eb = elem_bytes(t.dtype);
    LW_ASSERT(eb && row0 >= 0 && col0 >= 0 && nrows > 0 && ncols > 0 && row0 + nrows <= t.rows &&
              col0 + ncols <= t.cols);
    uint64_t first = (uint64_t)(row0 * stride + col0) * eb;
    uint64_t span = (uint64_t)((nrows - 1) * stride + ncols) * eb;
    struct op_tensor s = t;
    s.view = cmp_view_slice(t.view, first, span);
    s.rows = nrows;
    s.cols = ncols;
    s.stride = stride;
    s.shape[0] = nrows;
    s.shape[1] = ncols;
    s.shape[2] = s.shape[3] = 0;
    return s;
}

struct op_tensor op_tensor_chw(struct cmp_view view, int64_t c, int64_t h, int64_t w) {
    struct op_tensor t = op_tensor_2d(view, LW_DTYPE_F32, c, h * w);
    t.shape[0] = c;
    t.shape[1] = h;
    t.shape[2] = w;
    return t;
}

/* The largest window a kernel may bind: the device's storage range, kept a multiple of 256. */
static uint64_t window_limit(const struct cmp_buffer *buffer) {
    uint64_t range = cmp_device_info(cmp_buffer_device(buffer))->max_storage_buffer_range;
    return range & ~(uint64_t)255;
}

bool op_fits(const struct op_tensor *t) {
    uint64_t align = cmp_device_info(cmp_buffer_device(t->view.buffer))->min_storage_offset_alignment;
    return t->view.offset % align + t->view.bytes <= window_limit(t->view.buffer);
}

struct op_binding op_bind(const struct op_tensor *t, uint32_t bytes) {
    const struct cmp_buffer *buffer = t->view.buffer;
    uint64_t align = cmp_device_info(cmp_buffer_device(buffer))->min_storage_offset_alignment;
    uint64_t start = t->view.offset - t->view.offset % align, size = cmp_buffer_bytes(buffer) - start;
    if (size > window_limit(buffer)) size = window_limit(buffer);
    LW_ASSERT((t->view.offset - start) % bytes == 0);
    struct op_binding b = {.view = {.buffer = t->view.buffer, .offset = start, .bytes = size},
                           .offset = (uint32_t)((t->view.offset - start) / bytes)};
    return b;
}

bool op_bind_texels(const struct op_tensor *t, uint32_t elem_bytes, uint32_t texel_bytes,
                    struct op_binding *out) {
    const struct cmp_buffer      *buffer = t->view.buffer;
    const struct cmp_device_info *info = cmp_device_info(cmp_buffer_device(buffer));
    if (info->type != CMP_DEVICE_CPU) return false; /* GPUs keep the storage-buffer kernels */
    uint64_t                      align = info->min_texel_offset_alignment > texel_bytes
                                              ? info->min_texel_offset_alignment
                                              : texel_bytes;
    uint64_t                      start = t->view.offset - t->view.offset % align;
    uint64_t                      size = cmp_buffer_bytes(buffer) - start,
             limit = info->max_texel_elements * texel_bytes;
    if (size > limit) size = limit;
    size -= size % texel_bytes;
    if ((t->view.offset - start) % texel_bytes ||
        t->view.offset + span_bytes(t, elem_bytes) > start + size)
        return false;
    *out = (struct op_binding){.view = {.buffer = t->view.buffer, .offset = start, .bytes = size},
                               .offset = (uint32_t)((t->view.offset - start) / elem_bytes)};
    return true;
}

struct op_binding op_bind_optional(const struct op_tensor *t, const struct op_tensor *fallback,
                                   uint32_t bytes) {
    if (!op_tensor_absent(t)) return op_bind(t, bytes);
    struct op_binding b = op_bind(fallback, 4);
    b.offset = 0;
    return b;
}

enum lw_status op_kernel(struct op_ctx *ctx, enum cmp_kernel_id id, const uint32_t *specs,
                         uint32_t spec_count, struct cmp_kernel **out, struct lw_error *err) {
    return cmp_kernel_get(ctx->device, id, specs, spec_count, out, err);
}

enum lw_status op_dispatch_linear(struct op_ctx *ctx, enum cmp_kernel_id id, const struct cmp_view *views,
                                  uint32_t view_count, const void *push, uint32_t push_bytes,
                                  uint64_t n, struct lw_error *err) {
    struct cmp_kernel *kernel;
    enum lw_status     status = op_kernel(ctx, id, NULL, 0, &kernel, err);
    if (status != LW_OK) return status;
    uint64_t groups = (n + 63) / 64;
    if (groups == 0) return LW_OK;
    uint32_t gx = groups > 65535 ? 65535 : (uint32_t)groups;
    uint64_t gy = (groups + gx - 1) / gx;
    if (gy > 65535)
        return lw_error_set(err, LW_ERR_TOO_LARGE, "kernel %s: %llu elements in one dispatch",
                            cmp_kernel_name(id), (unsigned long long)n);
    cmp_cmd_dispatch(ctx->cmd, kernel, views, view_count, push, push_bytes, gx, (uint32_t)gy, 1);
    return LW_OK;
}

enum lw_status op_check(const char *op, const char *name, const struct op_tensor *t, int64_t rows,
                        int64_t cols, bool f32_only, struct lw_error *err) {
    if (op_tensor_absent(t)) return lw_error_set(err, LW_ERR_ARGUMENT, "%s: %s is missing", op, name);
    if (f32_only && t->dtype != LW_DTYPE_F32)
        return lw_error_set(err, LW_ERR_DTYPE, "%s: %s must be F32, is %s", op, name,
                            lw_dtype_info(t->dtype) ? lw_dtype_info(t->dtype)->name : "?");
    if ((rows >= 0 && t->rows != rows) || (cols >= 0 && t->cols != cols))
        return lw_error_set(err, LW_ERR_SHAPE, "%s: %s is (%lld, %lld), expected (%lld, %lld)", op,
                            name, (long long)t->rows, (long long)t->cols, (long long)rows,
                            (long long)cols);
    uint32_t eb = elem_bytes(t->dtype);
    if (eb) {
        if (t->rows > 0 && t->cols > 0 && span_bytes(t, eb) > t->view.bytes)
            return lw_error_set(err, LW_ERR_SHAPE, "%s: %s (%lld × %lld, stride %lld) exceeds its "
                                "%llu-byte view", op, name, (long long)t->rows, (long long)t->cols,
                                (long long)op_stride(t), (unsigned long long)t->view.bytes);
    }
    return LW_OK;
}
