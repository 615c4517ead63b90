/* The FLUX autoencoder (BFL `ae.safetensors` or diffusers `vae/`): image ↔ 16-channel latents.
 *
 * Images are (3, H, W) f32 in [−1, 1]; latents are (z, H/f, W/f) already normalised the FLUX way
 * (encode returns scale·(mean − shift), decode undoes it), f = 2^(levels − 1) (8 for the real
 * model). H and W must be multiples of f. vae_encode/vae_decode run the whole image on the device;
 * vae_encode_banded/vae_decode_banded (vae_banded.c) the same network in row bands for images too
 * large for it. Threading: one thread at a time per model. */
#pragma once

#include <stdint.h>

#include "compute.h"

struct vae_model;

struct vae_config {
    int64_t in_channels, out_channels; /* 3, 3 */
    int64_t ch;                        /* base width (128) */
    int64_t ch_mult[8];                /* per level ([1, 2, 4, 4]) */
    int64_t levels;
    int64_t res_blocks; /* per encoder level; the decoder has one more (2) */
    int64_t z_channels; /* 16 */
    int64_t groups;     /* GroupNorm groups (32) */
    double  scale, shift;
};

/* Loads the autoencoder from a file or diffusers folder. Hyper-parameters come from `ae.*` metadata,
 * else from the tensor shapes, else the published defaults. Returns LW_ERR_FILE/FORMAT/MISSING/SHAPE
 * naming the file and tensor, or a device status. `parts` selects what to load (both by default). */
enum vae_parts { VAE_BOTH = 0, VAE_ENCODER_ONLY = 1, VAE_DECODER_ONLY = 2 };
enum lw_status vae_load(struct cmp_device *device, const char *path, enum vae_parts parts,
                        struct vae_model **out, struct lw_error *err);
void           vae_destroy(struct vae_model *model);
const struct vae_config *vae_config(const struct vae_model *model);
int64_t                  vae_downsampling(const struct vae_model *model); /* f */

/* image (3, h, w) → latent (z, h/f, w/f). */
enum lw_status vae_encode(struct vae_model *model, const float *image, int64_t h, int64_t w,
                          float *latent, struct lw_error *err);
/* latent (z, h, w) → image (3, f·h, f·w), unclamped. */
enum lw_status vae_decode(struct vae_model *model, const float *latent, int64_t h, int64_t w,
                          float *image, struct lw_error *err);

/* As vae_decode, for images too large for the device: the input and middle block run whole at latent
 * resolution, everything above in bands of `band_rows` output rows (0: as many as fit half the device
 * memory still free, at most 256 MiB, and one binding), with activations in host memory and GroupNorm statistics
 * over the whole image (vae_banded.c). Agrees with vae_decode to rounding. */
enum lw_status vae_decode_banded(struct vae_model *model, const float *latent, int64_t h, int64_t w,
                                 int64_t band_rows, float *image, struct lw_error *err);
/* As vae_encode, the same way: the levels in bands, the middle block and output whole at latent
 * resolution. Agrees with vae_encode to rounding. */
enum lw_status vae_encode_banded(struct vae_model *model, const float *image, int64_t h, int64_t w,
                                 int64_t band_rows, float *latent, struct lw_error *err);
