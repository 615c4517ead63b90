/* safetensors reading and writing (format: 8-byte little-endian header length, a JSON header
 * {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__: {string: string}}, then the data
 * block; offsets are relative to the data block).
 *
 * Everything in the header is distrusted: lengths, offsets, sizes and shapes are checked against the
 * file and each other (with overflow checks) before any byte of tensor data is touched, so a
 * malformed or hostile file is an error naming the file and tensor, never an out-of-bounds read. */
#include "weights.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_HEADER_BYTES (100u << 20)
#define MAX_SHARDS 256

struct shard {
    char          *path;
    void          *map;
    uint64_t       size;
    cJSON         *metadata; /* the __metadata__ object (owned by `header`) */
    cJSON         *header;
};

struct wt_file {
    struct shard     *shards;
    size_t            shard_count;
    struct wt_tensor *tensors;
    size_t            count, capacity;
    char            **names; /* owned copies of the tensor names */
};

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

static enum lw_status tensor_add(struct wt_file *f, const struct wt_tensor *t, struct lw_error *err) {
    if (f->count == f->capacity) {
        size_t            capacity = f->capacity ? 2 * f->capacity : 64;
        struct wt_tensor *tensors = realloc(f->tensors, capacity * sizeof *tensors);
        char            **names = realloc(f->names, capacity * sizeof *names);
        if (tensors) f->tensors = tensors;
        if (names) f->names = names;
        if (!tensors || !names) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
        f->capacity = capacity;
    }
    char *name = strdup(t->name);
    if (!name) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    f->names[f->count] = name;
    f->tensors[f->count] = *t;
    f->tensors[f->count].name = name;
    f->count++;
    return LW_OK;
}

struct range {
    uint64_t begin, end;
    size_t   index;
};

static int range_cmp(const void *a, const void *b) {
    const struct range *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
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
    memset(t, 0, sizeof *t);
    t->name = name;
    t->file = path;
    t->scale = 1.0f;
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
        const cJSON *d = cJSON_GetArrayItem(shape, i);
        if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble > 9.007e15 ||
            d->valuedouble != (double)(int64_t)d->valuedouble)
            return lw_error_set(err, LW_ERR_FORMAT, "%s: tensor %s: bad shape entry %d", path, name, i);
        t->shape[i] = (int64_t)d->valuedouble;
        if (t->shape[i] && elems > UINT64_MAX / 16 / (uint64_t)t->shape[i])
            return lw_error_set(err, LW_ERR_FORMAT, "%s: tensor %s: shape overflows", path, name);
        elems *= (uint64_t)t->shape[i];
    }
    double b = cJSON_GetArrayItem(offsets, 0)->valuedouble;
    double e = cJSON_GetArrayItem(offsets, 1)->valuedouble;
    if (!cJSON_IsNumber(cJSON_GetArrayItem(offsets, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(offsets, 1)) ||
        b < 0 || e < b || e > (double)data_bytes || b != (double)(uint64_t)b || e != (double)(uint64_t)e)
        return lw_error_set(err, LW_ERR_FORMAT,
                            "%s: tensor %s: data_offsets [%.0f, %.0f] outside the %llu-byte data block",
                            path, name, b, e, (unsigned long long)data_bytes);
    uint64_t begin = (uint64_t)b, end = (uint64_t)e;
    uint64_t want = lw_dtype_bytes(t->dtype, elems);
    if (end - begin != want)
        return lw_error_set(err, LW_ERR_FORMAT,
                            "%s: tensor %s: %llu bytes stored, shape and dtype need %llu", path, name,
                            (unsigned long long)(end - begin), (unsigned long long)want);
    t->data = data + begin;
    t->bytes = want;
    return LW_OK;
}

