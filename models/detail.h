/* Full-resolution detail transfer: bring b′ (the ≈512² generated quadrant) back to b's full size
 * with b's fine detail (issue 7). The CPU reference and fallback; a VkFFT version on the device
 * implements the same transfer function.
 *
 * Method. Let u = b′ upsampled to b's size (Pillow-style BICUBIC, resize.h) and d = b − u. Then
 *     out = u + (d − G_σ ∗ d) = G_σ ∗ u + (b − G_σ ∗ b):
 * the low frequencies of b′ and the high frequencies of b, split by a Gaussian low-pass G_σ whose
 * frequency response is exp(−2π²(σx²fx² + σy²fy²)) (f in cycles per b pixel). The cut-off comes
 * from the size ratio r = b / b′ per axis (b′'s Nyquist frequency is 1/(2r) in b's pixels) and the
 * user's "keep detail" k ∈ [0, 1]:
 *     σ = k · r · √(ln 2 / 2) · 2/π ≈ 0.3748 · k · r   (b pixels),
 * which puts the half-amplitude point at (1/k)× b′'s Nyquist frequency: k = 1 takes from b
 * everything finer than b′ can represent (and half of the band at its limit), smaller k only finer
 * detail, k = 0 nothing (out = u exactly: pure b′). Colour is clamped to [0, 1]; alpha is b's.
 *
 * The spatial version here: a separable Gaussian of radius ⌈3σ⌉, weights normalised, edges
 * replicated; processed in bands of rows (each with its halo) on up to 8 threads, never holding a
 * full-size intermediate: memory is b′ widened to b's width plus one band per thread. Not here:
 * the device path, colour management (values are the files' sRGB numbers, as everywhere). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "status.h"

struct detail_params {
    float keep;    /* k ∈ [0, 1]: 0 = pure b′ (default), 1 = everything finer than b′ from b */
    int   threads; /* worker threads; 0 = the machine's cores, at most 8 */
    /* Called between rounds of bands with the fraction done; returning false cancels the
     * transfer (LW_ERR_CANCELLED; `out` is then partly written). NULL = never. */
    bool (*progress)(void *user, double fraction);
    void *user;
};

/* σ in b pixels along an axis of `large` b pixels and `small` b′ pixels (the formula above). */
double detail_sigma(int small, int large, float keep);

/* b′ (bpw × bph RGBA floats, rows bp_stride floats apart) and b (bw × bh RGBA, b_stride) → out
 * (bw × bh RGBA, out_stride), which must not overlap b. Straight alpha, values in [0, 1].
 * LW_ERR_ARGUMENT for a size < 1, a stride < 4·width or keep outside [0, 1];
 * LW_ERR_HOST_MEMORY; LW_ERR_CANCELLED. */
enum lw_status detail_transfer(const float *b_prime, int bpw, int bph, size_t bp_stride,
                               const float *b, int bw, int bh, size_t b_stride, float *out,
                               size_t out_stride, const struct detail_params *params,
                               struct lw_error *err);
