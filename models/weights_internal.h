/* What the weight-file readers (safetensors.c, gguf.c) share with weights.c: the wt_file layout and
 * the helpers that add tensors and metadata to it. Not a public header. */
#pragma once

#include "weights.h"

struct wt_source { /* one mapped file */
    char    *path;
    void    *map; /* read-only, NULL for an empty file */
    uint64_t size;
};

struct wt_kv {
    char  *key, *value;
    size_t order; /* insertion order: the first of equal keys wins */
    size_t source;
};

struct wt_file {
    struct wt_source *sources;
    size_t            source_count, source_capacity;
    struct wt_tensor *tensors; /* names owned (strdup) */
    size_t            count, capacity;
    size_t           *by_name; /* tensor indices sorted by name */
    struct wt_kv     *meta;    /* sorted by key after wt_open, duplicates removed */
    size_t            meta_count, meta_capacity;
    const char       *format;
};

/* Maps `path` read-only and appends it to the sources. */
enum lw_status wt_source_map(struct wt_file *f, const char *path, struct wt_source **out,
                             struct lw_error *err);
/* Appends a tensor (its name is copied). */
enum lw_status wt_tensor_add(struct wt_file *f, const struct wt_tensor *t, struct lw_error *err);
/* Appends a metadata pair (copied; `value_len` bytes of value). */
enum lw_status wt_meta_add(struct wt_file *f, size_t source, const char *key, const char *value,
                           size_t value_len, struct lw_error *err);
/* Checks that tensors [first, f->count) of one source do not share bytes. */
enum lw_status wt_check_overlaps(struct wt_file *f, size_t first, const char *path,
                                 struct lw_error *err);

/* Readers: parse a mapped source and append its tensors and metadata. */
enum lw_status wt_safetensors_parse(struct wt_file *f, size_t source, struct lw_error *err);
enum lw_status wt_gguf_parse(struct wt_file *f, size_t source, struct lw_error *err);

/* ggml block dequantisation: `blocks` whole blocks of `dtype` to f32 (quant.c). */
void wt_dequant_blocks(enum lw_dtype dtype, const uint8_t *in, uint64_t blocks, float *out);