static enum lw_status shard_open(struct wt_file *f, const char *path, struct lw_error *err) {
    struct shard *s = &f->shards[f->shard_count];
    memset(s, 0, sizeof *s);
    s->path = strdup(path);
    if (!s->path) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    f->shard_count++;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lw_error_set(err, LW_ERR_FILE, "%s: cannot open: %m", path);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return lw_error_set(err, LW_ERR_FILE, "%s: not a regular file", path);
    }
    s->size = (uint64_t)st.st_size;
    if (s->size < 8) {
        close(fd);
        return lw_error_set(err, LW_ERR_FORMAT, "%s: %llu bytes: too short for a safetensors file",
                            path, (unsigned long long)s->size);
    }
    s->map = mmap(NULL, s->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (s->map == MAP_FAILED) {
        s->map = NULL;
        return lw_error_set(err, LW_ERR_FILE, "%s: cannot map: %m", path);
    }
    const uint8_t *bytes = s->map;
    uint64_t       header_len = 0;
    for (int i = 7; i >= 0; i--) header_len = header_len << 8 | bytes[i];
    if (header_len > s->size - 8 || header_len > MAX_HEADER_BYTES || header_len < 2)
        return lw_error_set(err, LW_ERR_FORMAT,
                            "%s: header length %llu does not fit the %llu-byte file (truncated or "
                            "not safetensors)",
                            path, (unsigned long long)header_len, (unsigned long long)s->size);
    s->header = cJSON_ParseWithLength((const char *)bytes + 8, (size_t)header_len);
    if (!cJSON_IsObject(s->header))
        return lw_error_set(err, LW_ERR_FORMAT, "%s: the header is not a JSON object", path);
    const uint8_t *data = bytes + 8 + header_len;
    uint64_t       data_bytes = s->size - 8 - header_len;
    size_t         first = f->count;
    const cJSON   *item;
    cJSON_ArrayForEach(item, s->header) {
        if (!item->string)
            return lw_error_set(err, LW_ERR_FORMAT, "%s: header entry without a name", path);
        if (strcmp(item->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(item))
                return lw_error_set(err, LW_ERR_FORMAT, "%s: __metadata__ is not an object", path);
            s->metadata = (cJSON *)item;
            continue;
        }
        if (wt_find(f, item->string))
            return lw_error_set(err, LW_ERR_FORMAT, "%s: tensor %s appears twice", path, item->string);
        struct wt_tensor t;
        enum lw_status   status = entry_parse(s->path, item, data, data_bytes, &t, err);
        if (status == LW_OK) status = tensor_add(f, &t, err);
        if (status != LW_OK) return status;
        f->tensors[f->count - 1].file = s->path;
    }
    /* No two tensors of this shard may share bytes. */
    size_t        n = f->count - first;
    struct range *ranges = calloc(n ? n : 1, sizeof *ranges);
    if (!ranges) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    for (size_t i = 0; i < n; i++) {
        const struct wt_tensor *t = &f->tensors[first + i];
        ranges[i].begin = (uint64_t)((const uint8_t *)t->data - data);
        ranges[i].end = ranges[i].begin + t->bytes;
        ranges[i].index = first + i;
    }
    qsort(ranges, n, sizeof *ranges, range_cmp);
    enum lw_status status = LW_OK;
    for (size_t i = 1; i < n && status == LW_OK; i++)
        if (ranges[i].begin < ranges[i - 1].end && ranges[i].end > ranges[i].begin)
            status = lw_error_set(err, LW_ERR_FORMAT, "%s: tensors %s and %s overlap", path,
                                  f->tensors[ranges[i - 1].index].name,
                                  f->tensors[ranges[i].index].name);
    free(ranges);
    return status;
}

static int name_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

enum lw_status wt_open(const char *path, struct wt_file **out, struct lw_error *err) {
    *out = NULL;
    struct wt_file *f = calloc(1, sizeof *f);
    if (!f) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    f->shards = calloc(MAX_SHARDS, sizeof *f->shards);
    if (!f->shards) {
        free(f);
        return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    }
    enum lw_status status = LW_OK;
    struct stat    st;
    if (!path || stat(path, &st) != 0) {
        status = lw_error_set(err, LW_ERR_FILE, "%s: cannot open: %m", path ? path : "(null)");
    } else if (S_ISDIR(st.st_mode)) {
        DIR *dir = opendir(path);
        if (!dir) {
            status = lw_error_set(err, LW_ERR_FILE, "%s: cannot read the folder: %m", path);
        } else {
            char         *names[MAX_SHARDS];
            size_t        count = 0;
            struct dirent *e;
            while ((e = readdir(dir)) && count < MAX_SHARDS)
                if (has_suffix(e->d_name, ".safetensors") && e->d_name[0] != '.')
                    names[count++] = strdup(e->d_name);
            closedir(dir);
            qsort(names, count, sizeof *names, name_cmp);
            if (count == 0)
                status = lw_error_set(err, LW_ERR_FILE, "%s: no .safetensors files in the folder", path);
            for (size_t i = 0; i < count; i++) {
                char full[4096];
                snprintf(full, sizeof full, "%s/%s", path, names[i] ? names[i] : "");
                if (status == LW_OK) status = shard_open(f, full, err);
                free(names[i]);
            }
        }
    } else {
        status = shard_open(f, path, err);
    }
    if (status != LW_OK) {
        wt_close(f);
        return status;
    }
    *out = f;
    return LW_OK;
}

void wt_close(struct wt_file *f) {
    if (!f) return;
    for (size_t i = 0; i < f->shard_count; i++) {
        if (f->shards[i].map) munmap(f->shards[i].map, f->shards[i].size);
        cJSON_Delete(f->shards[i].header);
        free(f->shards[i].path);
    }
    for (size_t i = 0; i < f->count; i++) free(f->names[i]);
    free(f->names);
    free(f->tensors);
    free(f->shards);
    free(f);
}

size_t wt_count(const struct wt_file *f) {
    return f->count;
}

const struct wt_tensor *wt_at(const struct wt_file *f, size_t index) {
    return index < f->count ? &f->tensors[index] : NULL;
}

