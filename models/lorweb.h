/* LoRWeB: the checkpoint's config.yaml (spec-lorweb.md §1.7). The basis itself lives in the
 * transformer (flux.h); the mixing coefficients and the user's controls are in lorweb_mix.h. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "status.h"

struct lorweb_config {
    int64_t heads;            /* lora_heads (required) */
    bool    softmax;          /* lora_softmax: softmax, else tanh (default true) */
    bool    mean;             /* mixing_coeffs_type: mean, else clamped sum (default mean) */
    bool    project;          /* query_projection_type: linear (default), else none (identity) */
    bool    pool_max;         /* pooling_type: max, else avg (internal-query modes only) */
    char    query_mode[32];   /* "cat-aa'b" is the one the engine builds (default "aa'bb'") */
    char    query_model[64];  /* external_query_model (default openai/clip-vit-large-patch14) */
    int64_t basis, keys_dim;  /* loras_num, lora_keys_dim (informative, 0 if absent) */
    int64_t rank, alpha;      /* network.linear / linear_alpha (informative: the scale is 1) */
};

/* Reads config.process[0].network.network_kwargs.* (and network.linear / linear_alpha) with
 * libyaml (models/lorweb_config.c). lora_heads is required (LW_ERR_MISSING naming the field);
 * other fields take the reference loader's defaults when absent; a wrong type or an unknown value
 * is LW_ERR_FORMAT naming the file, line and field; LW_ERR_FILE when it cannot be read. */
enum lw_status lorweb_config_read(const char *path, struct lorweb_config *out, struct lw_error *err);
