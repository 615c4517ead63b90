/* safetensors writing: the component tool's outputs and the test files. The header is padded with
 * spaces to a multiple of 8 bytes so the data block stays aligned, as the safetensors library does.
 */
#include "weights.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool st_dtype(enum lw_dtype dtype) {
    return dtype == LW_DTYPE_F32 || dtype == LW_DTYPE_F16 || dtype == LW_DTYPE_BF16 ||
           dtype == LW_DTYPE_F8_E4M3 || dtype == LW_DTYPE_I32 || dtype == LW_DTYPE_I64;
}

static enum lw_status header_build(const struct wt_tensor *tensors, size_t count,
                                   const char *const *meta, char **out, struct lw_error *err) {
    cJSON *header = cJSON_CreateObject();
    bool   ok = header != NULL;
    if (ok && meta && meta[0]) {
        cJSON *m = cJSON_AddObjectToObject(header, "__metadata__");
        ok = m != NULL;
        for (size_t i = 0; ok && meta[i] && meta[i + 1]; i += 2)
            ok = cJSON_AddStringToObject(m, meta[i], meta[i + 1]) != NULL;
    }
    uint64_t offset = 0;
    for (size_t i = 0; ok && i < count; i++) {
        const struct wt_tensor *t = &tensors[i];
        uint64_t                elems = 1;
        for (int d = 0; d < t->ndim; d++)
            elems *= (uint64_t)t->shape[d];
        if (!st_dtype(t->dtype)) {
            cJSON_Delete(header);
            return lw_error_set(err, LW_ERR_DTYPE, "tensor %s: %s cannot be stored in safetensors",
                                t->name,
                                lw_dtype_info(t->dtype) ? lw_dtype_info(t->dtype)->name : "?");
        }
        if (t->ndim < 0 || t->ndim > WT_MAX_DIMS || lw_dtype_bytes(t->dtype, elems) != t->bytes) {
            cJSON_Delete(header);
            return lw_error_set(err, LW_ERR_ARGUMENT,
                                "tensor %s: %llu bytes do not match its shape", t->name,
                                (unsigned long long)t->bytes);
        }
        cJSON *e = cJSON_AddObjectToObject(header, t->name);
        cJSON *shape = e ? cJSON_AddArrayToObject(e, "shape") : NULL;
        cJSON *offsets = e ? cJSON_AddArrayToObject(e, "data_offsets") : NULL;
        ok = shape && offsets && cJSON_AddStringToObject(e, "dtype", lw_dtype_info(t->dtype)->name);
        for (int d = 0; ok && d < t->ndim; d++)
            ok = cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
        ok = ok && cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)offset)) &&
             cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)(offset + t->bytes)));
        offset += t->bytes;
    }
    *out = ok ? cJSON_PrintUnformatted(header) : NULL;
    cJSON_Delete(header);
    return *out ? LW_OK : lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
}

enum lw_status wt_write_safetensors(const char *path, const struct wt_tensor *tensors, size_t count,
                                    const char *const *meta, struct lw_error *err) {
    char          *text = NULL;
    enum lw_status status = header_build(tensors, count, meta, &text, err);
    if (status != LW_OK) {
        lw_error_prefix(err, "%s: ", path);
        return status;
    }
    size_t len = strlen(text), padded = (len + 7) & ~(size_t)7;
    FILE  *out = fopen(path, "wb");
    if (!out) {
        free(text);
        return lw_error_set(err, LW_ERR_FILE, "%s: cannot create: %m", path);
    }
    uint8_t size_bytes[8];
    for (int i = 0; i < 8; i++)
        size_bytes[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    bool ok = fwrite(size_bytes, 8, 1, out) == 1 && fwrite(text, 1, len, out) == len;
    for (size_t i = len; i < padded && ok; i++)
        ok = fputc(' ', out) != EOF;
    for (size_t i = 0; i < count && ok; i++)
        ok = tensors[i].bytes == 0 ||
             fwrite(tensors[i].data, 1, tensors[i].bytes, out) == tensors[i].bytes;
    ok = (fclose(out) == 0) && ok;
    free(text);
    if (!ok) return lw_error_set(err, LW_ERR_FILE, "%s: write failed", path);
    return LW_OK;
}
