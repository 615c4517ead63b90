/* Separable antialiased resampling (see resize.h), following the filter construction described in
 * spec-lorweb.md §3.1.2: scale = in/out, support = R·max(scale, 1), taps over [centre − support,
 * centre + support), kernel evaluated at (j − centre + 0.5)/max(scale, 1), weights normalised. */
#include "resize.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static double bicubic(double x) {
    const double a = -0.5;
    x = fabs(x);
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
    return fabs(x) < 3 ? sinc(x) * sinc(x / 3) : 0;
}

/* Taps of every output index along one axis: bounds and normalised weights. */
struct taps {
    int    *lo, *count;
    double *w;
    int     max;
};

static bool taps_make(int n_in, int n_out, enum img_filter f, struct taps *t) {
    double scale = (double)n_in / n_out, fs = scale > 1 ? scale : 1;
    double support = (f == IMG_LANCZOS ? 3 : 2) * fs;
    t->max = (int)ceil(support) * 2 + 1;
    t->lo = malloc((size_t)n_out * sizeof *t->lo);
    t->count = malloc((size_t)n_out * sizeof *t->count);
    t->w = malloc((size_t)n_out * t->max * sizeof *t->w);
    if (!t->lo || !t->count || !t->w) return false;
    for (int i = 0; i < n_out; i++) {
        double center = (i + 0.5) * scale;
        int    lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > n_in) hi = n_in;
        if (hi - lo > t->max) hi = lo + t->max;
        double sum = 0, *w = t->w + (size_t)i * t->max;
        for (int j = lo; j < hi; j++) {
            double x = (j - center + 0.5) / fs;
            sum += w[j - lo] = f == IMG_LANCZOS ? lanczos(x) : bicubic(x);
        }
        if (sum != 0)
            for (int j = 0; j < hi - lo; j++) w[j] /= sum;
        t->lo[i] = lo;
        t->count[i] = hi - lo;
    }
    return true;
}

static void taps_free(struct taps *t) {
    free(t->lo), free(t->count), free(t->w);
}

enum lw_status img_resize(const float *src, int sw, int sh, size_t src_stride, int channels,
                          float *dst, int dw, int dh, enum img_filter filter, struct lw_error *err) {
    if (sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0 || channels <= 0)
        return lw_error_set(err, LW_ERR_ARGUMENT, "resize %d×%d → %d×%d: sizes must be positive", sw, sh, dw, dh);
    struct taps tx = {0}, ty = {0};
    float      *mid = malloc((size_t)dw * sh * channels * sizeof *mid);
    enum lw_status status = LW_OK;
    if (!mid || !taps_make(sw, dw, filter, &tx) || !taps_make(sh, dh, filter, &ty)) {
        status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory resizing %d×%d", sw, sh);
        goto done;
    }
    for (int y = 0; y < sh; y++) /* horizontal pass */
        for (int x = 0; x < dw; x++) {
            const double *w = tx.w + (size_t)x * tx.max;
            for (int c = 0; c < channels; c++) {
                double s = 0;
                for (int k = 0; k < tx.count[x]; k++) s += w[k] * src[(size_t)y * src_stride + (size_t)(tx.lo[x] + k) * channels + c];
                mid[((size_t)y * dw + x) * channels + c] = (float)s;
            }
        }
    for (int y = 0; y < dh; y++) { /* vertical pass */
        const double *w = ty.w + (size_t)y * ty.max;
        for (int x = 0; x < dw; x++)
            for (int c = 0; c < channels; c++) {
                double s = 0;
                for (int k = 0; k < ty.count[y]; k++) s += w[k] * mid[((size_t)(ty.lo[y] + k) * dw + x) * channels + c];
                dst[((size_t)y * dw + x) * channels + c] = (float)s;
            }
    }
done:
    taps_free(&tx), taps_free(&ty);
    free(mid);
    return status;
}
