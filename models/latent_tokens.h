/* FLUX's 2×2 packing of autoencoder latents into transformer tokens and back (spec-flux-kontext.md
 * §2.2): latent (z, h, w) ↔ tokens ((h/2)·(w/2), 4z), feature index c·4 + dy·2 + dx, tokens in
 * row-major order of the (h/2, w/2) grid. CPU, exact (a permutation). h and w must be even. */
#pragma once

#include <stdint.h>

void latent_pack(const float *latent, int64_t z, int64_t h, int64_t w, float *tokens);
void latent_unpack(const float *tokens, int64_t z, int64_t h, int64_t w, float *latent);
