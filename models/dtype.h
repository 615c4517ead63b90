/* Element types of tensors, on disk and on the device.
 *
 * Block-quantised types follow GGUF (ggml) exactly: a row of K elements is K/block_elems blocks of
 * block_bytes each, stored consecutively; a weight (N, K) is N such rows. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum lw_dtype {
    LW_DTYPE_F32 = 0,
    LW_DTYPE_F16,
    LW_DTYPE_BF16,
    LW_DTYPE_F8_E4M3, /* with a per-tensor scale where the file provides one */
    LW_DTYPE_I64,
    LW_DTYPE_I32,
    LW_DTYPE_Q8_0, /* 32 elems: f16 d, 32×i8 */
    LW_DTYPE_Q4_0, /* 32 elems: f16 d, 16 bytes of nibbles */
    LW_DTYPE_Q4_1, /* 32 elems: f16 d, f16 m, 16 bytes of nibbles */
    LW_DTYPE_Q5_0, /* 32 elems: f16 d, 4 bytes high bits, 16 bytes of nibbles */
    LW_DTYPE_Q5_1, /* 32 elems: f16 d, f16 m, 4 bytes high bits, 16 bytes of nibbles */
    LW_DTYPE_Q4_K, /* 256 elems, 144 bytes */
    LW_DTYPE_Q5_K, /* 256 elems, 176 bytes */
    LW_DTYPE_Q6_K, /* 256 elems, 210 bytes */
    LW_DTYPE_COUNT
};

struct lw_dtype_info {
    const char *name;        /* "F32", "BF16", "Q4_K", … as safetensors / GGUF write them */
    uint32_t    block_elems; /* 1 for plain types */
    uint32_t    block_bytes; /* bytes per block (element size for plain types) */
    bool        is_float;    /* F32, F16, BF16, F8 */
};

const struct lw_dtype_info *lw_dtype_info(enum lw_dtype dtype);
/* Bytes for `elems` elements (elems must be a multiple of the block size for quantised types). */
uint64_t lw_dtype_bytes(enum lw_dtype dtype, uint64_t elems);

/* IEEE half ↔ single conversions (round to nearest even), portable C. */
float    lw_f16_to_f32(uint16_t h);
uint16_t lw_f32_to_f16(float f);
