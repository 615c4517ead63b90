/* Image geometry of the LoRWeB pipeline on FLUX.1 Kontext: the 2×2 analogy grid, exact quadrant
 * crops, Kontext's preferred resolutions and output size, and the context image tensor
 * (spec-lorweb.md §2, spec-flux-kontext.md §5).
 *
 * Mirrors LoRWeB's inference.py (process_control_image_with_replace) and diffusers'
 * FluxKontextPipeline (preferred-resolution choice, output size, VaeImageProcessor), on 8-bit RGB
 * images as they do, with Pillow-exact resampling (resize.h). One deliberate difference: quadrants
 * are cut exactly for any grid shape; the reference cuts its CLIP crops at W/2 on both axes, which
 * is only right for square grids. Not here: CLIP preprocessing (resize.h), encoding, sampling. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* The preferred (w, h) for an image of aspect w/h: the entry of Kontext's 17 preferred resolutions
 * (672×1568 … 1024×1024 … 1568×672) minimising |w/h − entry_w/entry_h|, ties to the smaller width
 * (diffusers' min over (difference, w, h)). Sizes must be ≥ 1. */
void img_kontext_resolution(int w, int h, int *out_w, int *out_h);

/* diffusers' output size for a requested w × h: aspect a = w/h kept at area `max_area` (1024² by
 * default): round(√(max_area·a)) × round(√(max_area/a)), rounding half to even as Python's round,
 * then each floored to a multiple of `multiple` (16 for FLUX). A square request gives 1024 × 1024.
 */
void img_kontext_output_size(int w, int h, int64_t max_area, int multiple, int *out_w, int *out_h);

/* The LoRWeB control grid (spec-lorweb.md §2.1): 8-bit RGB a (aw × ah), a′, b in, rows `*_stride`
 * bytes apart; a′ and b are resized to a's size with Pillow's BICUBIC (copied when already that
 * size) and the grid (2·ah rows of 2·aw pixels, RGB, packed) is
 *     a | a′
 *     b | b      (the bottom-right quadrant is a copy of b, as in training and inference).
 * LW_ERR_ARGUMENT for a size < 1; LW_ERR_HOST_MEMORY. */
enum lw_status img_grid_build(const uint8_t *a, int aw, int ah, size_t a_stride, const uint8_t *ap,
                              int apw, int aph, size_t ap_stride, const uint8_t *b, int bw, int bh,
                              size_t b_stride, uint8_t *grid, struct lw_error *err);

/* The exact box of quadrant q (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right) of a w × h
 * image: columns from 0 or ⌊w/2⌋, rows from 0 or ⌊h/2⌋, to the half or the edge. Quadrant 3 is
 * the reference's b′ crop box (W div 2, H div 2, W, H); on a 2w × 2h grid every quadrant is w × h.
 */
void img_quadrant(int w, int h, int q, int *x0, int *y0, int *qw, int *qh);

/* The Kontext context image: 8-bit RGB (rows `stride` bytes apart, `channels` 3 or 4, alpha
 * ignored) resized with Pillow's LANCZOS to out_w × out_h, then as VaeImageProcessor:
 * v = 2·(u8 / 255) − 1 in float, planar (3, out_h, out_w). */
enum lw_status img_kontext_pixels(const uint8_t *rgb, int w, int h, size_t stride, int channels,
                                  int out_w, int out_h, float *chw, struct lw_error *err);
