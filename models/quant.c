/* CPU dequantisation of ggml blocks (the GGUF quantisations we read), written from the block
 * layouts in ggml's ggml-common.h (dtype.h lists the block sizes). This is the reference the
 * device kernels are checked against, and how wt_read_f32 reads a quantised tensor; it is not a
 * quantiser (the tests carry one).
 *
 * Layouts (little-endian; d, m, dmin are IEEE halves):
 *   Q8_0 {d; i8 q[32]}                   x = d·q
 *   Q4_0 {d; u8 qs[16]}                  x[j] = d·(lo(qs[j]) − 8), x[j+16] = d·(hi(qs[j]) − 8)
 *   Q4_1 {d; m; u8 qs[16]}               x = d·q + m (nibbles as Q4_0)
 *   Q5_0 {d; u32 qh; u8 qs[16]}          bit 5 of element j is bit j of qh; x = d·(q − 16)
 *   Q5_1 {d; m; u32 qh; u8 qs[16]}       x = d·q + m
 *   Q4_K {d; dmin; u8 sc[12]; u8 qs[128]}
 *        8 sub-blocks of 32, a 6-bit scale and min each: x = d·scale·q − dmin·min
 *   Q5_K {d; dmin; u8 sc[12]; u8 qh[32]; u8 qs[128]}   as Q4_K with a 5th bit from qh
 *   Q6_K {u8 ql[128]; u8 qh[64]; i8 sc[16]; d}
 *        16 sub-blocks of 16: x = d·sc·(q − 32) */
#include "weights_internal.h"

static float half(const uint8_t *p) {
    return lw_f16_to_f32((uint16_t)(p[0] | p[1] << 8));
}

/* The 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K block: sub-blocks 0..3 sit in the
 * low 6 bits of bytes j and j+4; 4..7 take their low 4 bits from byte j+4 and their top 2 bits from
 * the spare top bits of bytes j−4 and j. */
static void scale_min_k4(int j, const uint8_t *q, int *sc, int *mn) {
    if (j < 4) {
        *sc = q[j] & 63;
        *mn = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

static void q8_0(const uint8_t *b, float *y) {
    float d = half(b);
    for (int j = 0; j < 32; j++)
        y[j] = d * (float)(int8_t)b[2 + j];
}

static void q4_0(const uint8_t *b, float *y) {
    float d = half(b);
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)((b[2 + j] & 0xF) - 8);
        y[j + 16] = d * (float)((b[2 + j] >> 4) - 8);
    }
}

static void q4_1(const uint8_t *b, float *y) {
    float d = half(b), m = half(b + 2);
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)(b[4 + j] & 0xF) + m;
        y[j + 16] = d * (float)(b[4 + j] >> 4) + m;
    }
}

/* Q5_0 and Q5_1: `qh` at h, nibbles at h + 4; offset −16 (Q5_0) or + m (Q5_1). */
static void q5(const uint8_t *h, float d, float m, int offset, float *y) {
    uint32_t qh =
        (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
    const uint8_t *qs = h + 4;
    for (int j = 0; j < 16; j++) {
        int lo = (qs[j] & 0xF) | (int)((qh >> j) & 1) << 4;
        int hi = (qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
        y[j] = d * (float)(lo + offset) + m;
        y[j + 16] = d * (float)(hi + offset) + m;
    }
}

/* Q4_K and Q5_K share the scale layout; qh is NULL for Q4_K. Each 64-element chunk c uses
 * sub-blocks 2c (low nibbles of 32 bytes) and 2c+1 (their high nibbles); the 5th bits of chunk c
 * are bits 2c and 2c+1 of qh[0..31]. */
static void qk_45(const uint8_t *b, const uint8_t *qh, const uint8_t *qs, float *y) {
    float d = half(b), dmin = half(b + 2);
    for (int c = 0; c < 4; c++, qs += 32) {
        int sc0, mn0, sc1, mn1;
        scale_min_k4(2 * c, b + 4, &sc0, &mn0);
        scale_min_k4(2 * c + 1, b + 4, &sc1, &mn1);
        for (int l = 0; l < 32; l++) {
            int lo = qs[l] & 0xF, hi = qs[l] >> 4;
            if (qh) {
                lo += (qh[l] >> (2 * c) & 1) << 4;
                hi += (qh[l] >> (2 * c + 1) & 1) << 4;
            }
            y[64 * c + l] = d * (float)sc0 * (float)lo - dmin * (float)mn0;
            y[64 * c + 32 + l] = d * (float)sc1 * (float)hi - dmin * (float)mn1;
        }
    }
}

/* Q6_K: two halves of 128; in half h, element l + 32k (k = 0..3, l = 0..31) takes its low 4 bits
 * from ql[64h + l + 32(k&1)] (low nibble for k < 2, high for k ≥ 2) and its top 2 bits from bits
 * 2k..2k+1 of qh[32h + l]; its scale is sc[8h + l/16 + 2k]. */
static void q6_k(const uint8_t *b, float *y) {
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t  *sc = (const int8_t *)(b + 192);
    float          d = half(b + 208);
    for (int h = 0; h < 2; h++, ql += 64, qh += 32, sc += 8, y += 128)
        for (int l = 0; l < 32; l++)
            for (int k = 0; k < 4; k++) {
                int low = k < 2 ? ql[l + 32 * (k & 1)] & 0xF : ql[l + 32 * (k & 1)] >> 4;
                int q = (low | ((qh[l] >> (2 * k)) & 3) << 4) - 32;
                y[l + 32 * k] = d * (float)sc[l / 16 + 2 * k] * (float)q;
            }
}

void wt_dequant_blocks(enum lw_dtype dtype, const uint8_t *in, uint64_t blocks, float *out) {
    const struct lw_dtype_info *info = lw_dtype_info(dtype);
    for (uint64_t i = 0; i < blocks; i++) {
        const uint8_t *b = in + i * info->block_bytes;
        float         *y = out + i * info->block_elems;
        switch (dtype) {
        case LW_DTYPE_Q8_0:
            q8_0(b, y);
            break;
        case LW_DTYPE_Q4_0:
            q4_0(b, y);
            break;
        case LW_DTYPE_Q4_1:
            q4_1(b, y);
            break;
        case LW_DTYPE_Q5_0:
            q5(b + 2, half(b), 0, -16, y);
            break;
        case LW_DTYPE_Q5_1:
            q5(b + 4, half(b), half(b + 2), 0, y);
            break;
        case LW_DTYPE_Q4_K:
            qk_45(b, NULL, b + 16, y);
            break;
        case LW_DTYPE_Q5_K:
            qk_45(b, b + 16, b + 48, y);
            break;
        case LW_DTYPE_Q6_K:
            q6_k(b, y);
            break;
        default:
            LW_ASSERT(!"not a block-quantised dtype");
        }
    }
}
