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
