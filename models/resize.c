/* Pillow-exact resampling (resize.h): the coefficient construction of Pillow 9.4's
 * precompute_coeffs, its 8-bit fixed-point passes (ImagingResampleHorizontal_8bpc / Vertical_8bpc)
 * and its float passes (…_32bpc), plus CLIPImageProcessor's preprocessing on top. */
#include "resize.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define PRECISION_BITS 22 /* Pillow: 32 − 8 − 2 */

struct img_taps {
    int    *first, *count; /* (n_out) */
    double *w;             /* (n_out, max) normalised weights */
    int     max, n_out;
};

static double bicubic(double x) {
    const double a = -0.5;
    if (x < 0) x = -x;
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
    return 0;
}

static double sinc(double x) {
    if (x == 0) return 1;
    x *= M_PI;
    return sin(x) / x;
}

static double lanczos(double x) {
    return -3 <= x && x < 3 ? sinc(x) * sinc(x / 3) : 0;
}

enum lw_status img_taps_create(int n_in, int n_out, enum img_filter filter, struct img_taps **out,
                               struct lw_error *err) {
    *out = NULL;
    if (n_in < 1 || n_out < 1 || (filter != IMG_BICUBIC && filter != IMG_LANCZOS))
        return lw_error_set(err, LW_ERR_ARGUMENT, "resample %d → %d pixels (filter %d)", n_in,
                            n_out, (int)filter);
    double           scale = (double)n_in / n_out, fs = scale < 1 ? 1 : scale;
    double           support = (filter == IMG_LANCZOS ? 3.0 : 2.0) * fs, ss = 1.0 / fs;
    struct img_taps *t = calloc(1, sizeof *t);
    if (t) {
        t->max = (int)ceil(support) * 2 + 1;
        t->n_out = n_out;
        t->first = malloc((size_t)n_out * sizeof *t->first);
        t->count = malloc((size_t)n_out * sizeof *t->count);
        t->w = malloc((size_t)n_out * t->max * sizeof *t->w);
    }
    if (!t || !t->first || !t->count || !t->w) {
        img_taps_destroy(t);
        return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory resampling %d → %d", n_in,
                            n_out);
    }
    for (int i = 0; i < n_out; i++) {
        double center = (i + 0.5) * scale, sum = 0, *w = t->w + (size_t)i * t->max;
        int    lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > n_in) hi = n_in;
        for (int j = lo; j < hi;
             j++) { /* Pillow multiplies by 1/fs; dividing can differ by an ulp */
            double x = (j - center + 0.5) * ss;
            sum += w[j - lo] = filter == IMG_LANCZOS ? lanczos(x) : bicubic(x);
        }
        if (sum != 0)
            for (int j = 0; j < hi - lo; j++)
                w[j] /= sum;
        t->first[i] = lo;
        t->count[i] = hi - lo;
    }
    *out = t;
    return LW_OK;
}

void img_taps_destroy(struct img_taps *t) {
    if (!t) return;
    free(t->first), free(t->count), free(t->w);
    free(t);
}

int img_taps_get(const struct img_taps *t, int i, int *first, const double **weights) {
    *first = t->first[i];
    *weights = t->w + (size_t)i * t->max;
    return t->count[i];
}

static enum lw_status check_sizes(int sw, int sh, int dw, int dh, int channels,
                                  struct lw_error *err) {
    if (sw < 1 || sh < 1 || dw < 1 || dh < 1 || channels < 1 || channels > 4)
        return lw_error_set(err, LW_ERR_ARGUMENT,
                            "resize %d×%d → %d×%d with %d channels: sizes must be ≥ 1, "
                            "channels 1 … 4",
                            sw, sh, dw, dh, channels);
    return LW_OK;
}

