/* The T5 v1.1 encoder (FLUX's text_encoder_2, T5-XXL) in Hugging Face naming, also from GGUF.
 *
 * Threading: one thread at a time per model. */
#pragma once

#include <stdint.h>

#include "compute.h"

struct t5_model;

struct t5_config {
    int64_t d_model, heads, d_kv, d_ff, layers, vocab;
    int64_t buckets, max_distance; /* relative attention: 32, 128 */
    double  eps;                   /* RMSNorm eps (1e-6) */
};

/* Loads the encoder; hyper-parameters from `t5.*` metadata, else shapes, else T5-XXL's. */
enum lw_status t5_load(struct cmp_device *device, const char *path, struct t5_model **out,
                       struct lw_error *err);
void           t5_destroy(struct t5_model *model);
const struct t5_config *t5_config(const struct t5_model *model);

/* ids (n) → hidden (n, d_model) after the final RMSNorm. All positions attend to all (no mask). */
enum lw_status t5_forward(struct t5_model *model, const int32_t *ids, int64_t n, float *hidden,
                          struct lw_error *err);

/* The bidirectional relative-position bucket of rel = key − query (exposed for tests). */
int64_t t5_bucket(int64_t rel, int64_t buckets, int64_t max_distance);
