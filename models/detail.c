/* Full-resolution detail transfer (detail.h): out = b − G_σ ∗ (b − up(b′)), band by band. */
#include "detail.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "resize.h"

#define BAND_ROWS   64 /* output rows per band; each band also reads ⌈3σy⌉ halo rows on both sides */
#define MAX_THREADS 8

/* What every band reads. */
struct detail_job {
    const float           *wide;   /* (bph, bw, 4) b′ resized along x only */
    const struct img_taps *ty;     /* bph → bh, NULL when the heights match */
    const float           *b;
    float                 *out;
    size_t                 b_stride, out_stride;
    int                    bw, bh;
    const double          *gx, *gy; /* (2·rx + 1), (2·ry + 1) normalised Gaussians; NULL: no blur */
    int                    rx, ry;
};

struct band {
    const struct detail_job *job;
    int                      y0, y1;
    bool                     ok;
};

double detail_sigma(int small, int large, float keep) {
    const double c = sqrt(log(2.0) / 2) * 2 / M_PI; /* half amplitude at b′'s Nyquist when k = 1 */
    return keep * c * ((double)large / small);
}

/* Normalised Gaussian of radius ⌈3σ⌉ (at least 1). */
static double *gaussian(double sigma, int *radius) {
    int     r = (int)ceil(3 * sigma);
    if (r < 1) r = 1;
    double *g = malloc((size_t)(2 * r + 1) * sizeof *g), sum = 0;
    for (int j = -r; g && j <= r; j++) sum += g[j + r] = exp(-(double)j * j / (2 * sigma * sigma));
    for (int j = 0; g && j <= 2 * r; j++) g[j] /= sum;
    *radius = r;
    return g;
}

