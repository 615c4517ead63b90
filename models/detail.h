/* Full-resolution detail transfer: b′, computed at the model's working size and upsampled to b's
 * size, takes back b's high frequencies — out = b′↑ + keep · highpass(b).
 *
 * The high-pass is Gaussian in the frequency domain, 1 − exp(−f²/2σ²), with σ chosen so that the
 * filter passes half at the Nyquist frequency of b′'s resolution (f_c = 0.5 · working / full size):
 * what b′ cannot represent comes from b, what it can stays b′'s. Computed with VkFFT on the device,
 * one channel at a time, on the image mirrored into a 2w × 2h plane (so that nothing wraps around
 * from the opposite border); images too large for one storage window use the CPU fallback
 * (detail_cpu_highpass_add: the same Gaussian in space with the same mirrored edges, banded and
 * threaded), so any size works. */
#pragma once

#include "compute.h"

/* rgb: (h, w, 3) interleaved b′↑, updated in place; b: RGBA rows `b_stride` floats apart. `scale` is
 * working size / full size (≤ 1). */
enum lw_status detail_transfer(struct cmp_device *device, const float *b, size_t b_stride, float *rgb, int w,
                               int h, float keep, float scale, struct lw_error *err);
/* The Gaussian high-pass of one plane on the device (exposed for tests); false when it does not fit. */
enum lw_status detail_highpass_gpu(struct cmp_device *device, float *plane, int w, int h, float cutoff,
                                   struct lw_error *err);
