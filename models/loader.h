/* Uploading a network's weights from a weight file to the device, with shape checks.
 *
 * A loader carries a sticky status: the first missing tensor or wrong shape is recorded (with the
 * file and tensor named) and every later call returns an absent tensor, so a network's load
 * function reads as a plain list of its tensors and checks the status once at the end (the same
 * pattern as cmp_cmd's recording errors). Weights keep their file dtype on the device (matmul and
 * conv kernels dequantise) except ggml block types, dequantised to f16 on the host until the
 * kernels read them; vectors used by norms and biases are converted to f32. */
#pragma once

#include <stdarg.h>
#include <stdint.h>

#include "compute.h"
#include "ops.h"
#include "weights.h"

/* What every network holds on the device: weights (loaded once), activations (sized per call) and
 * one command list. */
struct ld_resources {
    struct cmp_arena *weights, *activations;
    struct cmp_cmd   *cmd;
};
enum lw_status ld_resources_create(struct cmp_device *device, struct ld_resources *res,
                                   struct lw_error *err);
void           ld_resources_destroy(struct ld_resources *res); /* NULL members are fine */

struct ld_loader {
    struct cmp_device    *device;
    struct cmp_arena     *arena; /* where the weights go (device memory) */
    const struct wt_file *file;
    const char           *path; /* for messages */
    struct lw_error      *err;
    enum lw_status        status;
    /* Optional name translation (e.g. BFL → diffusers): writes the file's name for `name` into
     * `out` and returns true, or returns false to use `name` as it is. */
    bool (*translate)(const char *name, char *out, size_t out_size);
    /* Optional, instead of `translate`: finds `name` as parts to concatenate (names_flux.h's
     * wt_flux_resolve fits). A tensor stored in several parts is assembled on the host, one tensor
     * at a time, just before its upload. */
    enum lw_status (*resolve)(const struct wt_file *file, const char *name, struct wt_parts *out,
                              struct lw_error *err);
    /* ld_find's answer for a tensor stored in parts: name, dtype and shape only (data is NULL). */
    struct wt_tensor assembled;
    struct wt_parts  parts;
    char             assembled_name[200];
};

/* Finds a tensor by (translated or resolved) name; NULL if absent (no error recorded). For a tensor
 * stored in parts the answer describes the whole (shape, dtype) with data NULL, valid until the
 * next call on this loader. */
const struct wt_tensor *ld_find(struct ld_loader *ld, const char *name);

/* Checks that tensor `name` exists with `ndim` dims equal to `shape` (-1 = any) without uploading
 * it; NULL and a recorded error otherwise (sticky). For weights a network uploads later or
 * elsewhere. */
const struct wt_tensor *ld_check(struct ld_loader *ld, const char *name, int ndim,
                                 const int64_t *shape);

/* Uploads tensor `name` in its own dtype, checking it has `ndim` dims equal to `shape` (an entry of
 * -1 accepts any size). Returns a 2-D op_tensor (rows = shape[0], cols = product of the rest) with
 * `shape` filled as well. Absent tensor on error (sticky). */
struct op_tensor ld_weight(struct ld_loader *ld, const char *name, int ndim, const int64_t *shape);
/* The same, but converted to f32 on the device (norm weights, biases, embeddings). */
struct op_tensor ld_weight_f32(struct ld_loader *ld, const char *name, int ndim,
                               const int64_t *shape);
/* A 1-D f32 vector of n elements. */
struct op_tensor ld_vector(struct ld_loader *ld, const char *name, int64_t n);
/* Reads a tensor to host memory as f32 (count elements must match exactly). */
enum lw_status ld_read_host(struct ld_loader *ld, const char *name, float *out, uint64_t count);

/* printf-style name helpers: ld_weightf(ld, ndim, shape, "down.%d.block.%d.conv1.weight", l, b). */
struct op_tensor ld_weightf(struct ld_loader *ld, int ndim, const int64_t *shape, const char *fmt,
                            ...) __attribute__((format(printf, 4, 5)));
struct op_tensor ld_vectorf(struct ld_loader *ld, int64_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Integer hyper-parameter from the file's metadata (`key`), else `fallback`. */
int64_t ld_meta_int(struct ld_loader *ld, const char *key, int64_t fallback);
double  ld_meta_float(struct ld_loader *ld, const char *key, double fallback);
/* A JSON-style integer list "[1, 2, 4]" into out (up to max); returns the count, 0 if absent. */
int ld_meta_int_list(struct ld_loader *ld, const char *key, int64_t *out, int max);
