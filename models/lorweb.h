/* LoRWeB: the checkpoint's config.yaml (spec-lorweb.md §1.7). The basis itself lives in the
 * transformer (flux.h); the mixing coefficients and the user's controls are in lorweb_mix.h. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "status.h"

struct lorweb_config {
    int64_t heads;            /* lora_heads (1) */
    bool    softmax;          /* lora_softmax: softmax, else tanh */
    bool    mean;             /* mixing_coeffs_type: mean, else clamped sum */
    bool    project;          /* query_projection_type: linear, else none (identity) */
    char    query_mode[32];   /* "cat-aa'b" is the one the engine builds */
    int64_t rank, alpha;      /* network.linear / linear_alpha (informative: the scale is 1) */
};

/* Reads config.process[0].network.network_kwargs.* with libyaml. Missing optional keys take the
 * loader defaults (softmax, mean, linear, heads 1); wrong types or an unknown value are
 * LW_ERR_FORMAT naming the file and field. */
enum lw_status lorweb_config_read(const char *path, struct lorweb_config *out, struct lw_error *err);
