/* safetensors reading (format: 8-byte little-endian header length, a JSON header
 * {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__: {string: string}}, then the data
 * block; offsets are relative to the data block; spec-flux-kontext.md §1.12).
 *
 * Everything in the header is distrusted: lengths, offsets, sizes and shapes are checked against
 * the file and each other (with overflow checks) before any byte of tensor data is touched, so a
 * malformed or hostile file is an error naming the file and tensor, never an out-of-bounds read.
 * Writing is safetensors_write.c; sets of shards and look-ups are weights.c. */
#include "weights_internal.h"

#include <cjson/cJSON.h>
#include <string.h>

#define MAX_HEADER_BYTES (100u << 20)
#define MAX_EXACT 9007199254740992.0 /* 2^53: every integer below is exact in a double */

static const struct {
    const char   *name;
    enum lw_dtype dtype;
} dtype_names[] = {
    {"F32", LW_DTYPE_F32},         {"F16", LW_DTYPE_F16}, {"BF16", LW_DTYPE_BF16},
    {"F8_E4M3", LW_DTYPE_F8_E4M3}, {"I64", LW_DTYPE_I64}, {"I32", LW_DTYPE_I32},
};

static bool dtype_parse(const char *name, enum lw_dtype *out) {
    for (size_t i = 0; i < sizeof dtype_names / sizeof dtype_names[0]; i++)
        if (strcmp(name, dtype_names[i].name) == 0) {
            *out = dtype_names[i].dtype;
            return true;
        }
    return false;
}

/* A JSON number that is a non-negative integer below 2^53. */
static bool exact_uint(const cJSON *item, uint64_t *out) {
    if (!cJSON_IsNumber(item)) return false;
    double v = item->valuedouble;
    if (!(v >= 0 && v < MAX_EXACT) || v != (double)(uint64_t)v) return false;
    *out = (uint64_t)v;
    return true;
}

/* Parses one tensor entry of the header into `t`, checking it against the data block. */
static enum lw_status entry_parse(const char *path, const cJSON *item, const uint8_t *data,
                                  uint64_t data_bytes, struct wt_tensor *t, struct lw_error *err) {
    const char  *name = item->string;
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsObject(item) || !cJSON_IsString(dtype) || !cJSON_IsArray(shape) ||
        !cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2)
        return lw_error_set(err, LW_ERR_FORMAT,
                            "%s: tensor %s: header entry needs dtype, shape and data_offsets", path,
                            name);
    *t = (struct wt_tensor){.name = name, .file = path, .scale = 1.0f};
    if (!dtype_parse(dtype->valuestring, &t->dtype))
        return lw_error_set(err, LW_ERR_DTYPE, "%s: tensor %s: unsupported dtype %s", path, name,
                            dtype->valuestring);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > WT_MAX_DIMS)
        return lw_error_set(err, LW_ERR_FORMAT, "%s: tensor %s: %d dimensions (at most %d)", path,
                            name, ndim, WT_MAX_DIMS);
    t->ndim = ndim;
    uint64_t elems = 1;
    for (int i = 0; i < ndim; i++) {
        uint64_t d;
        if (!exact_uint(cJSON_GetArrayItem(shape, i), &d))
            return lw_error_set(err, LW_ERR_FORMAT, "%s: tensor %s: bad shape entry %d", path, name,
                                i);
        t->shape[i] = (int64_t)d;
        if (d && elems > UINT64_MAX / 16 / d)
            return lw_error_set(err, LW_ERR_FORMAT, "%s: tensor %s: shape overflows", path, name);
        elems *= d;
    }
    uint64_t begin, end;
    if (!exact_uint(cJSON_GetArrayItem(offsets, 0), &begin) ||
        !exact_uint(cJSON_GetArrayItem(offsets, 1), &end) || end < begin || end > data_bytes)
        return lw_error_set(err, LW_ERR_FORMAT,
                            "%s: tensor %s: data_offsets [%.0f, %.0f] outside the %llu-byte data "
                            "block (truncated file or lying header)",
                            path, name, cJSON_GetArrayItem(offsets, 0)->valuedouble,
                            cJSON_GetArrayItem(offsets, 1)->valuedouble,
                            (unsigned long long)data_bytes);
    uint64_t want = lw_dtype_bytes(t->dtype, elems);
    if (end - begin != want)
        return lw_error_set(err, LW_ERR_FORMAT,
                            "%s: tensor %s: %llu bytes stored, shape and dtype need %llu", path,
                            name, (unsigned long long)(end - begin), (unsigned long long)want);
    t->data = data + begin;
    t->bytes = want;
    return LW_OK;
}

enum lw_status wt_safetensors_parse(struct wt_file *f, size_t source, struct lw_error *err) {
    const struct wt_source *s = &f->sources[source];
    const char             *path = s->path;
    if (s->size < 8)
        return lw_error_set(err, LW_ERR_FORMAT, "%s: %llu bytes: too short for a safetensors file",
                            path, (unsigned long long)s->size);
    const uint8_t *bytes = s->map;
    uint64_t       header_len = 0;
    for (int i = 7; i >= 0; i--)
        header_len = header_len << 8 | bytes[i];
    if (header_len > s->size - 8 || header_len > MAX_HEADER_BYTES || header_len < 2)
        return lw_error_set(err, LW_ERR_FORMAT,
                            "%s: header length %llu does not fit the %llu-byte file (truncated or "
                            "not safetensors)",
                            path, (unsigned long long)header_len, (unsigned long long)s->size);
    cJSON *header = cJSON_ParseWithLength((const char *)bytes + 8, (size_t)header_len);
    if (!cJSON_IsObject(header)) {
        cJSON_Delete(header);
        return lw_error_set(err, LW_ERR_FORMAT, "%s: the header is not a JSON object", path);
    }
    const uint8_t *data = bytes + 8 + header_len;
    uint64_t       data_bytes = s->size - 8 - header_len;
    size_t         first = f->count;
    enum lw_status status = LW_OK;
    const cJSON   *item;
    cJSON_ArrayForEach(item, header) {
        if (!item->string) {
            status = lw_error_set(err, LW_ERR_FORMAT, "%s: header entry without a name", path);
        } else if (strcmp(item->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(item))
                status =
                    lw_error_set(err, LW_ERR_FORMAT, "%s: __metadata__ is not an object", path);
            const cJSON *kv;
            cJSON_ArrayForEach(kv, item) { /* the format allows strings only; others are skipped */
                if (status != LW_OK) break;
                if (kv->string && cJSON_IsString(kv))
                    status = wt_meta_add(f, source, kv->string, kv->valuestring,
                                         strlen(kv->valuestring), err);
            }
        } else {
            struct wt_tensor t;
            status = entry_parse(path, item, data, data_bytes, &t, err);
            if (status == LW_OK) status = wt_tensor_add(f, &t, err);
        }
        if (status != LW_OK) break;
    }
    cJSON_Delete(header);
    return status == LW_OK ? wt_check_overlaps(f, first, path, err) : status;
}
