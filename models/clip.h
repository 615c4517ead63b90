/* CLIP encoders in Hugging Face naming: the ViT vision tower with its projection (the LoRWeB query
 * encoder, `image_embeds`) and the text tower (FLUX's pooled `y`).
 *
 * Threading: one thread at a time per model. */
#pragma once

#include <stdint.h>

#include "compute.h"

struct clip_model;

enum clip_kind { CLIP_VISION = 0, CLIP_TEXT = 1 };

struct clip_config {
    int64_t hidden, heads, layers, mlp;
    int64_t patch, image_size, projection; /* vision */
    int64_t vocab, positions;              /* text */
    double  eps;                           /* LayerNorm eps (1e-5) */
};

/* Loads one tower from a file holding it (a full CLIPModel file holds both). Hyper-parameters from
 * `clip_vision.*` / `clip_text.*` metadata, else from shapes (heads = hidden / 64), else defaults. */
enum lw_status clip_load(struct cmp_device *device, const char *path, enum clip_kind kind,
                         struct clip_model **out, struct lw_error *err);
void           clip_destroy(struct clip_model *model);
const struct clip_config *clip_config(const struct clip_model *model);

/* pixel_values (3, S, S), already normalised (S = image_size) → image_embeds (projection), not
 * L2-normalised; last_hidden (1 + patches, hidden) before the post-LayerNorm, or NULL. */
enum lw_status clip_vision_forward(struct clip_model *model, const float *pixel_values,
                                   float *image_embeds, float *last_hidden, struct lw_error *err);

/* ids (n ≤ positions), padded by the caller (77, with 49407) → pooled (hidden): the final-LayerNorm
 * state at the first end-of-text id 49407 (the last position if there is none); last_hidden
 * (n, hidden) after the final LayerNorm, or NULL. */
enum lw_status clip_text_forward(struct clip_model *model, const int32_t *ids, int64_t n,
                                 float *pooled, float *last_hidden, struct lw_error *err);
