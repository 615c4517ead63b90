/* Image resampling on float planar or interleaved images: Pillow's separable antialiased filters
 * (support scaled by the downscale factor, weights normalised per output pixel), horizontal pass
 * first. Not bit-faithful to Pillow's 8-bit path (that rounds between passes); float throughout. */
#pragma once

#include <stddef.h>

#include "status.h"

enum img_filter { IMG_BICUBIC = 0, IMG_LANCZOS = 1 };

/* Resizes an interleaved image of `channels` floats per pixel (rows `src_stride` floats apart) to
 * dst (dw × dh, tightly packed). */
enum lw_status img_resize(const float *src, int sw, int sh, size_t src_stride, int channels,
                          float *dst, int dw, int dh, enum img_filter filter, struct lw_error *err);
