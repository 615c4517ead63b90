/* libFuzzer helpers: the parsers under test read paths, so each input is written to a private file. */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (n && fwrite(data, 1, n, f) != n) abort();
    fclose(f);
}

static inline const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix) {
    static char path[128];
    snprintf(path, sizeof path, "/tmp/lorweb-fuzz-%d%s", (int)getpid(), suffix);
    write_bytes(path, data, size);
    return path;
}

/* The input as a NUL-terminated string the caller frees (the tokenizers take C strings; an
 * embedded NUL ends the text there, as it would for any caller). */
static inline char *fuzz_cstring(const void *data, size_t n) {
    char *s = malloc(n + 1);
    if (!s) abort();
    if (n) memcpy(s, data, n);
    s[n] = '\0';
    return s;
}
