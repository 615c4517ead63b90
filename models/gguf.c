/* GGUF reading (versions 2 and 3, little-endian): header, key/values, tensor infos, then the data
 * section at the next multiple of general.alignment (default 32). Layout, as ggml's gguf.cpp
 * writes it:
 *   "GGUF" u32 version, u64 tensor_count, u64 kv_count,
 *   kv_count × {string key, u32 type, value},                string = u64 length + bytes
 *   tensor_count × {string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset},
 *   padding, data.
 * ggml's ne[0] is the innermost dimension: our shape is ne reversed. Offsets are relative to the
 * data section and multiples of the alignment.
 *
 * Every count and length is checked against the bytes left before anything is allocated, so a
 * hostile header costs at most its own size. Key/values become metadata strings: numbers in
 * decimal, bools as true/false, strings raw, arrays as JSON. Quantised tensors stay in their ggml
 * blocks. */
#include "weights_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NAME 4096     /* tensor names and keys; ggml itself allows 64 for names */
#define MAX_ARRAY_DEPTH 8 /* arrays of arrays */

enum gguf_type {
    GGUF_U8 = 0,
    GGUF_I8,
    GGUF_U16,
    GGUF_I16,
    GGUF_U32,
    GGUF_I32,
    GGUF_F32,
    GGUF_BOOL,
    GGUF_STRING,
    GGUF_ARRAY,
    GGUF_U64,
    GGUF_I64,
    GGUF_F64,
    GGUF_TYPE_COUNT
};

/* ggml_type ids of the element types we read (ggml.h's enum ggml_type). */
static const struct {
    uint32_t      ggml;
    enum lw_dtype dtype;
} ggml_types[] = {
    {0, LW_DTYPE_F32},   {1, LW_DTYPE_F16},   {2, LW_DTYPE_Q4_0}, {3, LW_DTYPE_Q4_1},
    {6, LW_DTYPE_Q5_0},  {7, LW_DTYPE_Q5_1},  {8, LW_DTYPE_Q8_0}, {12, LW_DTYPE_Q4_K},
    {13, LW_DTYPE_Q5_K}, {14, LW_DTYPE_Q6_K}, {26, LW_DTYPE_I32}, {27, LW_DTYPE_I64},
    {30, LW_DTYPE_BF16},
};

static const char *const ggml_names[] = {
    "F32",     "F16",    "Q4_0",    "Q4_1",  "Q4_2",   "Q4_3",  "Q5_0",  "Q5_1",
    "Q8_0",    "Q8_1",   "Q2_K",    "Q3_K",  "Q4_K",   "Q5_K",  "Q6_K",  "Q8_K",
    "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS",
    "I8",      "I16",    "I32",     "I64",   "F64",    "IQ1_M", "BF16",
};

struct cursor {
    const uint8_t   *p, *end;
    const char      *path;
    struct lw_error *err;
};

static uint64_t left(const struct cursor *c) {
    return (uint64_t)(c->end - c->p);
}

static enum lw_status truncated(struct cursor *c, const char *what) {
    return lw_error_set(c->err, LW_ERR_FORMAT, "%s: GGUF truncated in %s", c->path, what);
}

static bool take(struct cursor *c, void *out, size_t n) {
    if (left(c) < n) return false;
    memcpy(out, c->p, n); /* the host is little-endian, as the file */
    c->p += n;
    return true;
}

/* A string: pointer into the map and length (not NUL-terminated). */
static bool take_string(struct cursor *c, const char **s, uint64_t *len) {
    if (!take(c, len, 8) || *len > left(c)) return false;
    *s = (const char *)c->p;
    c->p += *len;
    return true;
}

/* ---------------------------------------------------------------------------------------------- */
/* Values as text */

struct text {
    char  *s;
    size_t len, capacity;
    bool   failed;
};

