/* 2×2 packing of latents into tokens and back (latent_tokens.h). */
#include "latent_tokens.h"

/* Index of latent value (c, 2ty + d/2, 2tx + d%2) and of its token feature. */
#define LATENT_AT(c, ty, tx, d) (((c) * h + 2 * (ty) + (d) / 2) * w + 2 * (tx) + (d) % 2)
#define TOKEN_AT(c, ty, tx, d) ((((ty) * (w / 2) + (tx)) * z + (c)) * 4 + (d))

void latent_pack(const float *latent, int64_t z, int64_t h, int64_t w, float *tokens) {
    for (int64_t ty = 0; ty < h / 2; ty++)
        for (int64_t tx = 0; tx < w / 2; tx++)
            for (int64_t c = 0; c < z; c++)
                for (int d = 0; d < 4; d++) tokens[TOKEN_AT(c, ty, tx, d)] = latent[LATENT_AT(c, ty, tx, d)];
}

void latent_unpack(const float *tokens, int64_t z, int64_t h, int64_t w, float *latent) {
    for (int64_t ty = 0; ty < h / 2; ty++)
        for (int64_t tx = 0; tx < w / 2; tx++)
            for (int64_t c = 0; c < z; c++)
                for (int d = 0; d < 4; d++) latent[LATENT_AT(c, ty, tx, d)] = tokens[TOKEN_AT(c, ty, tx, d)];
}