enum lw_status img_resize(const float *src, int sw, int sh, size_t src_stride, int channels,
                          float *dst, int dw, int dh, enum img_filter filter,
                          struct lw_error *err) {
    enum lw_status status = check_sizes(sw, sh, dw, dh, channels, err);
    if (status) return status;
    struct img_taps *tx = NULL, *ty = NULL;
    float           *mid = NULL; /* (sh, dw, channels) after the horizontal pass */
    if ((status = img_taps_create(sw, dw, filter, &tx, err)) ||
        (status = img_taps_create(sh, dh, filter, &ty, err)))
        goto done;
    const float *rows = src;
    size_t       stride = src_stride;
    if (dw != sw) {
        mid = malloc((size_t)dw * sh * channels * sizeof *mid);
        if (!mid) {
            status =
                lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory resizing %d×%d", sw, sh);
            goto done;
        }
        for (int y = 0; y < sh; y++)
            for (int x = 0; x < dw; x++) {
                const double *w;
                int           lo, n = img_taps_get(tx, x, &lo, &w);
                const float  *s = src + (size_t)y * src_stride + (size_t)lo * channels;
                for (int c = 0; c < channels; c++) {
                    double acc = 0;
                    for (int k = 0; k < n; k++)
                        acc += s[(size_t)k * channels + c] * w[k];
                    mid[((size_t)y * dw + x) * channels + c] = (float)acc;
                }
            }
        rows = mid, stride = (size_t)dw * channels;
    }
    for (int y = 0; y < dh; y++) {
        int           lo = y, n = 1;
        const double *w = &(const double){1.0};
        if (dh != sh) n = img_taps_get(ty, y, &lo, &w);
        for (int x = 0; x < dw; x++)
            for (int c = 0; c < channels; c++) {
                double acc = 0;
                for (int k = 0; k < n; k++)
                    acc += rows[(size_t)(lo + k) * stride + (size_t)x * channels + c] * w[k];
                dst[((size_t)y * dw + x) * channels + c] = (float)acc;
            }
    }
done:
    img_taps_destroy(tx), img_taps_destroy(ty);
    free(mid);
    return status;
}

/* Pillow's normalize_coeffs_8bpc: 22-bit fixed point, rounded half away from zero. */
static int32_t *fixed_weights(const struct img_taps *t) {
    int32_t *k = malloc((size_t)t->n_out * t->max * sizeof *k);
    for (size_t i = 0; k && i < (size_t)t->n_out * t->max; i++) {
        double w = t->w[i] * (1 << PRECISION_BITS);
        k[i] = (int32_t)(w < 0 ? w - 0.5 : w + 0.5);
    }
    return k;
}