static void put(struct text *t, const char *s, size_t n) {
    if (t->failed) return;
    if (t->len + n + 1 > t->capacity) {
        size_t capacity = t->capacity ? t->capacity : 64;
        while (capacity < t->len + n + 1)
            capacity *= 2;
        char *grown = realloc(t->s, capacity);
        if (!grown) {
            t->failed = true;
            return;
        }
        t->s = grown;
        t->capacity = capacity;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = 0;
}

static void put_json_string(struct text *t, const char *s, uint64_t n) {
    put(t, "\"", 1);
    for (uint64_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        char          esc[8];
        if (ch == '"' || ch == '\\') {
            esc[0] = '\\', esc[1] = (char)ch;
            put(t, esc, 2);
        } else if (ch < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", ch);
            put(t, esc, 6);
        } else {
            put(t, (const char *)&s[i], 1);
        }
    }
    put(t, "\"", 1);
}

static size_t scalar_size(uint32_t type) {
    static const size_t sizes[GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return type < GGUF_TYPE_COUNT ? sizes[type] : 0;
}

/* Reads one value of `type` and appends its text; strings are quoted inside arrays only. */
static enum lw_status value_read(struct cursor *c, uint32_t type, struct text *t, int depth,
                                 const char *key) {
    char    buf[64];
    uint8_t raw[8] = {0};
    if (type == GGUF_STRING) {
        const char *s;
        uint64_t    n;
        if (!take_string(c, &s, &n)) return truncated(c, key);
        if (depth)
            put_json_string(t, s, n);
        else
            put(t, s, (size_t)n);
        return LW_OK;
    }
    if (type == GGUF_ARRAY) {
        uint32_t etype;
        uint64_t n;
        if (depth >= MAX_ARRAY_DEPTH)
            return lw_error_set(c->err, LW_ERR_FORMAT, "%s: key %s: arrays nested too deep",
                                c->path, key);
        if (!take(c, &etype, 4) || !take(c, &n, 8)) return truncated(c, key);
        if (etype >= GGUF_TYPE_COUNT)
            return lw_error_set(c->err, LW_ERR_FORMAT, "%s: key %s: unknown array type %u", c->path,
                                key, etype);
        /* every element takes at least one byte (strings and arrays at least 8) */
        uint64_t least = scalar_size(etype) ? scalar_size(etype) : 8;
        if (n > left(c) / least) return truncated(c, key);
        put(t, "[", 1);
        for (uint64_t i = 0; i < n; i++) {
            if (i) put(t, ",", 1);
            enum lw_status status = value_read(c, etype, t, depth + 1, key);
            if (status != LW_OK) return status;
        }
        put(t, "]", 1);
        return LW_OK;
    }
    if (type >= GGUF_TYPE_COUNT)
        return lw_error_set(c->err, LW_ERR_FORMAT, "%s: key %s: unknown value type %u", c->path,
                            key, type);
    if (!take(c, raw, scalar_size(type))) return truncated(c, key);
    int8_t   i8;
    int16_t  i16;
    int32_t  i32;
    int64_t  i64;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    float    f32;
    double   f64;
    switch (type) {
    case GGUF_U8:
        snprintf(buf, sizeof buf, "%u", raw[0]);
        break;
    case GGUF_I8:
        memcpy(&i8, raw, 1), snprintf(buf, sizeof buf, "%d", i8);
        break;
    case GGUF_U16:
        memcpy(&u16, raw, 2), snprintf(buf, sizeof buf, "%u", u16);
        break;
    case GGUF_I16:
        memcpy(&i16, raw, 2), snprintf(buf, sizeof buf, "%d", i16);
        break;
    case GGUF_U32:
        memcpy(&u32, raw, 4), snprintf(buf, sizeof buf, "%u", u32);
        break;
    case GGUF_I32:
        memcpy(&i32, raw, 4), snprintf(buf, sizeof buf, "%d", i32);
        break;
    case GGUF_U64:
        memcpy(&u64, raw, 8), snprintf(buf, sizeof buf, "%llu", (unsigned long long)u64);
        break;
    case GGUF_I64:
        memcpy(&i64, raw, 8), snprintf(buf, sizeof buf, "%lld", (long long)i64);
        break;
    case GGUF_F32:
        memcpy(&f32, raw, 4), snprintf(buf, sizeof buf, "%.9g", f32);
        break;
    case GGUF_F64:
        memcpy(&f64, raw, 8), snprintf(buf, sizeof buf, "%.17g", f64);
        break;
    default:
        snprintf(buf, sizeof buf, "%s", raw[0] ? "true" : "false");
        break; /* GGUF_BOOL */
    }
    /* JSON has no NaN or infinity: inside arrays they become null */
    if (depth && (strstr(buf, "nan") || strstr(buf, "inf"))) snprintf(buf, sizeof buf, "null");
    put(t, buf, strlen(buf));
    return LW_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Header */

static enum lw_status kv_read(struct wt_file *f, size_t source, struct cursor *c,
                              uint32_t *alignment) {
    const char *k;
    uint64_t    klen;
    uint32_t    type;
    char        key[MAX_NAME + 1];
    if (!take_string(c, &k, &klen) || !take(c, &type, 4)) return truncated(c, "a key");
    if (klen == 0 || klen > MAX_NAME || memchr(k, 0, (size_t)klen))
        return lw_error_set(c->err, LW_ERR_FORMAT,
                            "%s: a key of %llu bytes (empty, too long or with a "
                            "NUL)",
                            c->path, (unsigned long long)klen);
    memcpy(key, k, (size_t)klen);
    key[klen] = 0;
    const uint8_t *value = c->p;
    struct text    t = {0};
    enum lw_status status = value_read(c, type, &t, 0, key);
    if (status == LW_OK && t.failed)
        status = lw_error_set(c->err, LW_ERR_HOST_MEMORY, "out of host memory");
    if (status == LW_OK && strcmp(key, "general.alignment") == 0) {
        if (type != GGUF_U32)
            status =
                lw_error_set(c->err, LW_ERR_FORMAT, "%s: general.alignment is not a u32", c->path);
        else {
            uint32_t a;
            memcpy(&a, value, 4);
            if (a == 0 || (a & (a - 1))) /* kept out of *alignment: the caller divides by it */
                status = lw_error_set(c->err, LW_ERR_FORMAT,
                                      "%s: general.alignment %u is not a power of two", c->path, a);
            else
                *alignment = a;
        }
    }
    if (status == LW_OK) status = wt_meta_add(f, source, key, t.s ? t.s : "", t.len, c->err);
    free(t.s);
    return status;
}

static enum lw_status info_read(struct cursor *c, struct wt_tensor *t, uint64_t *offset,
                                char *name) {
    const char *s;
    uint64_t    len;
    uint32_t    ndim, type;
    if (!take_string(c, &s, &len)) return truncated(c, "a tensor name");
    if (len == 0 || len > MAX_NAME || memchr(s, 0, (size_t)len))
        return lw_error_set(c->err, LW_ERR_FORMAT,
                            "%s: a tensor name of %llu bytes (empty, too long or "
                            "with a NUL)",
                            c->path, (unsigned long long)len);
    memcpy(name, s, (size_t)len);
    name[len] = 0;
    *t = (struct wt_tensor){.name = name, .file = c->path, .scale = 1.0f};
    if (!take(c, &ndim, 4)) return truncated(c, name);
    if (ndim > WT_MAX_DIMS)
        return lw_error_set(c->err, LW_ERR_FORMAT, "%s: tensor %s: %u dimensions (at most %d)",
                            c->path, name, ndim, WT_MAX_DIMS);
    uint64_t ne[WT_MAX_DIMS], elems = 1;
    t->ndim = (int)ndim;
    for (uint32_t i = 0; i < ndim; i++) {
        if (!take(c, &ne[i], 8)) return truncated(c, name);
        if (ne[i] > INT64_MAX || (ne[i] && elems > UINT64_MAX / 256 / ne[i]))
            return lw_error_set(c->err, LW_ERR_FORMAT, "%s: tensor %s: shape overflows", c->path,
                                name);
        elems *= ne[i];
        t->shape[ndim - 1 - i] = (int64_t)ne[i];
    }
    if (!take(c, &type, 4) || !take(c, offset, 8)) return truncated(c, name);
    size_t k = 0;
    while (k < sizeof ggml_types / sizeof ggml_types[0] && ggml_types[k].ggml != type)
        k++;
    if (k == sizeof ggml_types / sizeof ggml_types[0])
        return lw_error_set(
            c->err, LW_ERR_DTYPE, "%s: tensor %s: ggml type %u (%s) is not supported", c->path,
            name, type,
            type < sizeof ggml_names / sizeof ggml_names[0] ? ggml_names[type] : "unknown");
    t->dtype = ggml_types[k].dtype;
    uint32_t block = lw_dtype_info(t->dtype)->block_elems;
    if (ndim == 0 ? block != 1 : ne[0] % block)
        return lw_error_set(c->err, LW_ERR_FORMAT,
                            "%s: tensor %s: rows of %llu elements are not whole "
                            "%s blocks of %u",
                            c->path, name, (unsigned long long)(ndim ? ne[0] : 1), ggml_names[type],
                            block);
    t->bytes = lw_dtype_bytes(t->dtype, elems);
    return LW_OK;
}

enum lw_status wt_gguf_parse(struct wt_file *f, size_t source, struct lw_error *err) {
    const struct wt_source *s = &f->sources[source];
    struct cursor           c = {s->map, (const uint8_t *)s->map + s->size, s->path, err};
    uint32_t                magic, version, alignment = 32;
    uint64_t                tensors, kvs;
    if (!take(&c, &magic, 4) || !take(&c, &version, 4) || !take(&c, &tensors, 8) ||
        !take(&c, &kvs, 8))
        return truncated(&c, "the header");
    if (version != 2 && version != 3)
        return lw_error_set(err, LW_ERR_FORMAT,
                            "%s: GGUF version %u (%s); we read versions 2 and 3", s->path, version,
                            version > 0xffff ? "big-endian file?" : "unsupported");
    /* A key/value takes at least 13 bytes, a tensor info at least 24. */
    if (kvs > left(&c) / 13 || tensors > left(&c) / 24)
        return lw_error_set(
            err, LW_ERR_FORMAT, "%s: %llu tensors and %llu keys cannot fit in %llu bytes", s->path,
            (unsigned long long)tensors, (unsigned long long)kvs, (unsigned long long)s->size);
    enum lw_status status = LW_OK;
    for (uint64_t i = 0; i < kvs && status == LW_OK; i++)
        status = kv_read(f, source, &c, &alignment);
    size_t    first = f->count;
    uint64_t *offsets = malloc((tensors ? tensors : 1) * sizeof *offsets);
    char     *name = malloc(MAX_NAME + 1);
    if (!offsets || !name) status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    for (uint64_t i = 0; i < tensors && status == LW_OK; i++) {
        struct wt_tensor t;
        status = info_read(&c, &t, &offsets[i], name);
        if (status == LW_OK) status = wt_tensor_add(f, &t, err);
    }
    free(name);
    /* The data section starts at the next multiple of the alignment. */
    uint64_t at = (uint64_t)(c.p - (const uint8_t *)s->map);
    uint64_t start = (at + alignment - 1) / alignment * alignment;
    if (status == LW_OK && start > s->size && tensors)
        status =
            lw_error_set(err, LW_ERR_FORMAT, "%s: GGUF truncated before its data section", s->path);
    uint64_t data_bytes = start <= s->size ? s->size - start : 0;
    for (uint64_t i = 0; i < tensors && status == LW_OK; i++) {
        struct wt_tensor *t = &f->tensors[first + i];
        if (offsets[i] % alignment)
            status = lw_error_set(err, LW_ERR_FORMAT,
                                  "%s: tensor %s: offset %llu is not a multiple of "
                                  "the alignment %u",
                                  s->path, t->name, (unsigned long long)offsets[i], alignment);
        else if (offsets[i] > data_bytes || t->bytes > data_bytes - offsets[i])
            status = lw_error_set(err, LW_ERR_FORMAT,
                                  "%s: tensor %s: bytes [%llu, +%llu) outside the "
                                  "%llu-byte data section (truncated file or lying header)",
                                  s->path, t->name, (unsigned long long)offsets[i],
                                  (unsigned long long)t->bytes, (unsigned long long)data_bytes);
        else
            t->data = (const uint8_t *)s->map + start + offsets[i];
    }
    free(offsets);
    return status == LW_OK ? wt_check_overlaps(f, first, s->path, err) : status;
}
