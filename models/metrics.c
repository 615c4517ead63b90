/* PSNR, SSIM and embedding similarities (see metrics.h). SSIM follows Wang et al., "Image quality
 * assessment: from error visibility to structural similarity" (2004), with scikit-image's defaults
 * for the Gaussian variant: population statistics, valid-region mean. */
#include "metrics.h"

#include <math.h>
#include <stdlib.h>

static float pixel(const struct metric_image *im, int x, int y, int c) {
    return im->data[(size_t)y * im->stride + (size_t)x * (size_t)im->channels + (size_t)c];
}

double metric_psnr(const struct metric_image *a, const struct metric_image *b) {
    double sum = 0;
    size_t n = 0;
    for (int y = 0; y < a->height; y++)
        for (int x = 0; x < a->width; x++)
            for (int c = 0; c < 3; c++) {
                double d = (double)pixel(a, x, y, c) - (double)pixel(b, x, y, c);
                sum += d * d;
                n++;
            }
    double mse = n ? sum / (double)n : 0;
    if (mse <= 1e-10) return 100.0;
    return 10.0 * log10(1.0 / mse);
}

/* Separable Gaussian filtering of one plane over the valid region: out is (h − r·2) × (w − r·2). */
static void blur_valid(const double *in, int w, int h, const double *g, int r, double *tmp,
                       double *out) {
    int ow = w - 2 * r, oh = h - 2 * r;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < ow; x++) {
            double s = 0;
            for (int k = -r; k <= r; k++) s += g[k + r] * in[(size_t)y * w + x + r + k];
            tmp[(size_t)y * ow + x] = s;
        }
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            double s = 0;
            for (int k = -r; k <= r; k++) s += g[k + r] * tmp[(size_t)(y + r + k) * ow + x];
            out[(size_t)y * ow + x] = s;
        }
}

static double ssim_plane(const double *p, const double *q, int w, int h) {
    int r = 5;
    while (r > 0 && (2 * r + 1 > w || 2 * r + 1 > h)) r--;
    double g[11], sum = 0;
    for (int k = -r; k <= r; k++) sum += g[k + r] = exp(-(double)(k * k) / (2 * 1.5 * 1.5));
    for (int k = 0; k < 2 * r + 1; k++) g[k] /= sum;
    int     ow = w - 2 * r, oh = h - 2 * r;
    size_t  n = (size_t)w * h, o = (size_t)ow * oh;
    double *buf = malloc((5 * n + 6 * o) * sizeof *buf);
    if (!buf) return NAN;
    double *pp = buf, *qq = pp + n, *pq = qq + n, *tmp = pq + n;
    double *mp = tmp + 2 * n, *mq = mp + o, *mpp = mq + o, *mqq = mpp + o, *mpq = mqq + o;
    for (size_t i = 0; i < n; i++) pp[i] = p[i] * p[i], qq[i] = q[i] * q[i], pq[i] = p[i] * q[i];
    blur_valid(p, w, h, g, r, tmp, mp);
    blur_valid(q, w, h, g, r, tmp, mq);
    blur_valid(pp, w, h, g, r, tmp, mpp);
    blur_valid(qq, w, h, g, r, tmp, mqq);
    blur_valid(pq, w, h, g, r, tmp, mpq);
    const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
    double       total = 0;
    for (size_t i = 0; i < o; i++) {
        double vp = mpp[i] - mp[i] * mp[i], vq = mqq[i] - mq[i] * mq[i], cov = mpq[i] - mp[i] * mq[i];
        total += ((2 * mp[i] * mq[i] + c1) * (2 * cov + c2)) /
                 ((mp[i] * mp[i] + mq[i] * mq[i] + c1) * (vp + vq + c2));
    }
    free(buf);
    return total / (double)o;
}

double metric_ssim(const struct metric_image *a, const struct metric_image *b) {
    int     w = a->width, h = a->height;
    size_t  n = (size_t)w * h;
    double *p = malloc(2 * n * sizeof *p), *q = p ? p + n : NULL, total = 0;
    if (!p) return NAN;
    for (int c = 0; c < 3; c++) {
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                p[(size_t)y * w + x] = pixel(a, x, y, c);
                q[(size_t)y * w + x] = pixel(b, x, y, c);
            }
        total += ssim_plane(p, q, w, h);
    }
    free(p);
    return total / 3.0;
}

double metric_cosine(const float *x, const float *y, size_t n) {
    double xy = 0, xx = 0, yy = 0;
    for (size_t i = 0; i < n; i++) xy += (double)x[i] * y[i], xx += (double)x[i] * x[i], yy += (double)y[i] * y[i];
    if (xx == 0 || yy == 0) return 0;
    return xy / sqrt(xx * yy);
}

double metric_clip_direction(const float *e_a, const float *e_a_prime, const float *e_b,
                             const float *e_b_prime, size_t n) {
    double xy = 0, xx = 0, yy = 0;
    for (size_t i = 0; i < n; i++) {
        double u = (double)e_b_prime[i] - e_b[i], v = (double)e_a_prime[i] - e_a[i];
        xy += u * v, xx += u * u, yy += v * v;
    }
    if (xx == 0 || yy == 0) return 0;
    return xy / sqrt(xx * yy);
}
