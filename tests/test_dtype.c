/* The portable half-precision conversions: every finite half survives f16 → f32 → f16, known values
 * convert exactly, and rounding is to nearest even with overflow to infinity. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "dtype.h"
#include "harness.h"

int main(void) {
    long bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        if (((h >> 10) & 31) == 31 && (h & 0x3ff)) continue; /* NaNs */
        bad += lw_f32_to_f16(lw_f16_to_f32((uint16_t)h)) != h;
    }
    th_check(bad == 0, "every half round-trips (%ld do not)", bad);
    th_check(lw_f16_to_f32(0x3c00) == 1.0f && lw_f16_to_f32(0xc000) == -2.0f && lw_f16_to_f32(0x7bff) == 65504.0f,
             "normal values");
    th_check(lw_f16_to_f32(0x0001) == ldexpf(1, -24), "smallest subnormal");
    th_check(lw_f32_to_f16(1.0f + ldexpf(1, -11)) == 0x3c00, "a tie rounds to even (down)");
    th_check(lw_f32_to_f16(1.0f + 3 * ldexpf(1, -11)) == 0x3c02, "a tie rounds to even (up)");
    th_check(lw_f32_to_f16(1e6f) == 0x7c00 && lw_f32_to_f16(-1e6f) == 0xfc00, "overflow to infinity");
    th_check(isnan(lw_f16_to_f32(lw_f32_to_f16(NAN))), "NaN stays NaN");
    th_check(lw_dtype_bytes(LW_DTYPE_Q4_K, 512) == 288 && lw_dtype_bytes(LW_DTYPE_BF16, 3) == 6, "block sizes");
    return th_finish();
}
