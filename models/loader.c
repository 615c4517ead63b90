/* Weight upload with shape checks and a sticky status (see loader.h). */
#include "loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum lw_status ld_resources_create(struct cmp_device *device, struct ld_resources *res,
                                   struct lw_error *err) {
    enum lw_status status = cmp_arena_create(device, CMP_MEMORY_DEVICE, 0, &res->weights, err);
    if (status == LW_OK) status = cmp_arena_create(device, CMP_MEMORY_DEVICE, 0, &res->activations, err);
    if (status == LW_OK) status = cmp_cmd_create(device, &res->cmd, err);
    return status;
}

void ld_resources_destroy(struct ld_resources *res) {
    cmp_cmd_destroy(res->cmd);
    cmp_arena_destroy(res->activations);
    cmp_arena_destroy(res->weights);
    *res = (struct ld_resources){0};
}

const struct wt_tensor *ld_find(struct ld_loader *ld, const char *name) {
    char translated[512];
    if (ld->resolve) {
        if (ld->resolve(ld->file, name, &ld->parts, NULL) != LW_OK) return NULL;
        if (ld->parts.count == 1 && !ld->parts.swap_halves) return ld->parts.part[0];
        snprintf(ld->assembled_name, sizeof ld->assembled_name, "%s", name);
        ld->assembled = (struct wt_tensor){.name = ld->assembled_name,
                                           .dtype = ld->parts.dtype,
                                           .ndim = ld->parts.ndim,
                                           .bytes = ld->parts.bytes,
                                           .scale = ld->parts.part[0]->scale,
                                           .file = ld->parts.part[0]->file};
        memcpy(ld->assembled.shape, ld->parts.shape, sizeof ld->assembled.shape);
        return &ld->assembled;
    }
    if (ld->translate && ld->translate(name, translated, sizeof translated))
        return wt_find(ld->file, translated);
    return wt_find(ld->file, name);
}

static bool shape_ok(const struct wt_tensor *t, int ndim, const int64_t *shape) {
    if (t->ndim != ndim) return false;
    for (int i = 0; i < ndim; i++)
        if (shape[i] >= 0 && t->shape[i] != shape[i]) return false;
    return true;
}

