/* Image resampling exactly as Pillow 9.4 does it (libImaging/Resample.c), spec-lorweb.md §3.1.2:
 * separable, horizontal pass first, per axis scale = in/out, support = R·max(scale, 1) (R = 2 for
 * BICUBIC with a = −0.5, 3 for LANCZOS: antialiased when shrinking), taps over
 * [⌊centre − support + ½⌋, ⌊centre + support + ½⌋) clipped to the image, kernel evaluated at
 * (j − centre + ½)·(1/max(scale, 1)), weights normalised by their sum. A pass whose axis keeps its
 * size is skipped.
 *
 * Two arithmetics, as Pillow has them:
 * - img_resize_u8: Pillow's 8-bit path, bit for bit: weights rounded to 22-bit fixed point (half
 *   away from zero), integer accumulation from 2²¹, >> 22, clamped to [0, 255], an 8-bit image
 *   between the passes. This is what the references do to their uint8 images (the LoRWeB grid,
 *   CLIP's resize, Kontext's resize).
 * - img_resize: Pillow's mode "F" path on floats: double accumulation, float between the passes.
 *   For our own float images (b′ back to b's size, previews).
 * Channels are independent (Pillow's "RGB"/"L" modes; Pillow premultiplies "RGBA", we do not). Not
 * here: the grid, crops and Kontext sizes (grid.h). No function keeps state; all are reentrant. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "status.h"

enum img_filter { IMG_BICUBIC = 0, IMG_LANCZOS = 1 };

/* Float image src (sh rows of sw pixels of `channels` floats, rows `src_stride` floats apart) →
 * dst (dw × dh, tightly packed). LW_ERR_ARGUMENT for a size < 1 or channels outside 1 … 4;
 * LW_ERR_HOST_MEMORY. */
enum lw_status img_resize(const float *src, int sw, int sh, size_t src_stride, int channels,
                          float *dst, int dw, int dh, enum img_filter filter, struct lw_error *err);

/* The same for 8-bit images, Pillow's fixed-point arithmetic; `src_stride` in bytes. */
enum lw_status img_resize_u8(const uint8_t *src, int sw, int sh, size_t src_stride, int channels,
                             uint8_t *dst, int dw, int dh, enum img_filter filter,
                             struct lw_error *err);

/* 8-bit RGB of a float image with values in [0, 1] (straight alpha), as Pillow's convert("RGB") of
 * the same file: round(clamp(v, 0, 1)·255) of the first three channels, alpha dropped. `channels`
 * is 3 or 4; dst is (h, w, 3). For a PNG read by image_io this recovers the file's bytes. */
void img_to_rgb8(const float *src, int w, int h, size_t src_stride, int channels, uint8_t *dst);

/* CLIPImageProcessor's preprocessing (transformers, slow PIL path; spec-lorweb.md §3.1) of an 8-bit
 * RGB image (rows `stride` bytes apart, `channels` 3 or 4, alpha ignored) into pixel_values (3, S,
 * S): shortest side to S with img_resize_u8 BICUBIC (long side ⌊S·long/short⌋), centre crop S × S
 * at (⌊(h′ − S)/2⌋, ⌊(w′ − S)/2⌋), v = float(u8 · (1/255 in double)), then (v − mean)/std in float
 * with OpenAI's mean (0.48145466, 0.4578275, 0.40821073) and std (0.26862954, 0.26130258,
 * 0.27577711). Bit-exact with the reference. LW_ERR_ARGUMENT for sizes < 1; LW_ERR_HOST_MEMORY. */
enum lw_status img_clip_pixels(const uint8_t *rgb, int w, int h, size_t stride, int channels,
                               int size, float *pixel_values, struct lw_error *err);

/* The taps of one axis (n_in → n_out), for code that resamples on its own terms (detail.c, device
 * kernels). */
struct img_taps;
enum lw_status img_taps_create(int n_in, int n_out, enum img_filter filter, struct img_taps **out,
                               struct lw_error *err);
void           img_taps_destroy(struct img_taps *taps);
/* Output i reads source indices first … first + count − 1 with the `count` normalised weights
 * *weights (valid until img_taps_destroy). Returns count. */
int img_taps_get(const struct img_taps *taps, int i, int *first, const double **weights);
