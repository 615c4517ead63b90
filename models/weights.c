/* Weight sets: what wt_open makes of a path (format detection, folders of shards, safetensors
 * index files), the name and metadata look-ups, and conversion of any stored dtype to f32.
 *
 * The readers (safetensors.c, gguf.c) only append tensors and metadata; this file then sorts both
 * by name, refuses duplicates and attaches ComfyUI fp8 scales, so every format gets the same
 * checks. Mirrors the loading rules of the safetensors library and of Hugging Face's sharded
 * checkpoints (`weight_map`), not their code. */
#include "weights_internal.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_INDEX_BYTES (64u << 20)

/* qsort without its undefined behaviour on an empty (possibly NULL) array. */
static void sort_items(void *base, size_t count, size_t size, int (*cmp)(const void *, const void *)) {
    if (count > 1) qsort(base, count, size, cmp);
}

static enum lw_status no_memory(struct lw_error *err) {
    return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
}

static bool has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Building a set */

enum lw_status wt_source_map(struct wt_file *f, const char *path, struct wt_source **out,
                             struct lw_error *err) {
    if (f->source_count == f->source_capacity) {
        size_t            capacity = f->source_capacity ? 2 * f->source_capacity : 4;
        struct wt_source *s = realloc(f->sources, capacity * sizeof *s);
        if (!s) return no_memory(err);
        f->sources = s;
        f->source_capacity = capacity;
    }
    struct wt_source *s = &f->sources[f->source_count];
    *s = (struct wt_source){.path = strdup(path)};
    if (!s->path) return no_memory(err);
    f->source_count++;
    *out = s;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lw_error_set(err, LW_ERR_FILE, "%s: cannot open: %m", path);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return lw_error_set(err, LW_ERR_FILE, "%s: not a regular file", path);
    }
    s->size = (uint64_t)st.st_size;
    if (s->size > 0) {
        s->map = mmap(NULL, (size_t)s->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (s->map == MAP_FAILED) {
            s->map = NULL;
            close(fd);
            return lw_error_set(err, LW_ERR_FILE, "%s: cannot map: %m", path);
        }
    }
    close(fd);
    return LW_OK;
}

enum lw_status wt_tensor_add(struct wt_file *f, const struct wt_tensor *t, struct lw_error *err) {
    if (f->count == f->capacity) {
        size_t            capacity = f->capacity ? 2 * f->capacity : 64;
        struct wt_tensor *tensors = realloc(f->tensors, capacity * sizeof *tensors);
        if (!tensors) return no_memory(err);
        f->tensors = tensors;
        f->capacity = capacity;
    }
    char *name = strdup(t->name);
    if (!name) return no_memory(err);
    f->tensors[f->count] = *t;
    f->tensors[f->count].name = name;
    f->count++;
    return LW_OK;
}