static void shape_str(char *out, size_t size, int ndim, const int64_t *shape) {
    size_t n = (size_t)snprintf(out, size, "[");
    for (int i = 0; i < ndim && n < size; i++)
        n += (size_t)snprintf(out + n, size - n, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (n < size) snprintf(out + n, size - n, "]");
}

/* Looks the tensor up and checks its shape; records the error and returns NULL on failure. */
static const struct wt_tensor *checked(struct ld_loader *ld, const char *name, int ndim,
                                       const int64_t *shape) {
    if (ld->status != LW_OK) return NULL;
    const struct wt_tensor *t = ld_find(ld, name);
    if (!t && ld->resolve) { /* say why: missing, or parts that do not fit */
        ld->status = ld->resolve(ld->file, name, &ld->parts, ld->err);
        return NULL;
    }
    if (!t) {
        ld->status = lw_error_set(ld->err, LW_ERR_MISSING, "%s: tensor %s is missing", ld->path, name);
        return NULL;
    }
    if (!shape_ok(t, ndim, shape)) {
        char want[128], got[128];
        shape_str(want, sizeof want, ndim, shape);
        shape_str(got, sizeof got, t->ndim, t->shape);
        ld->status = lw_error_set(ld->err, LW_ERR_SHAPE, "%s: tensor %s has shape %s, expected %s "
                                  "(-1 = any)", ld->path, name, got, want);
        return NULL;
    }
    return t;
}

const struct wt_tensor *ld_check(struct ld_loader *ld, const char *name, int ndim,
                                 const int64_t *shape) {
    return checked(ld, name, ndim, shape);
}

static struct op_tensor describe(struct cmp_view view, enum lw_dtype dtype,
                                 const struct wt_tensor *t) {
    int64_t cols = 1;
    for (int i = 1; i < t->ndim; i++) cols *= t->shape[i];
    struct op_tensor out = op_tensor_2d(view, dtype, t->ndim ? t->shape[0] : 1, cols);
    for (int i = 0; i < t->ndim && i < 4; i++) out.shape[i] = t->shape[i];
    return out;
}

static struct op_tensor upload(struct ld_loader *ld, const char *name, const void *data,
                               uint64_t bytes, enum lw_dtype dtype, const struct wt_tensor *t) {
    struct op_tensor none = {0};
    struct cmp_view  view;
    ld->status = cmp_arena_alloc(ld->arena, bytes, &view, ld->err);
    if (ld->status == LW_OK) ld->status = cmp_view_upload(view, data, bytes, ld->err);
    if (ld->status != LW_OK) {
        lw_error_prefix(ld->err, "%s: uploading %s: ", ld->path, name);
        return none;
    }
    return describe(view, dtype, t);
}

static enum lw_status read_f32(struct ld_loader *ld, const struct wt_tensor *t, float *out,
                               uint64_t count);

static struct op_tensor weight_f16(struct ld_loader *ld, const char *name,
                                   const struct wt_tensor *t) {
    struct op_tensor none = {0}, out = none;
    uint64_t         n = wt_elements(t);
    float           *host = malloc((n ? n : 1) * sizeof *host);
    uint16_t        *half = malloc((n ? n : 1) * sizeof *half);
    if (!host || !half) {
        free(host), free(half);
        ld->status = lw_error_set(ld->err, LW_ERR_HOST_MEMORY, "%s: out of host memory for %s",
                                  ld->path, name);
        return none;
    }
    ld->status = read_f32(ld, t, host, n);
    for (uint64_t i = 0; ld->status == LW_OK && i < n; i++) half[i] = lw_f32_to_f16(host[i]);
    if (ld->status == LW_OK) out = upload(ld, name, half, n * 2, LW_DTYPE_F16, t);
    free(host), free(half);
    return out;
}

struct op_tensor ld_weight(struct ld_loader *ld, const char *name, int ndim, const int64_t *shape) {
    struct op_tensor        none = {0};
    const struct wt_tensor *t = checked(ld, name, ndim, shape);
    if (!t) return none;
    /* fp8 and integer tensors have no kernel path: widen them to f32 on the way. */
    if (t->dtype == LW_DTYPE_F8_E4M3 || t->dtype == LW_DTYPE_I32 || t->dtype == LW_DTYPE_I64)
        return ld_weight_f32(ld, name, ndim, shape);
    /* ggml blocks: until the matmul kernels read them, dequantise to f16 (one tensor at a time). */
    if (lw_dtype_info(t->dtype)->block_elems > 1) return weight_f16(ld, name, t);
    if (t != &ld->assembled) return upload(ld, name, t->data, t->bytes, t->dtype, t);
    void *host = malloc(t->bytes ? t->bytes : 1);
    if (!host) {
        ld->status = lw_error_set(ld->err, LW_ERR_HOST_MEMORY, "%s: out of host memory for %s",
                                  ld->path, name);
        return none;
    }
    struct op_tensor out = none;
    ld->status = wt_parts_copy(&ld->parts, host, t->bytes, ld->err);
    if (ld->status == LW_OK) out = upload(ld, name, host, t->bytes, t->dtype, t);
    free(host);
    return out;
}

/* A tensor found by ld_find (possibly assembled from parts) as f32. */
static enum lw_status read_f32(struct ld_loader *ld, const struct wt_tensor *t, float *out,
                               uint64_t count) {
    if (t == &ld->assembled) return wt_parts_read_f32(&ld->parts, out, count, ld->err);
    return wt_read_f32(t, out, count, ld->err);
}

struct op_tensor ld_weight_f32(struct ld_loader *ld, const char *name, int ndim,
                               const int64_t *shape) {
    struct op_tensor        none = {0};
    const struct wt_tensor *t = checked(ld, name, ndim, shape);
    if (!t) return none;
    uint64_t count = 1;
    for (int i = 0; i < t->ndim; i++) count *= (uint64_t)t->shape[i];
    if (t->dtype == LW_DTYPE_F32 && t != &ld->assembled)
        return upload(ld, name, t->data, count * 4, LW_DTYPE_F32, t);
    float *host = malloc(count * sizeof *host);
    if (!host) {
        ld->status = lw_error_set(ld->err, LW_ERR_HOST_MEMORY, "%s: out of host memory for %s",
                                  ld->path, name);
        return none;
    }
    ld->status = read_f32(ld, t, host, count);
    struct op_tensor out = none;
    if (ld->status == LW_OK) out = upload(ld, name, host, count * 4, LW_DTYPE_F32, t);
    free(host);
    return out;
}

struct op_tensor ld_vector(struct ld_loader *ld, const char *name, int64_t n) {
    return ld_weight_f32(ld, name, 1, &n);
}

enum lw_status ld_read_host(struct ld_loader *ld, const char *name, float *out, uint64_t count) {
    if (ld->status != LW_OK) return ld->status;
    const struct wt_tensor *t = ld_find(ld, name);
    if (!t)
        return ld->status = lw_error_set(ld->err, LW_ERR_MISSING, "%s: tensor %s is missing",
                                         ld->path, name);
    uint64_t have = 1;
    for (int i = 0; i < t->ndim; i++) have *= (uint64_t)t->shape[i];
    if (have != count)
        return ld->status = lw_error_set(ld->err, LW_ERR_SHAPE,
                                         "%s: tensor %s has %llu elements, expected %llu", ld->path,
                                         name, (unsigned long long)have, (unsigned long long)count);
    return ld->status = read_f32(ld, t, out, count);
}

struct op_tensor ld_weightf(struct ld_loader *ld, int ndim, const int64_t *shape, const char *fmt,
                            ...) {
    char    name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return ld_weight(ld, name, ndim, shape);
}

struct op_tensor ld_vectorf(struct ld_loader *ld, int64_t n, const char *fmt, ...) {
    char    name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return ld_vector(ld, name, n);
}

int64_t ld_meta_int(struct ld_loader *ld, const char *key, int64_t fallback) {
    const char *value = wt_metadata(ld->file, key);
    if (!value) return fallback;
    char     *end = NULL;
    long long v = strtoll(value, &end, 10);
    return end != value ? (int64_t)v : fallback;
}

double ld_meta_float(struct ld_loader *ld, const char *key, double fallback) {
    const char *value = wt_metadata(ld->file, key);
    if (!value) return fallback;
    char  *end = NULL;
    double v = strtod(value, &end);
    return end != value ? v : fallback;
}

int ld_meta_int_list(struct ld_loader *ld, const char *key, int64_t *out, int max) {
    const char *value = wt_metadata(ld->file, key);
    if (!value) return 0;
    int count = 0;
    for (const char *p = value; *p && count < max;) {
        if ((*p >= '0' && *p <= '9') || *p == '-') {
            char *end = NULL;
            out[count++] = strtoll(p, &end, 10);
            p = end;
        } else {
            p++;
        }
    }
    return count;
}
