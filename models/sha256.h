/* SHA-256 (FIPS 180-4), for the file fingerprints `lorweb models` prints and checks against
 * published checksums. Plain streaming C; not constant-time, not for secrets. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct sha256 {
    uint32_t h[8];
    uint64_t bytes;
    uint8_t  block[64];
    size_t   fill;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t n);
void sha256_final(struct sha256 *s, uint8_t digest[32]);
/* Lower-case hex of the first `n` digest bytes into out (2n + 1 chars). */
void sha256_hex(const uint8_t digest[32], int n, char *out);
