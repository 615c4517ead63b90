/* The autoencoder's model structure, shared by vae.c (whole-image runs) and vae_banded.c (large
 * images in row bands). Not part of the engine's interface: include vae.h elsewhere. */
#pragma once

#include <stdbool.h>

#include "loader.h"
#include "ops.h"
#include "vae.h"

#define MAX_LEVELS 8
#define MAX_BLOCKS 5
#define GN_EPS 1e-6f

struct vae_resnet {
    int64_t          cin, cout;
    struct op_tensor norm1_w, norm1_b, conv1_w, conv1_b, norm2_w, norm2_b, conv2_w, conv2_b;
    struct op_tensor shortcut_w, shortcut_b; /* absent when cin == cout */
};

struct vae_attn {
    int64_t          c;
    struct op_tensor norm_w, norm_b, q_w, q_b, k_w, k_b, v_w, v_b, proj_w, proj_b; /* q..proj (C, C) */
};

struct vae_half {
    bool              present;
    struct op_tensor  conv_in_w, conv_in_b;
    struct vae_resnet blocks[MAX_LEVELS][MAX_BLOCKS];
    struct op_tensor  resample_w[MAX_LEVELS], resample_b[MAX_LEVELS]; /* down- or upsample convs */
    struct vae_resnet mid_1, mid_2;
    struct vae_attn   mid_attn;
    struct op_tensor  norm_out_w, norm_out_b, conv_out_w, conv_out_b;
};

struct vae_model {
    struct cmp_device *device;
    struct ld_resources res;
    struct vae_config  cfg;
    struct vae_half    encoder, decoder;
};

/* Decoder input and middle, whole, on the device: latent (z, h, w) as vae_decode takes it → the
 * middle block's output (C, h, w), C the deepest level's width, into `out` (host). */
enum lw_status vae_decode_middle(struct vae_model *model, const float *latent, int64_t h, int64_t w, float *out,
                                 struct lw_error *err);
/* Encoder middle and output, whole, on the device: x (C, h, w), the last level's output at latent
 * resolution (host) → latent (z, h, w) as vae_encode returns it. */
enum lw_status vae_encode_middle(struct vae_model *model, const float *x, int64_t h, int64_t w, float *latent,
                                 struct lw_error *err);
/* LW_ERR_ARGUMENT naming the size unless h and w are positive multiples of f. */
enum lw_status vae_check_size(int64_t h, int64_t w, int64_t f, struct lw_error *err);
/* The width of level l (ch · ch_mult[l]). */
int64_t vae_level_width(const struct vae_config *c, int64_t level);
