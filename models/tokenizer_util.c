/* File reading, UTF-8 and the string map shared by tokenizer_clip.c and tokenizer_t5.c. zlib's
 * gzread reads plain files unchanged, so one reader serves vocab.json, merges.txt, spiece.model and
 * OpenAI's bpe_simple_vocab_16e6.txt.gz. */
#include "tokenizer_util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

enum lw_status tok_file_read(const char *path, size_t limit, char **data, size_t *size,
                             struct lw_error *err) {
    *data = NULL, *size = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) return lw_error_set(err, LW_ERR_FILE, "%s: cannot open", path);
    size_t cap = 1 << 16, n = 0;
    char  *buf = malloc(cap + 1);
    int    got = 0;
    while (buf && (got = gzread(f, buf + n, (unsigned)(cap - n))) > 0) {
        n += (size_t)got;
        if (n > limit) break;
        if (n == cap) {
            char *grown = realloc(buf, cap * 2 + 1);
            if (!grown) free(buf);
            buf = grown, cap *= 2;
        }
    }
    int errnum = Z_OK;
    if (got < 0) gzerror(f, &errnum);
    gzclose(f);
    if (!buf) return lw_error_set(err, LW_ERR_HOST_MEMORY, "%s: out of host memory", path);
    if (n > limit) {
        free(buf);
        return lw_error_set(err, LW_ERR_TOO_LARGE, "%s: more than %zu bytes", path, limit);
    }
    if (got < 0) {
        free(buf);
        return lw_error_set(err, errnum == Z_ERRNO ? LW_ERR_FILE : LW_ERR_FORMAT,
                            "%s: cannot read (%s)", path,
                            errnum == Z_ERRNO ? "I/O error" : "corrupt gzip data");
    }
    buf[n] = '\0';
    *data = buf, *size = n;
    return LW_OK;
}

bool tok_is_dir(const char *path) {
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

uint32_t tok_utf8_decode(const unsigned char *s, size_t n, size_t *len) {
    unsigned c = s[0];
    *len = 1;
    if (c < 0x80) return c;
    int need = c >= 0xc2 && c <= 0xdf ? 1 : (c & 0xf0) == 0xe0 ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
    if (!need || (size_t)need >= n) return UINT32_MAX;
    uint32_t min = need == 1 ? 0x80 : need == 2 ? 0x800 : 0x10000;
    uint32_t cp = c & (0x3f >> need);
    for (int i = 1; i <= need; i++) {
        if ((s[i] & 0xc0) != 0x80) return UINT32_MAX;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return UINT32_MAX;
    *len = (size_t)need + 1;
    return cp;
}

int tok_utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6), out[1] = (char)(0x80 | (cp & 63));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12), out[1] = (char)(0x80 | ((cp >> 6) & 63));
        out[2] = (char)(0x80 | (cp & 63));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18), out[1] = (char)(0x80 | ((cp >> 12) & 63));
    out[2] = (char)(0x80 | ((cp >> 6) & 63)), out[3] = (char)(0x80 | (cp & 63));
    return 4;
}

static uint64_t hash(const char *s, size_t n) {
    uint64_t h = tok_hash_start();
    for (size_t i = 0; i < n; i++)
        h = tok_hash_step(h, (unsigned char)s[i]);
    return h;
}

bool tok_map_init(struct tok_map *m, size_t expected) {
    size_t size = 16;
    while (size < expected * 2)
        size <<= 1;
    m->slots = calloc(size, sizeof *m->slots);
    m->mask = size - 1, m->count = 0;
    return m->slots != NULL;
}

static struct tok_map_slot *find_hashed(const struct tok_map *m, const char *key, size_t len,
                                        uint64_t h) {
    size_t i = (h ^ (h >> 29)) & m->mask;
    while (m->slots[i].key && (m->slots[i].len != len || memcmp(m->slots[i].key, key, len)))
        i = (i + 1) & m->mask;
    return &m->slots[i];
}

static struct tok_map_slot *find(const struct tok_map *m, const char *key, size_t len) {
    return find_hashed(m, key, len, hash(key, len));
}

bool tok_map_put(struct tok_map *m, const char *key, size_t len, int32_t value, int32_t *existing) {
    if (existing) *existing = -1;
    if (len > UINT32_MAX) return false;
    if ((m->count + 1) * 2 > m->mask + 1) { /* keep the load at most 1/2 */
        struct tok_map grown;
        if (!tok_map_init(&grown, (m->mask + 1))) return false;
        for (size_t i = 0; i <= m->mask; i++)
            if (m->slots[i].key) *find(&grown, m->slots[i].key, m->slots[i].len) = m->slots[i];
        grown.count = m->count;
        free(m->slots);
        *m = grown;
    }
    struct tok_map_slot *slot = find(m, key, len);
    if (slot->key) {
        if (existing) *existing = slot->value;
        return true;
    }
    char *copy = malloc(len + 1);
    if (!copy) return false;
    memcpy(copy, key, len);
    copy[len] = '\0';
    slot->key = copy, slot->len = (uint32_t)len, slot->value = value;
    m->count++;
    return true;
}

bool tok_map_set(struct tok_map *m, const char *key, size_t len, int32_t value) {
    if (!tok_map_put(m, key, len, value, NULL)) return false;
    find(m, key, len)->value = value;
    return true;
}

int32_t tok_map_get(const struct tok_map *m, const char *key, size_t len) {
    if (!m->slots) return -1;
    const struct tok_map_slot *slot = find(m, key, len);
    return slot->key ? slot->value : -1;
}

int32_t tok_map_get_hashed(const struct tok_map *m, const char *key, size_t len, uint64_t h) {
    if (!m->slots) return -1;
    const struct tok_map_slot *slot = find_hashed(m, key, len, h);
    return slot->key ? slot->value : -1;
}

void tok_map_free(struct tok_map *m) {
    for (size_t i = 0; m->slots && i <= m->mask; i++)
        free(m->slots[i].key);
    free(m->slots);
    m->slots = NULL, m->mask = m->count = 0;
}
