/* CPU detail transfer, both rules: k = 0 is exactly the upsampled b′; any k against a plain
 * whole-image reference written here from the formulas in detail_cpu.h (σ, Gaussian of radius
 * ⌈4σ⌉, mirrored edges, out = u + e − G ∗ e); the same bytes for 1, 2 and 3 threads; the
 * in-place high-pass equals the ADD rule; the frequency split on patterns whose answer is known;
 * detail restored on a textured image; cancel; argument errors; timing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "detail_cpu.h"
#include "harness.h"
#include "resize.h"

static float *rgba(int w, int h, double (*f)(int, int, int)) {
    float *p = malloc((size_t)w * h * 4 * sizeof *p);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            for (int c = 0; c < 3; c++)
                p[((size_t)y * w + x) * 4 + c] = (float)f(x, y, c);
            p[((size_t)y * w + x) * 4 + 3] = (float)((x + y) % 5) / 4;
        }
    return p;
}

static double smooth(int x, int y, int c) {
    return 0.5 + 0.3 * sin(0.05 * x + 0.7 * c) * cos(0.04 * y);
}
static double textured(int x, int y, int c) {
    return 0.5 + 0.2 * sin(0.03 * x + c) * cos(0.02 * y) +
           0.15 * sin(1.9 * x + 0.3 * c) * sin(2.3 * y);
}
static double checker(int x, int y, int c) {
    return 0.5 + 0.2 * (((x + y) & 1) ? 1 : -1);
}
static double period8(int x, int y, int c) {
    return 0.5 + 0.2 * cos(2 * M_PI * x / 8);
}
static double flat(int x, int y, int c) {
    return 0.3;
}

static bool stop(void *user, double fraction) {
    return ++*(int *)user < 1;
}

static enum detail_cpu_mode mode = DETAIL_CPU_CUTOFF; /* of run() and reference() */

/* The whole-image reference of detail_cpu.h's formulas. */
static float *reference(const float *bp, int bpw, int bph, const float *b, int bw, int bh,
                        float keep) {
    bool   cut = mode == DETAIL_CPU_CUTOFF;
    float  k = cut ? keep : 1;
    float *u = malloc((size_t)bw * bh * 4 * sizeof *u),
          *d = malloc((size_t)bw * bh * 3 * sizeof *d);
    float *t = malloc((size_t)bw * bh * 3 * sizeof *t),
          *out = malloc((size_t)bw * bh * 4 * sizeof *out);
    img_resize(bp, bpw, bph, (size_t)bpw * 4, 4, u, bw, bh, IMG_BICUBIC, NULL);
    for (size_t p = 0; p < (size_t)bw * bh; p++) /* e */
        for (int c = 0; c < 3; c++)
            d[p * 3 + c] = cut ? b[p * 4 + c] - u[p * 4 + c] : keep * b[p * 4 + c];
    float *e = malloc((size_t)bw * bh * 3 * sizeof *e);
    memcpy(e, d, (size_t)bw * bh * 3 * sizeof *e);
    double s[2] = {detail_cpu_sigma(bpw, bw, k), detail_cpu_sigma(bph, bh, k)};
    for (int axis = 0; axis < 2; axis++) {
        int     r = (int)ceil(4 * s[axis]) < 1 ? 1 : (int)ceil(4 * s[axis]);
        double *g = malloc((size_t)(2 * r + 1) * sizeof *g), sum = 0;
        for (int j = -r; j <= r; j++)
            sum += g[j + r] = exp(-j * j / (2 * s[axis] * s[axis]));
        for (int y = 0; y < bh; y++)
            for (int x = 0; x < bw; x++)
                for (int c = 0; c < 3; c++) {
                    double acc = 0;
                    for (int j = -r; j <= r; j++) {
                        int xx = axis ? x : x + j, yy = axis ? y + j : y;
                        /* mirrored edges (… 1 0 | 0 1 …), reflected again for kernels wider than the image */
                        while (xx < 0 || xx >= bw) xx = xx < 0 ? -xx - 1 : 2 * bw - 1 - xx;
                        while (yy < 0 || yy >= bh) yy = yy < 0 ? -yy - 1 : 2 * bh - 1 - yy;
                        acc += g[j + r] / sum * d[((size_t)yy * bw + xx) * 3 + c];
                    }
                    t[((size_t)y * bw + x) * 3 + c] = (float)acc;
                }
        memcpy(d, t, (size_t)bw * bh * 3 * sizeof *d);
        free(g);
    }
    for (size_t p = 0; p < (size_t)bw * bh; p++) {
        for (int c = 0; c < 3; c++)
            out[p * 4 + c] =
                fminf(fmaxf(u[p * 4 + c] + e[p * 3 + c] - d[p * 3 + c], 0), 1); /* u + e − G∗e */
        out[p * 4 + 3] = b[p * 4 + 3];
    }
    free(u), free(d), free(t), free(e);
    return out;
}

