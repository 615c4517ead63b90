/* Image-quality and analogy metrics for `lorweb eval` (issue 7): PSNR, SSIM, and the CLIP
 * directional and preservation similarities. Plain CPU math on caller-owned buffers. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Images are interleaved float RGB(A) in [0, 1], `channels` per pixel (3 or 4: alpha ignored),
 * `stride` floats between rows. */
struct metric_image {
    const float *data;
    int          width, height, channels;
    size_t       stride;
};

/* PSNR in dB over RGB with peak 1 (inf → returned as 100 for identical images). */
double metric_psnr(const struct metric_image *a, const struct metric_image *b);

/* Mean SSIM (Wang et al. 2004) over RGB channels: 11×11 Gaussian window σ = 1.5, K1 = 0.01,
 * K2 = 0.03, dynamic range 1, computed on the valid region (no padding), as scikit-image's
 * structural_similarity(gaussian_weights=True, use_sample_covariance=False) does. Images smaller
 * than 11 pixels use a window clipped to the image. */
double metric_ssim(const struct metric_image *a, const struct metric_image *b);

/* cos(E(b′) − E(b), E(a′) − E(a)) and cos(E(b′), E(b)) of n-dimensional embeddings. */
double metric_clip_direction(const float *e_a, const float *e_a_prime, const float *e_b,
                             const float *e_b_prime, size_t n);
double metric_cosine(const float *x, const float *y, size_t n);
