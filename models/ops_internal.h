/* Private helpers shared by the ops_*.c files: binding a tensor, dispatch shapes, shape errors. */
#pragma once

#include "ops.h"

/* A binding for tensor `t`: a window of its buffer starting at the aligned offset at or below the
 * tensor and at most the device's storage range long, plus the tensor's first element as an element
 * offset (elements of `elem_bytes`) for the push constants. Kernels index from there, so slices at any
 * element offset need no aligned binding. A tensor that does not fit in one window (op_fits false)
 * must be split by the op (op_matmul does); otherwise the dispatch reports it at submit. */
struct op_binding {
    struct cmp_view view;
    uint32_t        offset;
};
struct op_binding op_bind(const struct op_tensor *t, uint32_t elem_bytes);
bool              op_fits(const struct op_tensor *t);
/* The binding of `t` read as a texel buffer of `texel_bytes`-byte texels (offset in elements of
 * `elem_bytes`), for an op's texel-buffer kernel variant: false where that variant is not the
 * choice (devices other than CPU devices, no texel support, misaligned, beyond the texel limit). */
bool op_bind_texels(const struct op_tensor *t, uint32_t elem_bytes, uint32_t texel_bytes,
                    struct op_binding *out);
/* The binding for an optional tensor: `t` if present, else `fallback` (flagged off in the kernel). */
struct op_binding op_bind_optional(const struct op_tensor *t, const struct op_tensor *fallback,
                                   uint32_t elem_bytes);

/* Row stride in elements (cols when 0). */
static inline int64_t op_stride(const struct op_tensor *t) {
    return t->stride ? t->stride : t->cols;
}

/* Records a dispatch over n invocations of a 64-wide kernel (wrapping into y above 65535 groups). */
enum lw_status op_dispatch_linear(struct op_ctx *ctx, enum cmp_kernel_id id, const struct cmp_view *views,
                                  uint32_t view_count, const void *push, uint32_t push_bytes,
                                  uint64_t n, struct lw_error *err);
/* Fetches a kernel with optional specialisation constants. */
enum lw_status op_kernel(struct op_ctx *ctx, enum cmp_kernel_id id, const uint32_t *specs,
                         uint32_t spec_count, struct cmp_kernel **out, struct lw_error *err);

/* Checks that `t` is present, f32 (when f32_only) and its slice lies inside its view. */
enum lw_status op_check(const char *op, const char *name, const struct op_tensor *t, int64_t rows,
                        int64_t cols, bool f32_only, struct lw_error *err);
