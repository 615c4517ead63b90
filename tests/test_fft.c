/* VkFFT through cmp_fft: forward transforms against a naive double-precision DFT, and the
 * normalised inverse round trip, on awkward sizes, batches and a non-zero buffer offset. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute.h"
#include "harness.h"

static void dft2(const float *in, float *out, int nx, int ny) {
    for (int ky = 0; ky < ny; ky++)
        for (int kx = 0; kx < nx; kx++) {
            double re = 0, im = 0;
            for (int y = 0; y < ny; y++)
                for (int x = 0; x < nx; x++) {
                    double a = -2 * M_PI * ((double)kx * x / nx + (double)ky * y / ny);
                    double vr = in[2 * (y * nx + x)], vi = in[2 * (y * nx + x) + 1];
                    re += vr * cos(a) - vi * sin(a);
                    im += vr * sin(a) + vi * cos(a);
                }
            out[2 * (ky * nx + kx)] = (float)re;
            out[2 * (ky * nx + kx) + 1] = (float)im;
        }
}

int main(void) {
    struct th_rng rng;
    printf("seed 77\n");
    th_rng_seed(&rng, 77);
    struct cmp_device *dev = th_device_or_skip();
    const int shapes[][3] = {{8, 8, 1}, {16, 12, 2}, {64, 48, 3}, {7, 5, 1}, {14, 10, 1}, {96, 2, 2}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int    nx = shapes[s][0], ny = shapes[s][1], batch = shapes[s][2];
        size_t n = (size_t)2 * nx * ny * batch;
        float *x = malloc(n * 4), *want = malloc(n * 4), *got = malloc(n * 4);
        th_fill_uniform(&rng, x, n, -1, 1);
        for (int b = 0; b < batch; b++)
            dft2(x + (size_t)b * 2 * nx * ny, want + (size_t)b * 2 * nx * ny, nx, ny);
        struct cmp_buffer *buf = NULL;
        struct cmp_fft    *plan = NULL;
        struct cmp_cmd    *cmd = NULL;
        struct lw_error    err = {0};
        uint64_t           offset = s % 2 ? 256 : 0; /* both bound at 0 and inside a buffer */
        cmp_buffer_create(dev, n * 4 + offset, CMP_MEMORY_DEVICE, &buf, &err);
        struct cmp_view data = cmp_view_slice(cmp_buffer_view(buf), offset, n * 4);
        enum lw_status  st = cmp_fft_plan_create(dev, nx, ny, batch, data, &plan, &err);
        if (!th_check(st == LW_OK, "plan %dx%dx%d: %s", nx, ny, batch, err.message)) goto next;
        cmp_view_upload(data, x, n * 4, &err);
        cmp_cmd_create(dev, &cmd, &err);
        cmp_fft_record(cmd, plan, false);
        th_check(cmp_cmd_submit(cmd, &err) == LW_OK, "forward: %s", err.message);
        th_poison(got, n);
        cmp_view_download(data, got, n * 4, &err);
        double e = th_rel_l2(got, want, n);
        th_check(e < 1e-5, "forward %dx%d batch %d: rel L2 %.2e", nx, ny, batch, e);
        cmp_cmd_reset(cmd);
        cmp_fft_record(cmd, plan, true);
        th_check(cmp_cmd_submit(cmd, &err) == LW_OK, "inverse: %s", err.message);
        cmp_view_download(data, got, n * 4, &err);
        e = th_rel_l2(got, x, n);
        th_check(e < 1e-5, "round trip %dx%d batch %d: rel L2 %.2e", nx, ny, batch, e);
        printf("fft %dx%d batch %d ok\n", nx, ny, batch);
    next:
        cmp_cmd_destroy(cmd);
        cmp_fft_plan_destroy(plan);
        cmp_buffer_destroy(buf);
        free(x);
        free(want);
        free(got);
    }
    struct cmp_fft *plan = NULL;
    struct lw_error err = {0};
    struct cmp_view none = {0};
    th_check(cmp_fft_plan_create(dev, 8, 8, 1, none, &plan, &err) == LW_ERR_ARGUMENT && !plan,
             "plan without a buffer refused");
    struct cmp_buffer *small = NULL;
    cmp_buffer_create(dev, 4096, CMP_MEMORY_DEVICE, &small, &err);
    th_check(cmp_fft_plan_create(dev, 1, 32, 1, cmp_buffer_view(small), &plan, &err) == LW_ERR_UNSUPPORTED,
             "a 1-wide FFT is refused clearly: %s", err.message);
    cmp_buffer_destroy(small);
    th_check(cmp_device_live_objects(dev) == 0, "no objects left");
    cmp_device_destroy(dev);
    return th_finish();
}