static int clampi(int v, int lo, int hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* Row y of u = up(b′), RGB (bw, 3); `acc` is (bw, 3) scratch. Each element is the same sum, in the
 * same order, as img_resize's vertical pass, so k = 0 reproduces img_resize exactly. */
static void u_row(const struct detail_job *j, int y, double *acc, float *u) {
    int n = j->bw * 3;
    if (!j->ty) {
        for (int x = 0; x < j->bw; x++) memcpy(u + 3 * x, j->wide + ((size_t)y * j->bw + x) * 4, 3 * sizeof *u);
        return;
    }
    const double *w;
    int           first, taps = img_taps_get(j->ty, y, &first, &w);
    for (int i = 0; i < n; i++) acc[i] = 0;
    for (int k = 0; k < taps; k++) {
        const float *row = j->wide + (size_t)(first + k) * j->bw * 4;
        for (int x = 0; x < j->bw; x++)
            for (int c = 0; c < 3; c++) acc[3 * x + c] += row[4 * x + c] * w[k];
    }
    for (int i = 0; i < n; i++) u[i] = (float)acc[i];
}

static float clamp01(float v) {
    return v > 0 ? (v < 1 ? v : 1) : 0; /* NaN → 0 */
}

/* One band of output rows [y0, y1). Rows are accumulated whole (tap outer, pixel inner) so the
 * inner loops run over contiguous memory. */
static void *band_run(void *arg) {
    struct band             *band = arg;
    const struct detail_job *j = band->job;
    int                      w = j->bw, n = 3 * w, rx = j->rx, ry = j->ry;
    int                      lo = j->gy ? clampi(band->y0 - ry, 0, j->bh) : band->y0;
    int                      hi = j->gy ? clampi(band->y1 + ry, 0, j->bh) : band->y1;
    double *acc = malloc((size_t)n * sizeof *acc);
    float  *u = malloc((size_t)n * sizeof *u);
    float  *d = malloc((size_t)(w + 2 * rx) * 3 * sizeof *d); /* b − u with rx replicated pixels each side */
    float  *hd = j->gy ? malloc((size_t)(hi - lo) * n * sizeof *hd) : NULL; /* (hi − lo, w, 3) G_x ∗ d */
    band->ok = acc && u && d && (hd || !j->gy);
    if (!band->ok) goto done;
    if (!j->gy) { /* k = 0: out = u exactly */
        for (int y = band->y0; y < band->y1; y++) {
            u_row(j, y, acc, u);
            for (int x = 0; x < w; x++) {
                float *o = j->out + (size_t)y * j->out_stride + (size_t)x * 4;
                for (int c = 0; c < 3; c++) o[c] = clamp01(u[3 * x + c]);
                o[3] = j->b[(size_t)y * j->b_stride + (size_t)x * 4 + 3];
            }
        }
        goto done;
    }
    for (int y = lo; y < hi; y++) {
        u_row(j, y, acc, u);
        const float *brow = j->b + (size_t)y * j->b_stride;
        for (int x = -rx; x < w + rx; x++) {
            int xx = clampi(x, 0, w - 1);
            for (int c = 0; c < 3; c++) d[3 * (x + rx) + c] = brow[(size_t)xx * 4 + c] - u[3 * xx + c];
        }
        for (int i = 0; i < n; i++) acc[i] = 0;
        for (int k = 0; k <= 2 * rx; k++) {
            double       g = j->gx[k];
            const float *dk = d + 3 * k;
            for (int i = 0; i < n; i++) acc[i] += g * dk[i];
        }
        float *h = hd + (size_t)(y - lo) * n;
        for (int i = 0; i < n; i++) h[i] = (float)acc[i];
    }
    for (int y = band->y0; y < band->y1; y++) {
        for (int i = 0; i < n; i++) acc[i] = 0;
        for (int k = -ry; k <= ry; k++) {
            double       g = j->gy[k + ry];
            const float *h = hd + (size_t)(clampi(y + k, 0, j->bh - 1) - lo) * n;
            for (int i = 0; i < n; i++) acc[i] += g * h[i];
        }
        const float *brow = j->b + (size_t)y * j->b_stride;
        float       *o = j->out + (size_t)y * j->out_stride;
        for (int x = 0; x < w; x++) {
            for (int c = 0; c < 3; c++) o[(size_t)x * 4 + c] = clamp01((float)(brow[(size_t)x * 4 + c] - acc[3 * x + c]));
            o[(size_t)x * 4 + 3] = brow[(size_t)x * 4 + 3]; /* out = b − G ∗ d; alpha is b's */
        }
    }
done:
    free(acc), free(u), free(d), free(hd);
    return NULL;
}

enum lw_status detail_transfer(const float *bp, int bpw, int bph, size_t bp_stride, const float *b,
                               int bw, int bh, size_t b_stride, float *out, size_t out_stride,
                               const struct detail_params *p, struct lw_error *err) {
    if (bpw < 1 || bph < 1 || bw < 1 || bh < 1 || bp_stride < (size_t)bpw * 4 || b_stride < (size_t)bw * 4 ||
        out_stride < (size_t)bw * 4 || !(p->keep >= 0 && p->keep <= 1))
        return lw_error_set(err, LW_ERR_ARGUMENT, "detail transfer of a %d×%d b′ to a %d×%d b, keep-detail %g "
                            "(sizes ≥ 1, strides ≥ 4·width, keep in [0, 1])", bpw, bph, bw, bh, p->keep);
    struct detail_job job = {.b = b, .out = out, .b_stride = b_stride, .out_stride = out_stride, .bw = bw, .bh = bh};
    struct img_taps  *ty = NULL;
    float            *wide = malloc((size_t)bw * bph * 4 * sizeof *wide);
    double           *gx = NULL, *gy = NULL;
    enum lw_status    status = wide ? LW_OK : lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    if (status == LW_OK) status = img_resize(bp, bpw, bph, bp_stride, 4, wide, bw, bph, IMG_BICUBIC, err);
    if (status == LW_OK && bph != bh) status = img_taps_create(bph, bh, IMG_BICUBIC, &ty, err);
    if (status == LW_OK && p->keep > 0) {
        gx = gaussian(detail_sigma(bpw, bw, p->keep), &job.rx);
        gy = gaussian(detail_sigma(bph, bh, p->keep), &job.ry);
        if (!gx || !gy) status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    }
    if (status != LW_OK) goto done;
    job.wide = wide, job.ty = ty, job.gx = gx, job.gy = gy;
    int threads = p->threads > 0 ? p->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    threads = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
    int bands = (bh + BAND_ROWS - 1) / BAND_ROWS;
    for (int first = 0; first < bands && status == LW_OK; first += threads) {
        struct band round[MAX_THREADS];
        pthread_t   tid[MAX_THREADS];
        bool        started[MAX_THREADS] = {false};
        int         n = bands - first < threads ? bands - first : threads;
        for (int i = 0; i < n; i++) {
            int y0 = (first + i) * BAND_ROWS;
            round[i] = (struct band){&job, y0, y0 + BAND_ROWS < bh ? y0 + BAND_ROWS : bh, false};
            /* the calling thread takes the first band; a failed thread start runs inline */
            if (i > 0) started[i] = pthread_create(&tid[i], NULL, band_run, &round[i]) == 0;
        }
        band_run(&round[0]);
        for (int i = 1; i < n; i++) {
            if (started[i]) pthread_join(tid[i], NULL);
            else band_run(&round[i]);
        }
        for (int i = 0; i < n; i++)
            if (!round[i].ok) status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory (detail band)");
        if (status == LW_OK && p->progress && !p->progress(p->user, (double)(first + n) / bands))
            status = lw_error_set(err, LW_ERR_CANCELLED, "detail transfer cancelled");
    }
done:
    img_taps_destroy(ty);
    free(wide), free(gx), free(gy);
    return status;
}
