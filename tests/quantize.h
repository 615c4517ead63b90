/* Test-side makers of weight files the engine must read: a CPU quantiser for every ggml block type
 * we support and a GGUF writer (with hooks for writing malformed files). Written from the GGUF
 * specification and ggml's block layouts (see models/quant.c), independently of the reader. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dtype.h"

/* Stores n values (a multiple of the block size) as `dtype` into `out` (lw_dtype_bytes(dtype, n)
 * bytes) and writes into `approx` the values the stored codes stand for, computed from the integer
 * codes and scales directly (not by unpacking `out`), so a reader can be checked against it.
 * Plain types (F32, F16, BF16, I32, I64) round or truncate as their storage does. */
void th_quantize(enum lw_dtype dtype, const float *x, size_t n, uint8_t *out, float *approx);

/* ggml_type id of a dtype (GGUF's tensor type field). */
uint32_t th_ggml_type(enum lw_dtype dtype);

/* A growable byte buffer. */
struct th_buf {
    uint8_t *p;
    size_t   len, capacity;
};
void th_buf_put(struct th_buf *b, const void *data, size_t n);
void th_buf_u32(struct th_buf *b, uint32_t v);
void th_buf_u64(struct th_buf *b, uint64_t v);
void th_buf_str(struct th_buf *b, const char *s); /* GGUF string: u64 length + bytes */

/* GGUF value types. */
enum {
    TH_GGUF_U8,
    TH_GGUF_I8,
    TH_GGUF_U16,
    TH_GGUF_I16,
    TH_GGUF_U32,
    TH_GGUF_I32,
    TH_GGUF_F32,
    TH_GGUF_BOOL,
    TH_GGUF_STRING,
    TH_GGUF_ARRAY,
    TH_GGUF_U64,
    TH_GGUF_I64,
    TH_GGUF_F64
};

struct th_gguf {
    uint32_t      version, alignment;
    uint64_t      kv_count, tensor_count;
    struct th_buf kv, info, data;
};
void th_gguf_init(struct th_gguf *g, uint32_t version);
/* A key with a value of `type` whose encoded bytes are `value` (for arrays: element type, count and
 * elements, already encoded). general.alignment written through th_gguf_kv_u32 sets the alignment.
 */
void th_gguf_kv(struct th_gguf *g, const char *key, uint32_t type, const void *value, size_t bytes);
void th_gguf_kv_u32(struct th_gguf *g, const char *key, uint32_t v);
void th_gguf_kv_str(struct th_gguf *g, const char *key, const char *v);
/* A tensor: shape outermost first (written innermost first, as ggml does), data appended at the
 * next aligned offset. */
void th_gguf_tensor(struct th_gguf *g, const char *name, uint32_t ggml_type, int ndim,
                    const int64_t *shape, const void *data, size_t bytes);
/* A tensor info only, with a raw offset (for malformed files). */
void th_gguf_tensor_info(struct th_gguf *g, const char *name, uint32_t ggml_type, int ndim,
                         const int64_t *shape, uint64_t offset);
/* The whole file; frees the parts. The caller frees the result. */
uint8_t *th_gguf_finish(struct th_gguf *g, size_t *len);
bool     th_write_file(const char *path, const void *data, size_t len);
