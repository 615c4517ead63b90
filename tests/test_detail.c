/* The detail transfer's spectral high-pass (VkFFT forward, Gaussian mask, VkFFT inverse) against a
 * naive double-precision DFT with the same mask, on awkward sizes; and detail_transfer's contract:
 * keep 0 or no upscaling change nothing, a constant image has no detail, and a device whose storage
 * range is too small takes the CPU fallback instead of failing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detail.h"
#include "detail_cpu.h"
#include "harness.h"

static void reference(const float *x, float *y, int w, int h, float cutoff) {
    double  s2 = cutoff * cutoff / (2 * log(2.0));
    double *re = calloc((size_t)w * h, sizeof *re), *im = calloc((size_t)w * h, sizeof *im);
    for (int ky = 0; ky < h; ky++)
        for (int kx = 0; kx < w; kx++) {
            double a = 0, b = 0;
            for (int yy = 0; yy < h; yy++)
                for (int xx = 0; xx < w; xx++) {
                    double ph = -2 * M_PI * ((double)kx * xx / w + (double)ky * yy / h);
                    a += x[yy * w + xx] * cos(ph), b += x[yy * w + xx] * sin(ph);
                }
            double fx = (double)(kx < w - kx ? kx : w - kx) / w, fy = (double)(ky < h - ky ? ky : h - ky) / h;
            double g = 1 - exp(-(fx * fx + fy * fy) / (2 * s2));
            re[ky * w + kx] = a * g, im[ky * w + kx] = b * g;
        }
    for (int yy = 0; yy < h; yy++)
        for (int xx = 0; xx < w; xx++) {
            double a = 0;
            for (int ky = 0; ky < h; ky++)
                for (int kx = 0; kx < w; kx++) {
                    double ph = 2 * M_PI * ((double)kx * xx / w + (double)ky * yy / h);
                    a += re[ky * w + kx] * cos(ph) - im[ky * w + kx] * sin(ph);
                }
            y[yy * w + xx] = (float)(a / (w * h));
        }
    free(re), free(im);
}

int main(void) {
    struct th_rng rng;
    printf("seed 31\n");
    th_rng_seed(&rng, 31);
    struct cmp_device *dev = th_device_or_skip();
    struct lw_error    err = {0};
    const int          sizes[][2] = {{16, 16}, {30, 22}, {48, 40}, {7, 5}};
    for (int s = 0; s < 4; s++) {
        int    w = sizes[s][0], h = sizes[s][1];
        float *x = malloc((size_t)w * h * 4), *want = malloc((size_t)w * h * 4);
        th_fill_normal(&rng, x, (size_t)w * h, 1);
        reference(x, want, w, h, 0.12f);
        th_check(detail_highpass_gpu(dev, x, w, h, 0.12f, &err) == LW_OK, "highpass %dx%d: %s", w, h, err.message);
        char what[48];
        snprintf(what, sizeof what, "spectral high-pass %dx%d", w, h);
        th_check(th_rel_l2(x, want, (size_t)w * h) < 1e-4, "%s: rel L2 %.2e", what, th_rel_l2(x, want, (size_t)w * h));
        free(x), free(want);
    }
    /* The CPU path (detail_cpu.h, the fallback) is the same filter in space (a plain w × h FFT wraps
     * around at the borders; detail_transfer mirrors, as the CPU path does: checked below). */
    {
        int    w = 48, h = 40, m = 9; /* margin > ⌈4σ⌉ = 7 for σ = √(ln 2 / 2)/(π·0.12) */
        float *x = malloc((size_t)w * h * 4), *b = malloc((size_t)w * h * 16), *rgb = calloc((size_t)w * h * 3, 4);
        th_fill_normal(&rng, x, (size_t)w * h, 1);
        for (int i = 0; i < w * h; i++) b[4 * i] = b[4 * i + 1] = b[4 * i + 2] = x[i], b[4 * i + 3] = 1;
        detail_highpass_gpu(dev, x, w, h, 0.12f, &err);
        double sigma = sqrt(log(2.0) / 2) / (M_PI * 0.12);
        th_check(detail_cpu_highpass_add(b, (size_t)w * 4, rgb, w, h, sigma, sigma, 1, 0, &err) == LW_OK, "cpu");
        float *gi = malloc((size_t)w * h * 4), *ci = malloc((size_t)w * h * 4);
        size_t n = 0;
        for (int y = m; y < h - m; y++)
            for (int xx = m; xx < w - m; xx++) gi[n] = x[y * w + xx], ci[n++] = rgb[(size_t)(y * w + xx) * 3];
        printf("CPU vs device high-pass inside the borders: rel L2 %.2e\n", th_rel_l2(ci, gi, n));
        th_check(th_rel_l2(ci, gi, n) < 1e-3, "CPU and device high-pass agree inside: rel L2 %.2e",
                 th_rel_l2(ci, gi, n));
        free(x), free(b), free(rgb), free(gi), free(ci);
    }
    /* Borders: a bright left column must not reach the right edge (no wrap-around), and the whole
     * result, borders included, is close to the CPU path's. */
    {
        int    w = 40, h = 24;
        float *b = calloc((size_t)w * h * 4, 4), *gpu = calloc((size_t)w * h * 3, 4), *cpu = calloc((size_t)w * h * 3, 4);
        for (int y = 0; y < h; y++) b[(size_t)y * w * 4] = b[(size_t)y * w * 4 + 1] = b[(size_t)y * w * 4 + 2] = 1;
        th_check(detail_transfer(dev, b, (size_t)w * 4, gpu, w, h, 1.0f, 0.25f, &err) == LW_OK, "detail: %s", err.message);
        double sigma = sqrt(log(2.0) / 2) / (M_PI * 0.125);
        detail_cpu_highpass_add(b, (size_t)w * 4, cpu, w, h, sigma, sigma, 1, 0, &err);
        double right = 0;
        for (int y = 0; y < h; y++) right = fmax(right, fabs(gpu[((size_t)y * w + w - 1) * 3]));
        printf("bright left column: largest detail on the right edge %.2e; device vs CPU everywhere: rel L2 %.2e\n",
               right, th_rel_l2(gpu, cpu, (size_t)w * h * 3));
        th_check(right < 1e-4, "no wrap-around: right edge %.2e", right);
        th_check(th_rel_l2(gpu, cpu, (size_t)w * h * 3) < 0.1, "device and CPU agree at the borders too: %.2e",
                 th_rel_l2(gpu, cpu, (size_t)w * h * 3));
        free(b), free(gpu), free(cpu);
    }
    /* the contract */
    int    w = 40, h = 30;
    float *b = malloc((size_t)w * h * 4 * 4), *rgb = malloc((size_t)w * h * 3 * 4), *copy = malloc((size_t)w * h * 3 * 4);
    th_fill_uniform(&rng, b, (size_t)w * h * 4, 0, 1);
    th_fill_uniform(&rng, rgb, (size_t)w * h * 3, 0, 1);
    memcpy(copy, rgb, (size_t)w * h * 3 * 4);
    detail_transfer(dev, b, (size_t)w * 4, rgb, w, h, 0.0f, 0.25f, &err);
    th_check(!memcmp(rgb, copy, (size_t)w * h * 12), "keep 0 changes nothing");
    detail_transfer(dev, b, (size_t)w * 4, rgb, w, h, 1.0f, 1.0f, &err);
    th_check(!memcmp(rgb, copy, (size_t)w * h * 12), "no upscaling changes nothing");
    th_check(detail_transfer(dev, b, (size_t)w * 4, rgb, w, h, 1.0f, 0.25f, &err) == LW_OK &&
             th_max_abs_diff(rgb, copy, (size_t)w * h * 3) > 0.01, "detail is added");
    for (size_t i = 0; i < (size_t)w * h * 4; i++) b[i] = 0.5f;
    memcpy(rgb, copy, (size_t)w * h * 12);
    detail_transfer(dev, b, (size_t)w * 4, rgb, w, h, 1.0f, 0.25f, &err);
    th_check(th_max_abs_diff(rgb, copy, (size_t)w * h * 3) < 1e-4, "a flat b has no detail (%g)",
             th_max_abs_diff(rgb, copy, (size_t)w * h * 3));
    cmp_device_destroy(dev);
    struct cmp_device_options small_opt = {.storage_range_limit = 1024, .cache_dir = ""};
    struct cmp_device        *small = NULL;
    if (cmp_device_create(&small_opt, &small, &err) == LW_OK) {
        th_fill_uniform(&rng, b, (size_t)w * h * 4, 0, 1);
        memcpy(rgb, copy, (size_t)w * h * 12);
        th_check(detail_transfer(small, b, (size_t)w * 4, rgb, w, h, 1.0f, 0.25f, &err) == LW_OK &&
                     th_max_abs_diff(rgb, copy, (size_t)w * h * 3) > 0.01,
                 "too large for the device: the CPU fallback runs (%s)", err.message);
        cmp_device_destroy(small);
    }
    free(b), free(rgb), free(copy);
    return th_finish();
}
