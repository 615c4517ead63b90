/* PSNR and SSIM against scikit-image 0.19 (structural_similarity with gaussian_weights=True,
 * sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=-1; peak_signal_noise_ratio
 * with data_range=1) on two formula-defined images, values computed once and written here; plus the
 * embedding similarities on hand-checkable vectors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "metrics.h"

static float *image(int w, int h, double k) {
    float *p = malloc((size_t)w * h * 3 * sizeof *p);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float *q = p + ((size_t)y * w + x) * 3;
            q[0] = (float)((sin(0.37 * x * k + 0.11 * y) + 1) / 2);
            q[1] = (float)((cos(0.21 * y * k - 0.05 * x) + 1) / 2);
            q[2] = (float)(fmod(x * 7 + y * 13 * k, 17) / 16.0);
        }
    return p;
}

int main(void) {
    const struct {
        int    w, h;
        double ssim, psnr;
    } cases[] = {{32, 24, 0.1022570551624129, 7.4619234098833775},
                 {17, 13, 0.3781928592241168, 9.469344639668481}};
    for (size_t i = 0; i < 2; i++) {
        int                 w = cases[i].w, h = cases[i].h;
        float              *a = image(w, h, 1), *b = image(w, h, 1.3);
        struct metric_image ia = {a, w, h, 3, (size_t)w * 3}, ib = {b, w, h, 3, (size_t)w * 3};
        double              s = metric_ssim(&ia, &ib), p = metric_psnr(&ia, &ib);
        printf("%dx%d: ssim %.9f (skimage %.9f), psnr %.6f (skimage %.6f)\n", w, h, s, cases[i].ssim,
               p, cases[i].psnr);
        th_check(fabs(s - cases[i].ssim) < 1e-5, "ssim %dx%d", w, h);
        th_check(fabs(p - cases[i].psnr) < 1e-4, "psnr %dx%d", w, h);
        th_check(fabs(metric_ssim(&ia, &ia) - 1) < 1e-9, "ssim of an image with itself is 1");
        th_check(metric_psnr(&ia, &ia) == 100.0, "identical images give the PSNR cap");
        free(a);
        free(b);
    }
    float ea[] = {1, 0, 0}, eap[] = {1, 1, 0}, eb[] = {0, 0, 1}, ebp[] = {0, 2, 1}, ebn[] = {0, -1, 1};
    th_check(fabs(metric_clip_direction(ea, eap, eb, ebp, 3) - 1) < 1e-12, "same direction: 1");
    th_check(fabs(metric_clip_direction(ea, eap, eb, ebn, 3) + 1) < 1e-12, "opposite direction: -1");
    th_check(fabs(metric_cosine(eb, ebp, 3) - 1 / sqrt(5)) < 1e-12, "cosine");
    return th_finish();
}
