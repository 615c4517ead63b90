/* CPU detail transfer (detail_cpu.h): out = u + e − G_σ ∗ e, e = k·b or b − u, band by band. */
#include "detail_cpu.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "resize.h"

#define BAND_ROWS 64 /* output rows per band; each band also reads ⌈4σy⌉ halo rows on both sides \
                      */
#define MAX_THREADS 8

/* What every band reads and writes. u comes from b′ widened to b's width plus vertical taps, or
 * from an (h, w, 3) buffer that is also the output (highpass_add). */
struct job {
    const float           *wide; /* (bph, w, 4) b′ resized along x only, or NULL */
    const struct img_taps *ty;   /* bph → h, NULL when the heights match */
    float                 *rgb;  /* (h, w, 3) u in, out out (highpass_add), or NULL */
    const float           *b;
    float                 *out; /* RGBA output when rgb is NULL */
    size_t                 b_stride, out_stride;
    int                    w, h;
    float                  ea, em;  /* e = ea·b − em·u */
    const double          *gx, *gy; /* (2·rx + 1), (2·ry + 1); NULL: no blur (k = 0, out = u) */
    int                    rx, ry;
};

struct band {
    const struct job *job;
    int               y0, y1;
    bool              ok;
};

double detail_cpu_sigma(int small, int large, float keep) {
    const double c = sqrt(log(2.0) / 2) * 2 / M_PI; /* half amplitude at b′'s Nyquist when k = 1 */
    return keep * c * ((double)large / small);
}

static double *gaussian(double sigma, int *radius) {
    int r = (int)ceil(4 * sigma);
    if (r < 1) r = 1;
    double *g = malloc((size_t)(2 * r + 1) * sizeof *g), sum = 0;
    for (int j = -r; g && j <= r; j++)
        sum += g[j + r] = exp(-(double)j * j / (2 * sigma * sigma));
    for (int j = 0; g && j <= 2 * r; j++)
        g[j] /= sum;
    *radius = r;
    return g;
}

/* Index i of a row of n reflected at the edges (… 1 0 | 0 1 … n−1 | n−1 n−2 …), as the device path's
 * mirrored FFT plane: both paths filter the same extended image. */
static int mirror(int i, int n) {
    int period = 2 * n;
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - 1 - i;
}