static float *run(const float *bp, int bpw, int bph, const float *b, int bw, int bh, float keep,
                  int threads) {
    float                   *out = malloc((size_t)bw * bh * 4 * sizeof *out);
    struct detail_cpu_params p = {.keep = keep, .mode = mode, .threads = threads};
    struct lw_error          err = {0};
    th_poison(out, (size_t)bw * bh * 4);
    th_check(detail_cpu_transfer(bp, bpw, bph, (size_t)bpw * 4, b, bw, bh, (size_t)bw * 4, out,
                                 (size_t)bw * 4, &p, &err) == LW_OK,
             "detail %d×%d → %d×%d, keep %g: %s", bpw, bph, bw, bh, keep, err.message);
    return out;
}

/* Mean and amplitude (mean |v − mean|) of channel 0 over the interior. */
static void stats(const float *p, int w, int h, int margin, double *mean, double *amp) {
    double s = 0, a = 0;
    int    n = 0;
    for (int y = margin; y < h - margin; y++)
        for (int x = margin; x < w - margin; x++)
            s += p[((size_t)y * w + x) * 4], n++;
    s /= n;
    for (int y = margin; y < h - margin; y++)
        for (int x = margin; x < w - margin; x++)
            a += fabs(p[((size_t)y * w + x) * 4] - s);
    *mean = s, *amp = a / n;
}

static double psnr(const float *a, const float *b, size_t pixels) {
    double se = 0;
    for (size_t p = 0; p < pixels; p++)
        for (int c = 0; c < 3; c++)
            se += (a[p * 4 + c] - b[p * 4 + c]) * (a[p * 4 + c] - b[p * 4 + c]);
    return 10 * log10(1 / (se / (pixels * 3)));
}

