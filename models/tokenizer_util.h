/* Pieces shared by the two tokenizers (internal, not part of the engine's API): reading a whole
 * file (plain or gzip), strict UTF-8 decoding and encoding, and a string → int32 hash map whose
 * keys it owns. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* Reads all of `path` (gzip-compressed or not) into a malloc'd, NUL-terminated buffer of *size
 * bytes. Files that are, or inflate to, more than `limit` bytes are refused (a hostile .gz cannot
 * exhaust memory). Returns LW_ERR_FILE, LW_ERR_TOO_LARGE or LW_ERR_HOST_MEMORY with `err` naming
 * the path. */
enum lw_status tok_file_read(const char *path, size_t limit, char **data, size_t *size,
                             struct lw_error *err);

/* True if `path` names a directory. */
bool tok_is_dir(const char *path);

/* Decodes one character of s[0..n) (n ≥ 1) as Python's strict UTF-8 decoder does: overlong forms,
 * surrogates and values past U+10FFFF are invalid. Sets *len to the bytes used and returns the code
 * point, or returns UINT32_MAX with *len = 1 for an invalid byte. */
uint32_t tok_utf8_decode(const unsigned char *s, size_t n, size_t *len);
/* Writes `cp` (≤ U+10FFFF) as 1–4 bytes; returns how many. */
int tok_utf8_encode(uint32_t cp, char *out);

/* Open-addressing map from byte strings to int32 values; it copies the keys. */
struct tok_map_slot {
    char    *key;
    uint32_t len;
    int32_t  value;
};
struct tok_map {
    struct tok_map_slot *slots;
    size_t               mask, count;
};
/* FNV-1a, exposed so that callers growing a key byte by byte hash it incrementally. */
static inline uint64_t tok_hash_start(void) {
    return 1469598103934665603ull;
}
static inline uint64_t tok_hash_step(uint64_t h, unsigned char byte) {
    return (h ^ byte) * 1099511628211ull;
}
bool tok_map_init(struct tok_map *m, size_t expected);
/* Inserts key → value unless the key is present; *existing (if not NULL) gets the value already
 * stored or -1. Returns false only when out of memory. */
bool tok_map_put(struct tok_map *m, const char *key, size_t len, int32_t value, int32_t *existing);
/* Inserts or overwrites key → value. Returns false only when out of memory. */
bool    tok_map_set(struct tok_map *m, const char *key, size_t len, int32_t value);
int32_t tok_map_get(const struct tok_map *m, const char *key, size_t len); /* -1 when absent */
/* The same with `h` = the key's hash from tok_hash_start/tok_hash_step. */
int32_t tok_map_get_hashed(const struct tok_map *m, const char *key, size_t len, uint64_t h);
void    tok_map_free(struct tok_map *m);
