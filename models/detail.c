/* Detail transfer (see detail.h): VkFFT forward, Gaussian high-pass in the spectrum, VkFFT inverse. */
#include "detail.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detail_cpu.h"

struct highpass_push {
    uint32_t nx, ny, count, offset;
    float    inv_two_sigma2;
};
_Static_assert(sizeof(struct highpass_push) == 20, "mirrors shaders/spectrum_highpass.comp");

/* σ such that exp(−f_c²/2σ²) = 1/2. */
static float inv_two_sigma2(float cutoff) {
    double sigma2 = cutoff * cutoff / (2.0 * log(2.0));
    return (float)(1.0 / (2.0 * sigma2));
}

enum lw_status detail_highpass_gpu(struct cmp_device *dev, float *plane, int w, int h, float cutoff,
                                   struct lw_error *err) {
    uint64_t           bytes = 8ull * (uint64_t)w * (uint64_t)h;
    struct cmp_buffer *buf = NULL;
    struct cmp_fft    *plan = NULL;
    struct cmp_cmd    *cmd = NULL;
    struct cmp_kernel *kernel = NULL;
    float             *complex_plane = malloc(bytes);
    uint32_t           spec[] = {64};
    enum lw_status     status = complex_plane ? LW_OK : lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    if (status == LW_OK && bytes > cmp_device_info(dev)->max_storage_buffer_range)
        status = lw_error_set(err, LW_ERR_TOO_LARGE, "detail transfer: %d×%d does not fit one window", w, h);
    if (status == LW_OK) status = cmp_buffer_create(dev, bytes, CMP_MEMORY_DEVICE, &buf, err);
    if (status == LW_OK) status = cmp_fft_plan_create(dev, (uint32_t)w, (uint32_t)h, 1, cmp_buffer_view(buf), &plan, err);
    if (status == LW_OK) status = cmp_kernel_get(dev, CMP_KERNEL_SPECTRUM_HIGHPASS, spec, 0, &kernel, err);
    if (status == LW_OK) status = cmp_cmd_create(dev, &cmd, err);
    if (status == LW_OK) {
        for (size_t i = 0; i < (size_t)w * h; i++) complex_plane[2 * i] = plane[i], complex_plane[2 * i + 1] = 0;
        status = cmp_view_upload(cmp_buffer_view(buf), complex_plane, bytes, err);
    }
    if (status == LW_OK) {
        struct highpass_push p = {(uint32_t)w, (uint32_t)h, (uint32_t)(w * h), 0, inv_two_sigma2(cutoff)};
        struct cmp_view      v = cmp_buffer_view(buf);
        uint64_t             groups = ((uint64_t)w * h + 63) / 64;
        uint32_t             gx = groups > 65535 ? 65535 : (uint32_t)groups;
        cmp_fft_record(cmd, plan, false);
        cmp_cmd_dispatch(cmd, kernel, &v, 1, &p, sizeof p, gx, (uint32_t)((groups + gx - 1) / gx), 1);
        cmp_fft_record(cmd, plan, true);
        status = cmp_cmd_submit(cmd, err);
    }
    if (status == LW_OK) status = cmp_view_download(cmp_buffer_view(buf), complex_plane, bytes, err);
    if (status == LW_OK)
        for (size_t i = 0; i < (size_t)w * h; i++) plane[i] = complex_plane[2 * i];
    cmp_cmd_destroy(cmd);
    cmp_fft_plan_destroy(plan);
    cmp_buffer_destroy(buf);
    free(complex_plane);
    return status;
}

enum lw_status detail_transfer(struct cmp_device *dev, const float *b, size_t b_stride, float *rgb, int w, int h,
                               float keep, float scale, struct lw_error *err) {
    if (keep <= 0 || scale >= 1) return LW_OK;
    /* The FFT sees the image mirrored into a 2w × 2h plane, whose periodic extension has no seams:
     * a bright left edge does not leak into the right one as a plain w × h FFT's wrap-around would. */
    int64_t pw = 2 * (int64_t)w, ph = 2 * (int64_t)h;
    float  *plane = malloc((size_t)(pw * ph) * sizeof *plane);
    if (!plane) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    bool           gpu = 8ull * (uint64_t)(pw * ph) <= cmp_device_info(dev)->max_storage_buffer_range;
    float          cutoff = 0.5f * scale;
    enum lw_status status = LW_OK;
    if (!gpu) { /* the same Gaussian in space (detail_cpu.h), banded: σ = √(ln 2 / 2) / (π·cutoff) */
        double sigma = sqrt(log(2.0) / 2) / (M_PI * cutoff);
        free(plane);
        return detail_cpu_highpass_add(b, b_stride, rgb, w, h, sigma, sigma, keep, 0, err);
    }
    for (int c = 0; c < 3 && status == LW_OK; c++) {
        for (int64_t y = 0; y < ph; y++)
            for (int64_t x = 0; x < pw; x++) {
                int64_t sx = x < w ? x : pw - 1 - x, sy = y < h ? y : ph - 1 - y;
                plane[y * pw + x] = b[(size_t)sy * b_stride + (size_t)sx * 4 + c];
            }
        status = detail_highpass_gpu(dev, plane, (int)pw, (int)ph, cutoff, err);
        for (int y = 0; status == LW_OK && y < h; y++)
            for (int x = 0; x < w; x++) rgb[((size_t)y * w + x) * 3 + c] += keep * plane[(size_t)y * pw + x];
    }
    free(plane);
    return status;
}