int main(void) {
    th_check(fabs(detail_cpu_sigma(512, 4096, 1) - 8 * sqrt(log(2.0) / 2) * 2 / M_PI) < 1e-12 &&
                 fabs(detail_cpu_sigma(512, 4096, 1) - 2.99825) < 1e-5,
             "σ(512 → 4096, k = 1) ≈ 3.0 px");
    th_check(detail_cpu_sigma(100, 300, 0) == 0, "σ(k = 0) = 0");

    /* k = 0: exactly Pillow-style BICUBIC (values stay inside [0, 1]): up, horizontal only, down.
     */
    const int shapes[][4] = {{37, 23, 150, 97}, {37, 97, 150, 97}, {37, 23, 20, 15}, {1, 1, 5, 3}};
    for (size_t i = 0; i < 4; i++) {
        int    bpw = shapes[i][0], bph = shapes[i][1], bw = shapes[i][2], bh = shapes[i][3];
        float *bp = rgba(bpw, bph, smooth), *b = rgba(bw, bh, textured),
              *up = malloc((size_t)bw * bh * 4 * sizeof *up);
        img_resize(bp, bpw, bph, (size_t)bpw * 4, 4, up, bw, bh, IMG_BICUBIC, NULL);
        for (size_t p = 0; p < (size_t)bw * bh; p++)
            up[p * 4 + 3] = b[p * 4 + 3]; /* b's alpha */
        float *out = run(bp, bpw, bph, b, bw, bh, 0, 2);
        th_check_close("k = 0 is the upsampled b′", out, up, (size_t)bw * bh * 4, 0, 0);
        free(bp), free(b), free(up), free(out);
    }

    /* Against the whole-image reference, and thread counts. 150 rows = three bands. */
    const float keeps[] = {0.05f, 0.4f, 1};
    for (int k = 0; k < 3; k++) {
        int    bpw = 37, bph = 23, bw = 211, bh = 150;
        float *bp = rgba(bpw, bph, smooth), *b = rgba(bw, bh, textured);
        float *want = reference(bp, bpw, bph, b, bw, bh, keeps[k]);
        float *one = run(bp, bpw, bph, b, bw, bh, keeps[k], 1),
              *two = run(bp, bpw, bph, b, bw, bh, keeps[k], 2);
        float *three = run(bp, bpw, bph, b, bw, bh, keeps[k], 3);
        char   what[64];
        snprintf(what, sizeof what, "k = %g against the whole-image reference", keeps[k]);
        th_check_close(what, one, want, (size_t)bw * bh * 4, 2e-6, 0);
        th_check(!memcmp(one, two, (size_t)bw * bh * 4 * sizeof *one) &&
                     !memcmp(one, three, (size_t)bw * bh * 4 * sizeof *one),
                 "k = %g: 1, 2, 3 threads agree", keeps[k]);
        free(bp), free(b), free(want), free(one), free(two), free(three);
    }

    /* The ADD rule: k = 0 exact, the reference, thread counts, and the in-place high-pass. */
    mode = DETAIL_CPU_ADD;
    for (int k = 0; k < 3; k++) {
        int    bpw = 37, bph = 23, bw = 211, bh = 150;
        float *bp = rgba(bpw, bph, smooth), *b = rgba(bw, bh, textured);
        float  keep = k == 0 ? 0 : k == 1 ? 0.3f : 1;
        float *want = reference(bp, bpw, bph, b, bw, bh, keep);
        float *one = run(bp, bpw, bph, b, bw, bh, keep, 1),
              *two = run(bp, bpw, bph, b, bw, bh, keep, 3);
        char what[64];
        snprintf(what, sizeof what, "ADD, k = %g, against the whole-image reference", keep);
        th_check_close(what, one, want, (size_t)bw * bh * 4, k == 0 ? 0 : 2e-6, 0);
        th_check(!memcmp(one, two, (size_t)bw * bh * 4 * sizeof *one),
                 "ADD, k = %g: 1 and 3 threads agree", keep);
        /* rgb = u, then rgb += k·(b − G∗b) in place: the same numbers before the clamp */
        float *u4 = malloc((size_t)bw * bh * 4 * sizeof *u4),
              *rgb = malloc((size_t)bw * bh * 3 * sizeof *rgb);
        img_resize(bp, bpw, bph, (size_t)bpw * 4, 4, u4, bw, bh, IMG_BICUBIC, NULL);
        for (size_t q = 0; q < (size_t)bw * bh; q++)
            memcpy(rgb + 3 * q, u4 + 4 * q, 3 * sizeof *rgb);
        struct lw_error err = {0};
        th_check(detail_cpu_highpass_add(b, (size_t)bw * 4, rgb, bw, bh,
                                         detail_cpu_sigma(bpw, bw, 1), detail_cpu_sigma(bph, bh, 1),
                                         keep, 2, &err) == LW_OK,
                 "highpass_add");
        bool same = true;
        for (size_t q = 0; q < (size_t)bw * bh; q++)
            for (int c = 0; c < 3; c++)
                same = same && fminf(fmaxf(rgb[3 * q + c], 0), 1) == one[4 * q + c];
        th_check(same, "ADD, k = %g: the in-place high-pass gives the same bytes", keep);
        free(bp), free(b), free(want), free(one), free(two), free(u4), free(rgb);
    }
    {
        struct lw_error err = {0};
        float           px[4 * 4] = {0}, rgb[3 * 4] = {0};
        th_check(detail_cpu_highpass_add(px, 8, rgb, 2, 2, 0, 1, 1, 0, &err) == LW_ERR_ARGUMENT,
                 "σ 0 refused");
        th_check(detail_cpu_highpass_add(px, 4, rgb, 2, 2, 1, 1, 1, 0, &err) == LW_ERR_ARGUMENT,
                 "short stride refused");
    }
    mode = DETAIL_CPU_CUTOFF;

    /* Frequencies: b′ flat 0.3 at 32², b a pattern around 0.5 at 256² (r = 8, σ(1) = 3 px). */
    float *bp = rgba(32, 32, flat), *chk = rgba(256, 256, checker), *p8 = rgba(256, 256, period8);
    double mean, amp, amp_b, mean_b;
    stats(chk, 256, 256, 12, &mean_b, &amp_b);
    float *o = run(bp, 32, 32, chk, 256, 256, 1, 0);
    stats(o, 256, 256, 12, &mean, &amp);
    th_check(fabs(mean - 0.3) < 1e-3 && fabs(amp - amp_b) < 0.01 * amp_b,
             "k = 1, checkerboard: b′'s level %.4f, b's detail %.4f of %.4f", mean, amp, amp_b);
    free(o);
    o = run(bp, 32, 32, chk, 256, 256, 0, 0);
    stats(o, 256, 256, 12, &mean, &amp);
    th_check(fabs(mean - 0.3) < 1e-6 && amp < 1e-6, "k = 0: flat b′ (%.6f, %.2g)", mean, amp);
    free(o);
    /* Period 8 (4× below b's Nyquist, 2× above b′'s): G(f) = exp(−2π²σ²/64) passes
     * 1 − 0.062 of it at k = 1 and 1 − 0.84 at k = 0.25. */
    stats(p8, 256, 256, 16, &mean_b, &amp_b);
    double      got[2];
    const float ks[2] = {1, 0.25f};
    for (int i = 0; i < 2; i++) {
        o = run(bp, 32, 32, p8, 256, 256, ks[i], 0);
        stats(o, 256, 256, 16, &mean, &got[i]);
        double s = detail_cpu_sigma(32, 256, ks[i]),
               want = amp_b * (1 - exp(-2 * M_PI * M_PI * s * s / 64));
        th_check(fabs(got[i] - want) < 0.03 * amp_b,
                 "period 8 at k = %g: %.4f of b's %.4f (Gaussian: %.4f)", ks[i], got[i], amp_b,
                 want);
        free(o);
    }
    free(bp), free(chk), free(p8);

    /* A textured b and b′ = b shrunk 6×: k = 1 brings the texture back. */
    int    bw = 300, bh = 240, bpw = 50, bph = 40;
    float *b = rgba(bw, bh, textured), *small = malloc((size_t)bpw * bph * 4 * sizeof *small);
    img_resize(b, bw, bh, (size_t)bw * 4, 4, small, bpw, bph, IMG_BICUBIC, NULL);
    float *u = run(small, bpw, bph, b, bw, bh, 0, 0), *full = run(small, bpw, bph, b, bw, bh, 1, 0);
    double pu = psnr(u, b, (size_t)bw * bh), pf = psnr(full, b, (size_t)bw * bh);
    printf("b′ = b shrunk 6×: PSNR to b %.2f dB upsampled, %.2f dB with the detail of b\n", pu, pf);
    th_check(pf > pu + 10, "detail restored (%.1f → %.1f dB)", pu, pf);
    free(u), free(full), free(small);

    /* Cancel after the first round; errors. */
    struct lw_error          err = {0};
    float                   *out = malloc((size_t)bw * bh * 4 * sizeof *out);
    int                      calls = 0;
    struct detail_cpu_params cancel = {.keep = 1, .threads = 1, .progress = stop, .user = &calls};
    th_check(detail_cpu_transfer(b, bw, bh, (size_t)bw * 4, b, bw, bh, (size_t)bw * 4, out,
                                 (size_t)bw * 4, &cancel, &err) == LW_ERR_CANCELLED &&
                 calls == 1,
             "cancel after one round (%d calls)", calls);
    struct detail_cpu_params bad = {.keep = 1.5f};
    th_check(detail_cpu_transfer(b, bw, bh, (size_t)bw * 4, b, bw, bh, (size_t)bw * 4, out,
                                 (size_t)bw * 4, &bad, &err) == LW_ERR_ARGUMENT &&
                 strstr(err.message, "1.5"),
             "keep 1.5 refused: %s", err.message);
    bad.keep = NAN;
    th_check(detail_cpu_transfer(b, bw, bh, (size_t)bw * 4, b, bw, bh, (size_t)bw * 4, out,
                                 (size_t)bw * 4, &bad, &err) == LW_ERR_ARGUMENT,
             "keep NaN refused");
    bad.keep = 0.5f;
    th_check(detail_cpu_transfer(b, bw, bh, (size_t)bw * 4, b, bw, bh, (size_t)bw * 3, out,
                                 (size_t)bw * 4, &bad, &err) == LW_ERR_ARGUMENT,
             "a stride below 4·width refused");
    bad.mode = (enum detail_cpu_mode)5;
    th_check(detail_cpu_transfer(b, bw, bh, (size_t)bw * 4, b, bw, bh, (size_t)bw * 4, out,
                                 (size_t)bw * 4, &bad, &err) == LW_ERR_ARGUMENT,
             "an unknown mode refused");
    free(out), free(b);

    /* Timing at a GIMP-like size (k = 1, 512² → 1600×1200, r ≈ 3). */
    bp = rgba(512, 512, smooth);
    b = rgba(1600, 1200, textured);
    out = malloc((size_t)1600 * 1200 * 4 * sizeof *out);
    struct detail_cpu_params tp = {.keep = 1, .mode = DETAIL_CPU_CUTOFF};
    struct timespec          t0, t1;
    clock_t                  c0 = clock();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    detail_cpu_transfer(bp, 512, 512, 2048, b, 1600, 1200, 6400, out, 6400, &tp, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("512² → 1600×1200 with k = 1: %.0f ms wall, %.0f ms CPU (all threads)\n",
           (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6,
           (clock() - c0) * 1e3 / CLOCKS_PER_SEC);
    free(bp), free(b), free(out);
    return th_finish();
}
