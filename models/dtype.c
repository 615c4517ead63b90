/* The element-type table declared in dtype.h (block sizes as GGUF defines them). */
#include "dtype.h"

#include <stddef.h>

static const struct lw_dtype_info infos[LW_DTYPE_COUNT] = {
    [LW_DTYPE_F32] = {"F32", 1, 4, true},        [LW_DTYPE_F16] = {"F16", 1, 2, true},
    [LW_DTYPE_BF16] = {"BF16", 1, 2, true},      [LW_DTYPE_F8_E4M3] = {"F8_E4M3", 1, 1, true},
    [LW_DTYPE_I64] = {"I64", 1, 8, false},       [LW_DTYPE_I32] = {"I32", 1, 4, false},
    [LW_DTYPE_Q8_0] = {"Q8_0", 32, 34, false},   [LW_DTYPE_Q4_0] = {"Q4_0", 32, 18, false},
    [LW_DTYPE_Q4_1] = {"Q4_1", 32, 20, false},   [LW_DTYPE_Q5_0] = {"Q5_0", 32, 22, false},
    [LW_DTYPE_Q5_1] = {"Q5_1", 32, 24, false},   [LW_DTYPE_Q4_K] = {"Q4_K", 256, 144, false},
    [LW_DTYPE_Q5_K] = {"Q5_K", 256, 176, false}, [LW_DTYPE_Q6_K] = {"Q6_K", 256, 210, false},
};

const struct lw_dtype_info *lw_dtype_info(enum lw_dtype dtype) {
    if ((unsigned)dtype >= LW_DTYPE_COUNT) return NULL;
    return &infos[dtype];
}

uint64_t lw_dtype_bytes(enum lw_dtype dtype, uint64_t elems) {
    const struct lw_dtype_info *info = lw_dtype_info(dtype);
    if (!info) return 0;
    return elems / info->block_elems * info->block_bytes;
}

#include <string.h>

float lw_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 31u, man = h & 0x3ffu, bits;
    if (exp == 31) bits = sign | 0x7f800000u | (man << 13); /* inf, NaN */
    else if (exp) bits = sign | ((exp + 112u) << 23) | (man << 13);
    else if (!man) bits = sign;
    else { /* subnormal: normalise */
        exp = 113;
        while (!(man & 0x400u)) man <<= 1, exp--;
        bits = sign | (exp << 23) | ((man & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t lw_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, abs = x & 0x7fffffffu;
    if (abs > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);          /* NaN */
    if (abs >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);         /* overflow → inf */
    if (abs < 0x33000001u) return (uint16_t)sign;                     /* underflow → ±0 */
    uint32_t exp = abs >> 23, man = (abs & 0x7fffffu) | 0x800000u;
    int      shift = exp < 113 ? (int)(126 - exp) : 13;               /* subnormal halves */
    uint32_t half = exp < 113 ? 0 : (exp - 112) << 10;
    uint32_t mant = man >> shift, rest = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (exp >= 113) mant &= 0x3ffu;
    uint32_t out = half + mant;
    if (rest > mid || (rest == mid && (out & 1u))) out++;
    return (uint16_t)(sign | out);
}