const struct wt_tensor *wt_find(const struct wt_file *f, const char *name) {
    if (!f || !name) return NULL;
    for (size_t i = 0; i < f->count; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *wt_metadata(const struct wt_file *f, const char *key) {
    if (!f) return NULL;
    for (size_t i = 0; i < f->shard_count; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(f->shards[i].metadata, key);
        if (cJSON_IsString(v)) return v->valuestring;
    }
    return NULL;
}

uint64_t wt_elements(const struct wt_tensor *t) {
    uint64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= (uint64_t)t->shape[i];
    return n;
}

static float f8_e4m3(uint8_t v) {
    int   sign = v >> 7, exp = (v >> 3) & 15, man = v & 7;
    float x;
    if (exp == 15 && man == 7) return 0.0f / 0.0f; /* the only NaN of E4M3FN */
    if (exp == 0) x = (float)man / 8.0f * (1.0f / 64.0f);
    else x = (1.0f + (float)man / 8.0f) * (float)(exp > 7 ? 1 << (exp - 7) : 1) /
             (float)(exp < 7 ? 1 << (7 - exp) : 1);
    return sign ? -x : x;
}

enum lw_status wt_read_f32(const struct wt_tensor *t, float *out, uint64_t count,
                           struct lw_error *err) {
    uint64_t n = wt_elements(t);
    if (count != n || lw_dtype_bytes(t->dtype, n) != t->bytes)
        return lw_error_set(err, LW_ERR_SHAPE, "%s: tensor %s: %llu elements asked, it has %llu",
                            t->file ? t->file : "?", t->name, (unsigned long long)count,
                            (unsigned long long)n);
    const uint8_t *p = t->data;
    for (uint64_t i = 0; i < n; i++) {
        switch (t->dtype) {
        case LW_DTYPE_F32: memcpy(&out[i], p + 4 * i, 4); break;
        case LW_DTYPE_F16: out[i] = lw_f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8)); break;
        case LW_DTYPE_BF16: {
            uint32_t bits = (uint32_t)(p[2 * i] | p[2 * i + 1] << 8) << 16;
            memcpy(&out[i], &bits, 4);
            break;
        }
        case LW_DTYPE_F8_E4M3: out[i] = f8_e4m3(p[i]) * t->scale; break;
        case LW_DTYPE_I32: {
            int32_t v;
            memcpy(&v, p + 4 * i, 4);
            out[i] = (float)v;
            break;
        }
        case LW_DTYPE_I64: {
            int64_t v;
            memcpy(&v, p + 8 * i, 8);
            out[i] = (float)v;
            break;
        }
        default:
            return lw_error_set(err, LW_ERR_DTYPE, "%s: tensor %s: cannot convert %s to f32",
                                t->file ? t->file : "?", t->name, lw_dtype_info(t->dtype)->name);
        }
    }
    return LW_OK;
}

enum lw_status wt_write_safetensors(const char *path, const struct wt_tensor *tensors, size_t count,
                                    const char *const *meta, struct lw_error *err) {
    cJSON *header = cJSON_CreateObject();
    if (!header) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    if (meta && meta[0]) {
        cJSON *m = cJSON_AddObjectToObject(header, "__metadata__");
        for (size_t i = 0; meta[i] && meta[i + 1]; i += 2) cJSON_AddStringToObject(m, meta[i], meta[i + 1]);
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < count; i++) {
        const struct wt_tensor *t = &tensors[i];
        cJSON                  *e = cJSON_AddObjectToObject(header, t->name);
        const char             *dtype = lw_dtype_info(t->dtype) ? lw_dtype_info(t->dtype)->name : "?";
        cJSON_AddStringToObject(e, "dtype", dtype);
        cJSON *shape = cJSON_AddArrayToObject(e, "shape");
        for (int d = 0; d < t->ndim; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
        cJSON *offsets = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)offset));
        cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)(offset + t->bytes)));
        offset += t->bytes;
    }
    char *text = cJSON_PrintUnformatted(header);
    cJSON_Delete(header);
    if (!text) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    size_t  len = strlen(text), padded = (len + 7) & ~(size_t)7;
    FILE   *out = fopen(path, "wb");
    if (!out) {
        free(text);
        return lw_error_set(err, LW_ERR_FILE, "%s: cannot create: %m", path);
    }
    uint8_t size_bytes[8];
    for (int i = 0; i < 8; i++) size_bytes[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    bool ok = fwrite(size_bytes, 8, 1, out) == 1 && fwrite(text, 1, len, out) == len;
    for (size_t i = len; i < padded && ok; i++) ok = fputc(' ', out) != EOF;
    for (size_t i = 0; i < count && ok; i++)
        ok = tensors[i].bytes == 0 || fwrite(tensors[i].data, 1, tensors[i].bytes, out) == tensors[i].bytes;
    ok = (fclose(out) == 0) && ok;
    free(text);
    if (!ok) return lw_error_set(err, LW_ERR_FILE, "%s: write failed", path);
    return LW_OK;
}
