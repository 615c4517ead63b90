/* Weight files: safetensors (one file, a folder of shards, or a `*.safetensors.index.json`) and
 * GGUF v2/v3, read through read-only memory maps with every header field validated against the
 * file before any tensor byte is touched.
 *
 * A tensor's `data` points into the map (no second copy in host memory) and stays valid until
 * wt_close. Shapes are outermost first (GGUF's innermost-first dims are reversed). Quantised GGUF
 * tensors keep their ggml blocks; wt_read_f32 dequantises on the CPU. Errors name the file and the
 * tensor or key. Not here: name mapping between layouts (names_flux.h, and each network's own
 * translation) and device upload (loader.h).
 *
 * Thread-safety: an open wt_file is immutable; concurrent readers are fine. */
#pragma once

#include <stdbool.h>
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
    int64_t       shape[WT_MAX_DIMS]; /* outermost first */
    const void   *data;               /* into the read-only map; ggml blocks for quantised types */
    uint64_t      bytes;
    float         scale; /* multiplies F8 values: a ComfyUI `*.scale_weight` companion, else 1 */
    const char   *file;  /* path of the file holding it */
};

/* Opens weights. `path` is detected by content, not by name:
 *  - a file starting with "GGUF": GGUF v2/v3 (general.alignment honoured, KVs as metadata);
 *  - a `*.json` file: a safetensors index (`weight_map`, shards relative to the index's folder);
 *  - any other file: safetensors;
 *  - a folder: its `*.safetensors.index.json` if it has exactly one, else every `*.safetensors`
 *    in it (sorted by name) read as one set.
 * LW_ERR_FILE when something cannot be read, LW_ERR_FORMAT for a malformed or lying header
 * (offsets out of range or overlapping, sizes that disagree with shape × dtype, duplicate names),
 * LW_ERR_DTYPE for an element type we do not read, LW_ERR_MISSING when an index names a tensor its
 * shard lacks. On error *out is NULL and nothing stays open. */
enum lw_status wt_open(const char *path, struct wt_file **out, struct lw_error *err);
void           wt_close(struct wt_file *file); /* NULL is fine */

size_t                  wt_count(const struct wt_file *file);
const struct wt_tensor *wt_at(const struct wt_file *file, size_t index); /* NULL past the end */
/* By exact name (binary search); NULL when absent. */
const struct wt_tensor *wt_find(const struct wt_file *file, const char *name);
/* Metadata as strings: safetensors `__metadata__` string values (the first shard that has the key);
 * GGUF key/values rendered as text (numbers in decimal, bools true/false, strings raw, arrays as
 * JSON). NULL when absent. Valid until wt_close. */
const char *wt_metadata(const struct wt_file *file, const char *key);
size_t      wt_metadata_count(const struct wt_file *file);
const char *wt_metadata_key(const struct wt_file *file, size_t index); /* sorted; NULL past end */
/* "safetensors" or "gguf". */
const char *wt_format(const struct wt_file *file);
/* Files the set was read from (shards; 1 for a single file). */
size_t      wt_file_count(const struct wt_file *file);
const char *wt_file_path(const struct wt_file *file, size_t index);

/* Elements of a tensor: the product of its shape. */
uint64_t wt_elements(const struct wt_tensor *tensor);

/* Converts a tensor (or a caller-made narrower view of one: data, bytes and shape adjusted
 * consistently, whole blocks for quantised types) to f32. `count` must equal wt_elements.
 * F32, F16, BF16, F8_E4M3 (× scale), I32, I64, and the GGUF quantisations Q8_0, Q4_0, Q4_1, Q5_0,
 * Q5_1, Q4_K, Q5_K, Q6_K. LW_ERR_SHAPE on a count or size mismatch. */
enum lw_status wt_read_f32(const struct wt_tensor *tensor, float *out, uint64_t count,
                           struct lw_error *err);

/* Writes a safetensors file: tensors in the given order, each `bytes` long in its own dtype (F32,
 * F16, BF16, F8_E4M3, I32, I64: the ones safetensors names). `meta` is NULL or a NULL-terminated
 * list of key, value strings for `__metadata__`. LW_ERR_ARGUMENT for a tensor whose bytes disagree
 * with its shape, LW_ERR_DTYPE for a quantised one, LW_ERR_FILE when writing fails. */
enum lw_status wt_write_safetensors(const char *path, const struct wt_tensor *tensors, size_t count,
                                    const char *const *meta, struct lw_error *err);

/* A tensor assembled from others: `count` source tensors concatenated along dim 0 (outermost), in
 * order, then optionally its two row halves exchanged. This is how a fused BFL weight is read from
 * a file that stores it split (names_flux.h). All parts share dtype and trailing dims. */
#define WT_MAX_PARTS 4
struct wt_parts {
    int                     count;
    const struct wt_tensor *part[WT_MAX_PARTS];
    bool                    swap_halves;
    enum lw_dtype           dtype;
    int                     ndim;
    int64_t                 shape[WT_MAX_DIMS]; /* of the result */
    uint64_t                bytes;              /* of the result, in `dtype` */
};

/* Fills shape, dtype and bytes from part[0..count) and swap_halves, checking the parts fit together
 * (same dtype and trailing dims; an even row count to swap). LW_ERR_SHAPE / LW_ERR_DTYPE naming the
 * parts otherwise. */
enum lw_status wt_parts_finish(struct wt_parts *parts, struct lw_error *err);
/* The result's bytes in its stored dtype (`bytes` must equal parts->bytes): for an upload that
 * keeps the file's dtype. Rows are whole blocks for quantised dtypes, so concatenation is
 * byte-wise. */
enum lw_status wt_parts_copy(const struct wt_parts *parts, void *out, uint64_t bytes,
                             struct lw_error *err);
/* The result as f32 (`count` must be its element count). */
enum lw_status wt_parts_read_f32(const struct wt_parts *parts, float *out, uint64_t count,
                                 struct lw_error *err);
