/* Full-resolution detail transfer on the CPU: the exact reference of detail.h's device path and its
 * fallback, and the variant whose cut-off follows "keep detail" (issue 7).
 *
 * Notation: b (full size), b′ (the generated quadrant, smaller), u = b′ upsampled to b's size
 * (Pillow-style BICUBIC, resize.h), G_σ a Gaussian low-pass with frequency response
 * exp(−2π²(σx²fx² + σy²fy²)) (f in cycles per b pixel), r = b / b′ per axis. b′'s Nyquist
 * frequency is 1/(2r) in b's pixels; G_σ passes half there when σ = σ₁ = r·√(ln 2 / 2)·2/π ≈
 * 0.3748·r. Two rules, k = keep detail ∈ [0, 1], k = 0 giving exactly u (pure b′) in both:
 *
 *   DETAIL_CPU_ADD     out = u + k·(b − G_σ₁ ∗ b)           (detail.h's rule, the pipeline's today:
 *                      b's detail above b′'s Nyquist, scaled by k; b′'s own top band is kept)
 *   DETAIL_CPU_CUTOFF  out = b − G_σ ∗ (b − u), σ = k·σ₁     (k moves the cut-off: b′'s band
 *                      below (1/k)× its Nyquist, b's above it, nothing scaled)
 *
 * Both are out = u + e − G_σ ∗ e with e = k·b (ADD) or e = b − u (CUTOFF). The Gaussian is spatial
 * and separable, radius ⌈4σ⌉, weights normalised, edges mirrored (as the device path's FFT of the
 * mirrored image: the two agree at the borders too). Work goes in bands of rows, each
 * with its halo, on up to 8 threads; nothing full-size is allocated besides b′ widened to b's
 * width. Colour is clamped to [0, 1]; alpha is b's. Straight alpha, values in [0, 1]. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "status.h"

enum detail_cpu_mode { DETAIL_CPU_ADD = 0, DETAIL_CPU_CUTOFF = 1 };

struct detail_cpu_params {
    float                keep; /* k ∈ [0, 1]; 0 = pure b′ (default) */
    enum detail_cpu_mode mode;
    int                  threads; /* worker threads; 0 = the machine's cores, at most 8 */
    /* Called between rounds of bands with the fraction done; false cancels (LW_ERR_CANCELLED, the
     * output partly written). NULL = never. */
    bool (*progress)(void *user, double fraction);
    void *user;
};

/* σ in b pixels along an axis of `large` b pixels and `small` b′ pixels for keep k: k·σ₁. */
double detail_cpu_sigma(int small, int large, float keep);

/* b′ (bpw × bph RGBA floats, rows bp_stride floats apart) and b (bw × bh RGBA, b_stride) → out
 * (bw × bh RGBA, out_stride), which must not overlap b. LW_ERR_ARGUMENT for a size < 1, a stride
 * < 4·width, keep outside [0, 1] or an unknown mode; LW_ERR_HOST_MEMORY; LW_ERR_CANCELLED. */
enum lw_status detail_cpu_transfer(const float *b_prime, int bpw, int bph, size_t bp_stride,
                                   const float *b, int bw, int bh, size_t b_stride, float *out,
                                   size_t out_stride, const struct detail_cpu_params *params,
                                   struct lw_error *err);

/* rgb (h, w, 3) += keep·(b − G_σ ∗ b) in place, b RGBA (rows b_stride floats apart): the ADD rule
 * on an already upsampled b′, with the σ the caller chose (detail.c's CPU fallback). Same errors
 * (keep must be finite, σ > 0). */
enum lw_status detail_cpu_highpass_add(const float *b, size_t b_stride, float *rgb, int w, int h,
                                       double sigma_x, double sigma_y, float keep, int threads,
                                       struct lw_error *err);