enum lw_status wt_meta_add(struct wt_file *f, size_t source, const char *key, const char *value,
                           size_t value_len, struct lw_error *err) {
    if (f->meta_count == f->meta_capacity) {
        size_t        capacity = f->meta_capacity ? 2 * f->meta_capacity : 16;
        struct wt_kv *meta = realloc(f->meta, capacity * sizeof *meta);
        if (!meta) return no_memory(err);
        f->meta = meta;
        f->meta_capacity = capacity;
    }
    struct wt_kv kv = {.key = strdup(key),
                       .value = malloc(value_len + 1),
                       .order = f->meta_count,
                       .source = source};
    if (!kv.key || !kv.value) {
        free(kv.key), free(kv.value);
        return no_memory(err);
    }
    memcpy(kv.value, value, value_len);
    kv.value[value_len] = 0;
    f->meta[f->meta_count++] = kv;
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

enum lw_status wt_check_overlaps(struct wt_file *f, size_t first, const char *path,
                                 struct lw_error *err) {
    size_t n = f->count - first;
    if (n < 2) return LW_OK;
    struct range *ranges = malloc(n * sizeof *ranges);
    if (!ranges) return no_memory(err);
    for (size_t i = 0; i < n; i++) {
        const struct wt_tensor *t = &f->tensors[first + i];
        ranges[i] = (struct range){(uint64_t)(uintptr_t)t->data,
                                   (uint64_t)(uintptr_t)t->data + t->bytes, first + i};
    }
    sort_items(ranges, n, sizeof *ranges, range_cmp);
    enum lw_status status = LW_OK;
    uint64_t       reach = ranges[0].end; /* furthest end so far, and who owns it */
    size_t         owner = ranges[0].index;
    for (size_t i = 1; i < n && status == LW_OK; i++) {
        if (ranges[i].begin < ranges[i].end && ranges[i].begin < reach)
            status = lw_error_set(err, LW_ERR_FORMAT, "%s: tensors %s and %s overlap", path,
                                  f->tensors[owner].name, f->tensors[ranges[i].index].name);
        if (ranges[i].end > reach) reach = ranges[i].end, owner = ranges[i].index;
    }
    free(ranges);
    return status;
}

/* ---------------------------------------------------------------------------------------------- */
/* Finishing: sorted names, metadata, fp8 scales */

struct named {
    const char *name;
    size_t      index;
};

static int named_cmp(const void *a, const void *b) {
    const struct named *x = a, *y = b;
    int                 c = strcmp(x->name, y->name);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

static int kv_cmp(const void *a, const void *b) {
    const struct wt_kv *x = a, *y = b;
    int                 c = strcmp(x->key, y->key);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

static enum lw_status attach_fp8_scales(struct wt_file *f, struct lw_error *err) {
    for (size_t i = 0; i < f->count; i++) {
        struct wt_tensor *t = &f->tensors[i];
        size_t            len = strlen(t->name);
        if (t->dtype != LW_DTYPE_F8_E4M3 || !has_suffix(t->name, ".weight")) continue;
        char *name = malloc(len + 8);
        if (!name) return no_memory(err);
        snprintf(name, len + 8, "%.*s.scale_weight", (int)(len - 7), t->name);
        const struct wt_tensor *s = wt_find(f, name);
        free(name);
        if (!s) continue;
        float scale = 0;
        if (wt_elements(s) != 1 || !lw_dtype_info(s->dtype)->is_float ||
            s->dtype == LW_DTYPE_F8_E4M3 || wt_read_f32(s, &scale, 1, NULL) != LW_OK ||
            !(scale == scale) || scale - scale != 0)
            return lw_error_set(err, LW_ERR_FORMAT,
                                "%s: tensor %s: its scale_weight is not one finite "
                                "float",
                                t->file, t->name);
        t->scale = scale;
    }
    return LW_OK;
}

static enum lw_status finish(struct wt_file *f, struct lw_error *err) {
    struct named *sorted = malloc((f->count ? f->count : 1) * sizeof *sorted);
    f->by_name = malloc((f->count ? f->count : 1) * sizeof *f->by_name);
    if (!sorted || !f->by_name) {
        free(sorted);
        return no_memory(err);
    }
    for (size_t i = 0; i < f->count; i++)
        sorted[i] = (struct named){f->tensors[i].name, i};
    sort_items(sorted, f->count, sizeof *sorted, named_cmp);
    enum lw_status status = LW_OK;
    for (size_t i = 0; i < f->count; i++) {
        f->by_name[i] = sorted[i].index;
        if (i && status == LW_OK && strcmp(sorted[i].name, sorted[i - 1].name) == 0)
            status = lw_error_set(err, LW_ERR_FORMAT, "%s: tensor %s appears twice (also in %s)",
                                  f->tensors[sorted[i].index].file, sorted[i].name,
                                  f->tensors[sorted[i - 1].index].file);
    }
    free(sorted);
    if (status != LW_OK) return status;
    /* Metadata: one value per key, the earliest; a key twice in one file is malformed. */
    sort_items(f->meta, f->meta_count, sizeof *f->meta, kv_cmp);
    size_t kept = 0;
    for (size_t i = 0; i < f->meta_count; i++) {
        if (kept && strcmp(f->meta[i].key, f->meta[kept - 1].key) == 0) {
            if (f->meta[i].source == f->meta[kept - 1].source && status == LW_OK)
                status = lw_error_set(err, LW_ERR_FORMAT, "%s: metadata key %s appears twice",
                                      f->sources[f->meta[i].source].path, f->meta[i].key);
            free(f->meta[i].key), free(f->meta[i].value);
            continue;
        }
        f->meta[kept++] = f->meta[i];
    }
    f->meta_count = kept;
    return status == LW_OK ? attach_fp8_scales(f, err) : status;
}

/* ---------------------------------------------------------------------------------------------- */
/* Opening */

static enum lw_status open_file(struct wt_file *f, const char *path, bool gguf_allowed,
                                struct lw_error *err) {
    struct wt_source *s;
    enum lw_status    status = wt_source_map(f, path, &s, err);
    if (status != LW_OK) return status;
    size_t source = f->source_count - 1;
    if (s->size >= 4 && memcmp(s->map, "GGUF", 4) == 0) {
        if (!gguf_allowed || f->format)
            return lw_error_set(err, LW_ERR_FORMAT, "%s: a GGUF file cannot be a shard of a set",
                                path);
        f->format = "gguf";
        return wt_gguf_parse(f, source, err);
    }
    f->format = "safetensors";
    return wt_safetensors_parse(f, source, err);
}

static char *read_small_file(const char *path, size_t *len, struct lw_error *err,
                             enum lw_status *status) {
    FILE *in = fopen(path, "rb");
    if (!in) {
        *status = lw_error_set(err, LW_ERR_FILE, "%s: cannot open: %m", path);
        return NULL;
    }
    char  *text = malloc(MAX_INDEX_BYTES + 2);
    size_t n = text ? fread(text, 1, MAX_INDEX_BYTES + 1, in) : 0;
    fclose(in);
    if (!text)
        *status = no_memory(err);
    else if (n > MAX_INDEX_BYTES)
        *status = lw_error_set(err, LW_ERR_FORMAT, "%s: larger than %u MiB: not an index", path,
                               MAX_INDEX_BYTES >> 20);
    if (*status != LW_OK) {
        free(text);
        return NULL;
    }
    text[n] = 0;
    *len = n;
    return text;
}

static int str_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A Hugging Face index: {"metadata": {...}, "weight_map": {tensor: shard file}}. */
static enum lw_status open_index(struct wt_file *f, const char *path, struct lw_error *err) {
    enum lw_status status = LW_OK;
    size_t         len = 0;
    char          *text = read_small_file(path, &len, err, &status);
    if (!text) return status;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(map)) {
        cJSON_Delete(root);
        return lw_error_set(err, LW_ERR_FORMAT,
                            "%s: not a safetensors index (no weight_map object)", path);
    }
    char        dir[4096];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    /* The distinct shard names, checked to stay inside the index's folder. */
    size_t       n = (size_t)cJSON_GetArraySize(map), shards = 0;
    const char **names = calloc(n ? n : 1, sizeof *names);
    if (!names) status = no_memory(err);
    const cJSON *item;
    cJSON_ArrayForEach(item, map) {
        if (status != LW_OK) break;
        const char *shard = cJSON_GetStringValue(item);
        if (!shard || !*shard || strchr(shard, '/') || !strcmp(shard, ".") ||
            !strcmp(shard, "..")) {
            status = lw_error_set(err, LW_ERR_FORMAT,
                                  "%s: tensor %s: shard '%s' is not a file name in "
                                  "the index's folder",
                                  path, item->string ? item->string : "?",
                                  shard ? shard : "(not a string)");
            break;
        }
        names[shards++] = shard;
    }
    if (status == LW_OK) {
        sort_items(names, shards, sizeof *names, str_cmp);
        size_t k = 0;
        for (size_t i = 0; i < shards; i++)
            if (!k || strcmp(names[i], names[k - 1])) names[k++] = names[i];
        shards = k;
        if (shards == 0)
            status = lw_error_set(err, LW_ERR_FORMAT, "%s: the weight_map is empty", path);
    }
    for (size_t i = 0; i < shards && status == LW_OK; i++) {
        char full[8192];
        snprintf(full, sizeof full, "%s/%s", dir, names[i]);
        status = open_file(f, full, false, err);
    }
    free(names);
    if (status == LW_OK) status = finish(f, err);
    /* Every tensor the index names must be in the shard it names. */
    cJSON_ArrayForEach(item, map) {
        if (status != LW_OK) break;
        const struct wt_tensor *t = wt_find(f, item->string);
        const char *want = cJSON_GetStringValue(item), *got = t ? strrchr(t->file, '/') : NULL;
        if (!t || !got || strcmp(got + 1, want))
            status = lw_error_set(err, LW_ERR_MISSING, "%s: tensor %s: the index puts it in %s, %s",
                                  path, item->string, want,
                                  t ? "it is in another shard" : "which lacks it");
    }
    cJSON_Delete(root);
    return status;
}

static enum lw_status open_folder(struct wt_file *f, const char *path, struct lw_error *err) {
    DIR *dir = opendir(path);
    if (!dir) return lw_error_set(err, LW_ERR_FILE, "%s: cannot read the folder: %m", path);
    char         **names = NULL;
    size_t         count = 0, capacity = 0, indexes = 0;
    enum lw_status status = LW_OK;
    struct dirent *e;
    while ((e = readdir(dir)) && status == LW_OK) {
        if (e->d_name[0] == '.' || (!has_suffix(e->d_name, ".safetensors") &&
                                    !has_suffix(e->d_name, ".safetensors.index.json")))
            continue;
        if (count == capacity) {
            capacity = capacity ? 2 * capacity : 16;
            char **grown = realloc(names, capacity * sizeof *names);
            if (!grown) {
                status = no_memory(err);
                break;
            }
            names = grown;
        }
        if (!(names[count] = strdup(e->d_name)))
            status = no_memory(err);
        else
            indexes += has_suffix(names[count++], ".json");
    }
    closedir(dir);
    if (status == LW_OK) sort_items(names, count, sizeof *names, str_cmp);
    char full[8192];
    if (status != LW_OK) {
    } else if (indexes > 1) {
        status = lw_error_set(err, LW_ERR_FORMAT,
                              "%s: %zu *.safetensors.index.json files: name the one "
                              "to use",
                              path, indexes);
    } else if (indexes == 1) {
        for (size_t i = 0; i < count; i++)
            if (has_suffix(names[i], ".json")) snprintf(full, sizeof full, "%s/%s", path, names[i]);
        status = open_index(f, full, err);
    } else if (count == 0) {
        status = lw_error_set(err, LW_ERR_FILE, "%s: no .safetensors files in the folder", path);
    } else {
        for (size_t i = 0; i < count && status == LW_OK; i++) {
            snprintf(full, sizeof full, "%s/%s", path, names[i]);
            status = open_file(f, full, false, err);
        }
        if (status == LW_OK) status = finish(f, err);
    }
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    return status;
}

enum lw_status wt_open(const char *path, struct wt_file **out, struct lw_error *err) {
    *out = NULL;
    struct stat st;
    if (!path || stat(path, &st) != 0)
        return lw_error_set(err, LW_ERR_FILE, "%s: cannot open: %m", path ? path : "(null)");
    struct wt_file *f = calloc(1, sizeof *f);
    if (!f) return no_memory(err);
    enum lw_status status;
    if (S_ISDIR(st.st_mode))
        status = open_folder(f, path, err);
    else if (has_suffix(path, ".json"))
        status = open_index(f, path, err);
    else if ((status = open_file(f, path, true, err)) == LW_OK)
        status = finish(f, err);
    if (status != LW_OK) {
        wt_close(f);
        return status;
    }
    *out = f;
    return LW_OK;
}

void wt_close(struct wt_file *f) {
    if (!f) return;
    for (size_t i = 0; i < f->source_count; i++) {
        if (f->sources[i].map) munmap(f->sources[i].map, (size_t)f->sources[i].size);
        free(f->sources[i].path);
    }
    for (size_t i = 0; i < f->count; i++)
        free((char *)f->tensors[i].name);
    for (size_t i = 0; i < f->meta_count; i++)
        free(f->meta[i].key), free(f->meta[i].value);
    free(f->sources);
    free(f->tensors);
    free(f->by_name);
    free(f->meta);
    free(f);
}

/* ---------------------------------------------------------------------------------------------- */
/* Look-ups */

size_t wt_count(const struct wt_file *f) {
    return f ? f->count : 0;
}

const struct wt_tensor *wt_at(const struct wt_file *f, size_t index) {
    return f && index < f->count ? &f->tensors[index] : NULL;
}

const struct wt_tensor *wt_find(const struct wt_file *f, const char *name) {
    if (!f || !name || !f->by_name) return NULL;
    size_t lo = 0, hi = f->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int    c = strcmp(f->tensors[f->by_name[mid]].name, name);
        if (c == 0) return &f->tensors[f->by_name[mid]];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *wt_metadata(const struct wt_file *f, const char *key) {
    if (!f || !key) return NULL;
    size_t lo = 0, hi = f->meta_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int    c = strcmp(f->meta[mid].key, key);
        if (c == 0) return f->meta[mid].value;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

size_t wt_metadata_count(const struct wt_file *f) {
    return f ? f->meta_count : 0;
}

const char *wt_metadata_key(const struct wt_file *f, size_t index) {
    return f && index < f->meta_count ? f->meta[index].key : NULL;
}

const char *wt_format(const struct wt_file *f) {
    return f && f->format ? f->format : "safetensors";
}

size_t wt_file_count(const struct wt_file *f) {
    return f ? f->source_count : 0;
}

const char *wt_file_path(const struct wt_file *f, size_t index) {
    return f && index < f->source_count ? f->sources[index].path : NULL;
}

uint64_t wt_elements(const struct wt_tensor *t) {
    uint64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= (uint64_t)t->shape[i];
    return n;
}

/* ---------------------------------------------------------------------------------------------- */
/* Conversion to f32 */

/* E4M3FN (no infinities; S.1111.111 is the only NaN), as torch.float8_e4m3fn. */
static float f8_e4m3(uint8_t v) {
    int   exp = (v >> 3) & 15, man = v & 7;
    float x;
    if (exp == 15 && man == 7) return 0.0f / 0.0f;
    if (exp == 0)
        x = (float)man / 512.0f; /* subnormal: man/8 · 2^-6 */
    else
        x = (1.0f + (float)man / 8.0f) * (float)(1 << exp) / 128.0f;
    return v & 0x80 ? -x : x;
}

enum lw_status wt_read_f32(const struct wt_tensor *t, float *out, uint64_t count,
                           struct lw_error *err) {
    const struct lw_dtype_info *info = lw_dtype_info(t->dtype);
    uint64_t                    n = wt_elements(t);
    const char                 *file = t->file ? t->file : "?";
    if (!info)
        return lw_error_set(err, LW_ERR_DTYPE, "%s: tensor %s: unknown dtype %d", file, t->name,
                            (int)t->dtype);
    if (count != n || n % info->block_elems || lw_dtype_bytes(t->dtype, n) != t->bytes)
        return lw_error_set(err, LW_ERR_SHAPE,
                            "%s: tensor %s: %llu elements asked, it has %llu "
                            "(%llu bytes of %s)",
                            file, t->name, (unsigned long long)count, (unsigned long long)n,
                            (unsigned long long)t->bytes, info->name);
    const uint8_t *p = t->data;
    if (n == 0) return LW_OK; /* an empty tensor may have no data pointer */
    switch (t->dtype) {
    case LW_DTYPE_F32:
        memcpy(out, p, n * 4);
        break;
    case LW_DTYPE_F16:
        for (uint64_t i = 0; i < n; i++)
            out[i] = lw_f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        break;
    case LW_DTYPE_BF16:
        for (uint64_t i = 0; i < n; i++) {
            uint32_t bits = (uint32_t)(p[2 * i] | p[2 * i + 1] << 8) << 16;
            memcpy(&out[i], &bits, 4);
        }
        break;
    case LW_DTYPE_F8_E4M3:
        for (uint64_t i = 0; i < n; i++)
            out[i] = f8_e4m3(p[i]) * t->scale;
        break;
    case LW_DTYPE_I32:
        for (uint64_t i = 0; i < n; i++) {
            int32_t v;
            memcpy(&v, p + 4 * i, 4);
            out[i] = (float)v;
        }
        break;
    case LW_DTYPE_I64:
        for (uint64_t i = 0; i < n; i++) {
            int64_t v;
            memcpy(&v, p + 8 * i, 8);
            out[i] = (float)v;
        }
        break;
    default:
        wt_dequant_blocks(t->dtype, p, n / info->block_elems, out);
        break;
    }
    return LW_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Tensors assembled from parts */

enum lw_status wt_parts_finish(struct wt_parts *p, struct lw_error *err) {
    if (p->count < 1 || p->count > WT_MAX_PARTS)
        return lw_error_set(err, LW_ERR_ARGUMENT, "%d parts (1 to %d)", p->count, WT_MAX_PARTS);
    const struct wt_tensor *first = p->part[0];
    p->dtype = first->dtype;
    p->ndim = first->ndim > 0 ? first->ndim : 1;
    memcpy(p->shape, first->shape, sizeof p->shape);
    if (first->ndim == 0) p->shape[0] = 1;
    p->bytes = first->bytes;
    for (int k = 1; k < p->count; k++) {
        const struct wt_tensor *t = p->part[k];
        bool                    fits = t->ndim == first->ndim && t->ndim > 0;
        for (int d = 1; fits && d < t->ndim; d++)
            fits = t->shape[d] == first->shape[d];
        if (t->dtype != first->dtype)
            return lw_error_set(err, LW_ERR_DTYPE,
                                "%s: tensor %s is %s, %s is %s: they cannot be "
                                "concatenated",
                                t->file, t->name, lw_dtype_info(t->dtype)->name, first->name,
                                lw_dtype_info(first->dtype)->name);
        if (!fits)
            return lw_error_set(err, LW_ERR_SHAPE,
                                "%s: tensors %s and %s differ beyond their first "
                                "dimension: they cannot be concatenated",
                                t->file, first->name, t->name);
        p->shape[0] += t->shape[0];
        p->bytes += t->bytes;
    }
    if (p->swap_halves && p->shape[0] % 2)
        return lw_error_set(err, LW_ERR_SHAPE, "%s: tensor %s: %lld rows cannot be split in halves",
                            first->file, first->name, (long long)p->shape[0]);
    return LW_OK;
}

static void swap_halves(uint8_t *p, uint64_t bytes) {
    for (uint64_t i = 0, half = bytes / 2; i < half; i++) {
        uint8_t t = p[i];
        p[i] = p[i + half], p[i + half] = t;
    }
}

enum lw_status wt_parts_copy(const struct wt_parts *p, void *out, uint64_t bytes,
                             struct lw_error *err) {
    if (bytes != p->bytes)
        return lw_error_set(err, LW_ERR_SHAPE, "%s: %llu bytes asked, the parts hold %llu",
                            p->part[0]->name, (unsigned long long)bytes,
                            (unsigned long long)p->bytes);
    uint64_t at = 0;
    for (int k = 0; k < p->count; k++) {
        if (p->part[k]->bytes) memcpy((uint8_t *)out + at, p->part[k]->data, p->part[k]->bytes);
        at += p->part[k]->bytes;
    }
    if (p->swap_halves) swap_halves(out, bytes);
    return LW_OK;
}

enum lw_status wt_parts_read_f32(const struct wt_parts *p, float *out, uint64_t count,
                                 struct lw_error *err) {
    uint64_t at = 0;
    for (int k = 0; k < p->count; k++) {
        uint64_t       n = wt_elements(p->part[k]);
        enum lw_status status = at + n <= count
                                    ? wt_read_f32(p->part[k], out + at, n, err)
                                    : lw_error_set(err, LW_ERR_SHAPE,
                                                   "%s: %llu elements "
                                                   "asked, the parts hold more",
                                                   p->part[0]->name, (unsigned long long)count);
        if (status != LW_OK) return status;
        at += n;
    }
    if (at != count)
        return lw_error_set(err, LW_ERR_SHAPE, "%s: %llu elements asked, the parts hold %llu",
                            p->part[0]->name, (unsigned long long)count, (unsigned long long)at);
    if (p->swap_halves) swap_halves((uint8_t *)out, count * sizeof *out);
    return LW_OK;
}
