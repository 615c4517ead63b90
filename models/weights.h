/* Weight files: safetensors (one file, or a folder of shards with or without an index), read through
 * a read-only memory map with every header field validated against the file.
 *
 * A tensor's `data` points into the map (no second copy in host memory) and stays valid until
 * wt_close. Shapes are outermost first. Errors name the file and the tensor. Not here: name
 * mapping between layouts (each network translates its own names) and device upload (loader.h). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "status.h"

#define WT_MAX_DIMS 8

struct wt_file;

struct wt_tensor {
    const char   *name;
    enum lw_dtype dtype;
    int           ndim;
    int64_t       shape[WT_MAX_DIMS];
    const void   *data;
    uint64_t      bytes;
    float         scale; /* multiplies F8 values (1 when the file gives none) */
    const char   *file;  /* path of the file holding it */
};

/* Opens a .safetensors file or a folder holding *.safetensors shards (an *.index.json, if present,
 * is not needed: every shard in the folder is read). LW_ERR_FILE when it cannot be read,
 * LW_ERR_FORMAT for a malformed header, LW_ERR_DTYPE for an element type we do not read. */
enum lw_status wt_open(const char *path, struct wt_file **out, struct lw_error *err);
void           wt_close(struct wt_file *file);

size_t                  wt_count(const struct wt_file *file);
const struct wt_tensor *wt_at(const struct wt_file *file, size_t index);
/* NULL when absent. */
const struct wt_tensor *wt_find(const struct wt_file *file, const char *name);
/* A string value of the `__metadata__` object (the first shard that has the key), or NULL. */
const char *wt_metadata(const struct wt_file *file, const char *key);

/* Elements of a tensor: the product of its shape. */
uint64_t wt_elements(const struct wt_tensor *tensor);

/* Converts a tensor (or a caller-made narrower view of one: data, bytes and shape adjusted
 * consistently) to f32. `count` must equal wt_elements. F32, F16, BF16, F8_E4M3 (× scale), I32, I64. */
enum lw_status wt_read_f32(const struct wt_tensor *tensor, float *out, uint64_t count,
                           struct lw_error *err);

/* Writes a safetensors file. `meta` is NULL or a NULL-terminated list of key, value strings. */
enum lw_status wt_write_safetensors(const char *path, const struct wt_tensor *tensors, size_t count,
                                    const char *const *meta, struct lw_error *err);