static int clampi(int v, int lo, int hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

static float clamp01(float v) {
    return v > 0 ? (v < 1 ? v : 1) : 0; /* NaN → 0 */
}

/* Row y of u, (w, 3); `acc` is (w, 3) scratch. The vertical taps are summed per element in the
 * same order as img_resize's vertical pass, so k = 0 reproduces img_resize exactly. */
static void u_row(const struct job *j, int y, double *acc, float *u) {
    int n = 3 * j->w;
    if (j->rgb) {
        memcpy(u, j->rgb + (size_t)y * n, (size_t)n * sizeof *u);
    } else if (!j->ty) {
        for (int x = 0; x < j->w; x++)
            memcpy(u + 3 * x, j->wide + ((size_t)y * j->w + x) * 4, 3 * sizeof *u);
    } else {
        const double *w;
        int           first, taps = img_taps_get(j->ty, y, &first, &w);
        for (int i = 0; i < n; i++)
            acc[i] = 0;
        for (int k = 0; k < taps; k++) { /* whole rows: contiguous inner loop */
            const float *row = j->wide + (size_t)(first + k) * j->w * 4;
            for (int x = 0; x < j->w; x++)
                for (int c = 0; c < 3; c++)
                    acc[3 * x + c] += row[4 * x + c] * w[k];
        }
        for (int i = 0; i < n; i++)
            u[i] = (float)acc[i];
    }
}

static void write_row(const struct job *j, int y, const float *u, const double *g) {
    const float *brow = j->b + (size_t)y * j->b_stride;
    for (int x = 0; x < j->w; x++)
        for (int c = 0; c < 3; c++) {
            float  uv = u[3 * x + c], e = j->ea * brow[(size_t)x * 4 + c] - j->em * uv;
            double v = g ? uv + (double)e - g[3 * x + c] : uv;
            if (j->rgb)
                j->rgb[((size_t)y * j->w + x) * 3 + c] = (float)v;
            else
                j->out[(size_t)y * j->out_stride + (size_t)x * 4 + c] = clamp01((float)v);
        }
    if (!j->rgb)
        for (int x = 0; x < j->w; x++)
            j->out[(size_t)y * j->out_stride + (size_t)x * 4 + 3] = brow[(size_t)x * 4 + 3];
}

static void *band_run(void *arg) {
    struct band      *band = arg;
    const struct job *j = band->job;
    int               w = j->w, n = 3 * w, rx = j->rx, ry = j->ry, rows = band->y1 - band->y0;
    int               lo = j->gy ? clampi(band->y0 - ry, 0, j->h) : band->y0;
    int               hi = j->gy ? clampi(band->y1 + ry, 0, j->h) : band->y1;
    double           *acc = malloc((size_t)n * sizeof *acc);
    float            *ub = malloc((size_t)rows * n * sizeof *ub); /* (rows, w, 3) u of the band */
    float            *tmp = malloc((size_t)n * sizeof *tmp);      /* u of a halo row */
    float *e = malloc((size_t)(w + 2 * rx) * 3 * sizeof *e);      /* e with rx mirrored pixels */
    float *hd =
        j->gy ? malloc((size_t)(hi - lo) * n * sizeof *hd) : NULL; /* (hi − lo, w, 3) G_x ∗ e */
    band->ok = acc && ub && tmp && e && (hd || !j->gy);
    if (!band->ok) goto done;
    /* u of the band's own rows first: with rgb as both u and output, they are read before any
     * write; halo rows of rgb are only read when e needs u, which highpass_add never does. */
    for (int y = band->y0; y < band->y1; y++)
        u_row(j, y, acc, ub + (size_t)(y - band->y0) * n);
    if (!j->gy) {
        for (int y = band->y0; y < band->y1; y++)
            write_row(j, y, ub + (size_t)(y - band->y0) * n, NULL);
        goto done;
    }
    for (int y = lo; y < hi; y++) {
        const float *u = NULL, *brow = j->b + (size_t)y * j->b_stride;
        if (j->em != 0) {
            if (y >= band->y0 && y < band->y1)
                u = ub + (size_t)(y - band->y0) * n;
            else
                u_row(j, y, acc, tmp), u = tmp;
        }
        for (int x = -rx; x < w + rx; x++) {
            int xx = mirror(x, w);
            for (int c = 0; c < 3; c++)
                e[3 * (x + rx) + c] =
                    j->ea * brow[(size_t)xx * 4 + c] - (u ? j->em * u[3 * xx + c] : 0.0f);
        }
        for (int i = 0; i < n; i++)
            acc[i] = 0;
        for (int k = 0; k <= 2 * rx; k++) {
            double       g = j->gx[k];
            const float *ek = e + 3 * k;
            for (int i = 0; i < n; i++)
                acc[i] += g * ek[i];
        }
        float *h = hd + (size_t)(y - lo) * n;
        for (int i = 0; i < n; i++)
            h[i] = (float)acc[i];
    }
    for (int y = band->y0; y < band->y1; y++) {
        for (int i = 0; i < n; i++)
            acc[i] = 0;
        for (int k = -ry; k <= ry; k++) {
            double       g = j->gy[k + ry];
            const float *h = hd + (size_t)(mirror(y + k, j->h) - lo) * n;
            for (int i = 0; i < n; i++)
                acc[i] += g * h[i];
        }
        write_row(j, y, ub + (size_t)(y - band->y0) * n, acc);
    }
done:
    free(acc), free(ub), free(tmp), free(e), free(hd);
    return NULL;
}

static enum lw_status run_bands(const struct job *job, int              threads,
                                bool (*progress)(void *, double), void *user,
                                struct lw_error *err) {
    if (threads <= 0) threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    threads = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
    int            bands = (job->h + BAND_ROWS - 1) / BAND_ROWS;
    enum lw_status status = LW_OK;
    for (int first = 0; first < bands && status == LW_OK; first += threads) {
        struct band round[MAX_THREADS];
        pthread_t   tid[MAX_THREADS];
        bool        started[MAX_THREADS] = {false};
        int         n = bands - first < threads ? bands - first : threads;
        for (int i = 0; i < n; i++) {
            int y0 = (first + i) * BAND_ROWS;
            round[i] =
                (struct band){job, y0, y0 + BAND_ROWS < job->h ? y0 + BAND_ROWS : job->h, false};
            /* the calling thread takes the first band; a thread that cannot start runs inline */
            if (i > 0) started[i] = pthread_create(&tid[i], NULL, band_run, &round[i]) == 0;
        }
        band_run(&round[0]);
        for (int i = 1; i < n; i++) {
            if (started[i])
                pthread_join(tid[i], NULL);
            else
                band_run(&round[i]);
        }
        for (int i = 0; i < n; i++)
            if (!round[i].ok)
                status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory (detail band)");
        if (status == LW_OK && progress && !progress(user, (double)(first + n) / bands))
            status = lw_error_set(err, LW_ERR_CANCELLED, "detail transfer cancelled");
    }
    return status;
}

enum lw_status detail_cpu_transfer(const float *bp, int bpw, int bph, size_t bp_stride,
                                   const float *b, int bw, int bh, size_t b_stride, float *out,
                                   size_t out_stride, const struct detail_cpu_params *p,
                                   struct lw_error *err) {
    if (bpw < 1 || bph < 1 || bw < 1 || bh < 1 || bp_stride < (size_t)bpw * 4 ||
        b_stride < (size_t)bw * 4 || out_stride < (size_t)bw * 4 ||
        !(p->keep >= 0 && p->keep <= 1) ||
        (p->mode != DETAIL_CPU_ADD && p->mode != DETAIL_CPU_CUTOFF))
        return lw_error_set(err, LW_ERR_ARGUMENT,
                            "detail transfer of a %d×%d b′ to a %d×%d b, keep-detail %g, "
                            "mode %d (sizes ≥ 1, strides ≥ 4·width, keep in [0, 1])",
                            bpw, bph, bw, bh, p->keep, (int)p->mode);
    bool             cutoff = p->mode == DETAIL_CPU_CUTOFF;
    struct job       job = {.b = b,
                            .out = out,
                            .b_stride = b_stride,
                            .out_stride = out_stride,
                            .w = bw,
                            .h = bh,
                            .ea = cutoff ? 1.0f : p->keep,
                            .em = cutoff ? 1.0f : 0.0f};
    struct img_taps *ty = NULL;
    float           *wide = malloc((size_t)bw * bph * 4 * sizeof *wide);
    double          *gx = NULL, *gy = NULL;
    float            k = cutoff ? p->keep : 1.0f; /* σ = k·σ₁ */
    enum lw_status   status =
        wide ? LW_OK : lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    if (status == LW_OK)
        status = img_resize(bp, bpw, bph, bp_stride, 4, wide, bw, bph, IMG_BICUBIC, err);
    if (status == LW_OK && bph != bh) status = img_taps_create(bph, bh, IMG_BICUBIC, &ty, err);
    if (status == LW_OK && p->keep > 0) {
        gx = gaussian(detail_cpu_sigma(bpw, bw, k), &job.rx);
        gy = gaussian(detail_cpu_sigma(bph, bh, k), &job.ry);
        if (!gx || !gy) status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    }
    if (status == LW_OK) {
        job.wide = wide, job.ty = ty, job.gx = gx, job.gy = gy;
        status = run_bands(&job, p->threads, p->progress, p->user, err);
    }
    img_taps_destroy(ty);
    free(wide), free(gx), free(gy);
    return status;
}

enum lw_status detail_cpu_highpass_add(const float *b, size_t b_stride, float *rgb, int w, int h,
                                       double sigma_x, double sigma_y, float keep, int threads,
                                       struct lw_error *err) {
    if (w < 1 || h < 1 || b_stride < (size_t)w * 4 || !isfinite(keep) || !(sigma_x > 0) ||
        !(sigma_y > 0))
        return lw_error_set(err, LW_ERR_ARGUMENT, "detail high-pass of %d×%d, σ %g × %g, keep %g",
                            w, h, sigma_x, sigma_y, keep);
    if (keep == 0) return LW_OK;
    struct job job = {
        .rgb = rgb, .b = b, .b_stride = b_stride, .w = w, .h = h, .ea = keep, .em = 0};
    double        *gx = gaussian(sigma_x, &job.rx), *gy = gaussian(sigma_y, &job.ry);
    enum lw_status status =
        gx && gy ? LW_OK : lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    job.gx = gx, job.gy = gy;
    if (status == LW_OK) status = run_bands(&job, threads, NULL, NULL, err);
    free(gx), free(gy);
    return status;
}
