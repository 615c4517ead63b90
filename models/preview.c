/* Latent → RGB progress previews (preview.h). */
#include "preview.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Solves the symmetric positive definite system a·x = b (n×n, 3 right-hand sides) by Gaussian
 * elimination with partial pivoting, in place. */
static void solve(double *a, double *b, int n) {
    for (int k = 0; k < n; k++) {
        int p = k;
        for (int i = k + 1; i < n; i++)
            if (fabs(a[i * n + k]) > fabs(a[p * n + k])) p = i;
        for (int j = 0; j < n && p != k; j++) {
            double t = a[k * n + j];
            a[k * n + j] = a[p * n + j], a[p * n + j] = t;
        }
        for (int c = 0; c < 3 && p != k; c++) {
            double t = b[k * 3 + c];
            b[k * 3 + c] = b[p * 3 + c], b[p * 3 + c] = t;
        }
        for (int i = k + 1; i < n; i++) {
            double r = a[i * n + k] / a[k * n + k];
            for (int j = k; j < n; j++) a[i * n + j] -= r * a[k * n + j];
            for (int c = 0; c < 3; c++) b[i * 3 + c] -= r * b[k * 3 + c];
        }
    }
    for (int i = n - 1; i >= 0; i--)
        for (int c = 0; c < 3; c++) {
            double s = b[i * 3 + c];
            for (int j = i + 1; j < n; j++) s -= a[i * n + j] * b[j * 3 + c];
            b[i * 3 + c] = s / a[i * n + i];
        }
}

enum lw_status preview_fit(const float *latent, int64_t z, int64_t lh, int64_t lw, const float *image, int64_t f,
                           struct preview_map *map, struct lw_error *err) {
    if (z <= 0 || z > PREVIEW_MAX_CHANNELS || lh <= 0 || lw <= 0 || f <= 0)
        return lw_error_set(err, LW_ERR_ARGUMENT, "preview: %lld latent channels (1 … %d), %lld×%lld, f %lld",
                            (long long)z, PREVIEW_MAX_CHANNELS, (long long)lh, (long long)lw, (long long)f);
    int     n = (int)z + 1;
    double *a = calloc((size_t)n * n, sizeof *a), *b = calloc((size_t)n * 3, sizeof *b), *x = malloc((size_t)n * sizeof *x);
    if (!a || !b || !x) {
        free(a), free(b), free(x);
        return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    }
    int64_t iw = lw * f, plane = lh * f * iw;
    for (int64_t y = 0; y < lh; y++)
        for (int64_t xx = 0; xx < lw; xx++) {
            for (int64_t c = 0; c < z; c++) x[c] = latent[(c * lh + y) * lw + xx];
            x[z] = 1;
            double rgb[3] = {0};
            for (int c = 0; c < 3; c++) {
                for (int64_t dy = 0; dy < f; dy++)
                    for (int64_t dx = 0; dx < f; dx++) rgb[c] += image[c * plane + (y * f + dy) * iw + xx * f + dx];
                rgb[c] /= (double)(f * f);
            }
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) a[i * n + j] += x[i] * x[j];
                for (int c = 0; c < 3; c++) b[i * 3 + c] += x[i] * rgb[c];
            }
        }
    double ridge = 1e-6 * (double)(lh * lw); /* keeps constant or missing channels solvable */
    for (int i = 0; i < n; i++) a[i * n + i] += ridge;
    solve(a, b, n);
    map->z = z;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < n; i++) map->weight[c][i] = (float)b[i * 3 + c];
    free(a), free(b), free(x);
    return LW_OK;
}

void preview_render(const struct preview_map *map, const float *tokens, int64_t lh, int64_t lw, int x0, int y0,
                    int w, int h, float *rgba) {
    int64_t z = map->z;
    (void)lh;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int64_t ly = y0 + y, lx = x0 + x;
            const float *t = tokens + ((ly / 2) * (lw / 2) + lx / 2) * 4 * z + (ly % 2) * 2 + lx % 2;
            for (int c = 0; c < 3; c++) {
                float v = map->weight[c][z];
                for (int64_t k = 0; k < z; k++) v += map->weight[c][k] * t[k * 4];
                v = (v + 1) / 2;
                rgba[((size_t)y * w + x) * 4 + c] = v < 0 ? 0 : v > 1 ? 1 : v;
            }
            rgba[((size_t)y * w + x) * 4 + 3] = 1;
        }
}