static uint8_t clip8(int32_t acc) {
    int32_t v = acc >> PRECISION_BITS; /* arithmetic shift: floor, as Pillow's lookup index */
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

enum lw_status img_resize_u8(const uint8_t *src, int sw, int sh, size_t src_stride, int channels,
                             uint8_t *dst, int dw, int dh, enum img_filter filter,
                             struct lw_error *err) {
    enum lw_status status = check_sizes(sw, sh, dw, dh, channels, err);
    if (status) return status;
    struct img_taps *tx = NULL, *ty = NULL;
    int32_t         *kx = NULL, *ky = NULL;
    uint8_t         *mid = NULL; /* (sh, dw, channels): Pillow's 8-bit intermediate image */
    if ((status = img_taps_create(sw, dw, filter, &tx, err)) ||
        (status = img_taps_create(sh, dh, filter, &ty, err)))
        goto done;
    kx = fixed_weights(tx), ky = fixed_weights(ty);
    if (dw != sw) mid = malloc((size_t)dw * sh * channels);
    if (!kx || !ky || (dw != sw && !mid)) {
        status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory resizing %d×%d", sw, sh);
        goto done;
    }
    const uint8_t *rows = src;
    size_t         stride = src_stride;
    if (dw != sw) {
        for (int y = 0; y < sh; y++)
            for (int x = 0; x < dw; x++) {
                int            lo = tx->first[x], n = tx->count[x];
                const int32_t *k = kx + (size_t)x * tx->max;
                const uint8_t *s = src + (size_t)y * src_stride + (size_t)lo * channels;
                for (int c = 0; c < channels; c++) {
                    int32_t acc = 1 << (PRECISION_BITS - 1);
                    for (int j = 0; j < n; j++)
                        acc += s[(size_t)j * channels + c] * k[j];
                    mid[((size_t)y * dw + x) * channels + c] = clip8(acc);
                }
            }
        rows = mid, stride = (size_t)dw * channels;
    }
    for (int y = 0; y < dh; y++) {
        if (dh == sh) { /* the vertical pass is skipped: a copy */
            memcpy(dst + (size_t)y * dw * channels, rows + (size_t)y * stride,
                   (size_t)dw * channels);
            continue;
        }
        int            lo = ty->first[y], n = ty->count[y];
        const int32_t *k = ky + (size_t)y * ty->max;
        for (int x = 0; x < dw; x++)
            for (int c = 0; c < channels; c++) {
                int32_t acc = 1 << (PRECISION_BITS - 1);
                for (int j = 0; j < n; j++)
                    acc += rows[(size_t)(lo + j) * stride + (size_t)x * channels + c] * k[j];
                dst[((size_t)y * dw + x) * channels + c] = clip8(acc);
            }
    }
done:
    img_taps_destroy(tx), img_taps_destroy(ty);
    free(kx), free(ky), free(mid);
    return status;
}

void img_to_rgb8(const float *src, int w, int h, size_t src_stride, int channels, uint8_t *dst) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                float v = src[(size_t)y * src_stride + (size_t)x * channels + c];
                v = v > 0 ? (v < 1 ? v : 1) : 0; /* also maps NaN to 0 */
                dst[((size_t)y * w + x) * 3 + c] = (uint8_t)(v * 255.0f + 0.5f);
            }
}

enum lw_status img_clip_pixels(const uint8_t *rgb, int w, int h, size_t stride, int channels,
                               int size, float *pixel_values, struct lw_error *err) {
    static const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
    static const float std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
    if (w < 1 || h < 1 || size < 1 || (channels != 3 && channels != 4))
        return lw_error_set(err, LW_ERR_ARGUMENT,
                            "CLIP preprocessing of a %d×%d image (%d channels) to %d", w, h,
                            channels, size);
    /* get_resize_output_image_size(shortest_edge): int(S · long / short), a float division */
    int            short_side = w <= h ? w : h, long_side = w <= h ? h : w;
    int            new_long = (int)((double)size * long_side / short_side);
    int            nw = w <= h ? size : new_long, nh = w <= h ? new_long : size;
    uint8_t       *rgb3 = NULL, *resized = malloc((size_t)nw * nh * 3);
    enum lw_status status =
        resized ? LW_OK : lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    if (status == LW_OK && channels == 4) { /* convert("RGB"): drop alpha */
        rgb3 = malloc((size_t)w * h * 3);
        if (!rgb3) status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
        for (int y = 0; rgb3 && y < h; y++)
            for (int x = 0; x < w; x++)
                memcpy(rgb3 + ((size_t)y * w + x) * 3, rgb + (size_t)y * stride + (size_t)x * 4, 3);
    }
    if (status == LW_OK)
        status =
            rgb3 ? img_resize_u8(rgb3, w, h, (size_t)w * 3, 3, resized, nw, nh, IMG_BICUBIC, err)
                 : img_resize_u8(rgb, w, h, stride, 3, resized, nw, nh, IMG_BICUBIC, err);
    if (status == LW_OK) {
        int top = (nh - size) / 2, left = (nw - size) / 2;
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++) {
                    float v = (float)(resized[((size_t)(y + top) * nw + x + left) * 3 + c] *
                                      (1.0 / 255.0));
                    pixel_values[((size_t)c * size + y) * size + x] = (v - mean[c]) / std[c];
                }
    }
    free(rgb3), free(resized);
    return status;
}
