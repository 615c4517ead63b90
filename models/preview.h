/* Cheap progress previews of b′ during sampling: a linear map from latent channels to RGB, fitted per
 * run by least squares on the Kontext context itself (the encoded grid against the grid image
 * averaged over each latent pixel's f×f block), then applied to the transformer's current clean-latent
 * prediction (flux_sample_x0). No decoder run, model-agnostic (the map is learnt from the model's own
 * autoencoder), a latent pixel per preview pixel. Not a decode: colours and coarse layout only. */
#pragma once

#include <stdint.h>

#include "status.h"

#define PREVIEW_MAX_CHANNELS 64

struct preview_map {
    int64_t z;                                       /* latent channels */
    float   weight[3][PREVIEW_MAX_CHANNELS + 1];     /* RGB in [−1, 1] = W·(latent, 1) */
};

/* Fits the map from latent (z, lh, lw) and the image it encodes (3, lh·f, lw·f) in [−1, 1]
 * (ridge-regularised normal equations, solved in double). LW_ERR_ARGUMENT for z > PREVIEW_MAX_CHANNELS. */
enum lw_status preview_fit(const float *latent, int64_t z, int64_t lh, int64_t lw, const float *image, int64_t f,
                           struct preview_map *map, struct lw_error *err);

/* RGBA [0, 1] (opaque), w×h, of latent pixels [x0, x0 + w) × [y0, y0 + h) of packed tokens
 * ((lh/2)·(lw/2), 4z) (latent_tokens.h's layout). */
void preview_render(const struct preview_map *map, const float *tokens, int64_t lh, int64_t lw, int x0, int y0,
                    int w, int h, float *rgba);
