/* Implementation of the test harness declared in harness.h. */
#include "harness.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dtype.h"
#include "status.h"

static int checks_run;
static int checks_failed;

void th_rng_seed(struct th_rng *rng, uint64_t seed) {
    rng->state = seed * 0x9E3779B97F4A7C15ull + 1;
}

uint32_t th_rng_u32(struct th_rng *rng) {
    /* splitmix64, top 32 bits */
    uint64_t z = (rng->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}

float th_rng_uniform(struct th_rng *rng, float lo, float hi) {
    return lo + (hi - lo) * (float)(th_rng_u32(rng) >> 8) * (1.0f / 16777216.0f);
}

float th_rng_normal(struct th_rng *rng) {
    double u1 = ((th_rng_u32(rng) >> 8) + 0.5) / 16777216.0;
    double u2 = ((th_rng_u32(rng) >> 8) + 0.5) / 16777216.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void th_fill_uniform(struct th_rng *rng, float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = th_rng_uniform(rng, lo, hi);
}

void th_fill_normal(struct th_rng *rng, float *x, size_t n, float stddev) {
    for (size_t i = 0; i < n; i++) x[i] = stddev * th_rng_normal(rng);
}

uint16_t th_f32_to_f16(float x) {
    return lw_f32_to_f16(x);
}

float th_f16_to_f32(uint16_t bits) {
    return lw_f16_to_f32(bits);
}

uint16_t th_f32_to_bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float th_bf16_to_f32(uint16_t bits) {
    uint32_t u = (uint32_t)bits << 16;
    float    f;
    memcpy(&f, &u, 4);
    return f;
}

float th_round_f16(float x) {
    return th_f16_to_f32(th_f32_to_f16(x));
}

float th_round_bf16(float x) {
    return th_bf16_to_f32(th_f32_to_bf16(x));
}

bool th_check(bool ok, const char *fmt, ...) {
    checks_run++;
    if (!ok) {
        checks_failed++;
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "FAIL: ");
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\n");
        va_end(ap);
    }
    return ok;
}

bool th_check_close(const char *what, const float *got, const float *want, size_t n, double atol,
                    double rtol) {
    size_t bad = 0;
    double max_abs = 0;
    size_t max_at = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        bool   ok = d <= atol || d <= rtol * fabs((double)want[i]);
        if (isnan(d) || d > max_abs || (isnan(d) && !isnan(max_abs))) {
            max_abs = isnan(d) ? NAN : (d > max_abs ? d : max_abs);
            max_at = i;
        }
        if (!ok || isnan(d)) {
            if (bad < 5)
                fprintf(stderr, "  %s[%zu]: got %.8g want %.8g (diff %.3g)\n", what, i, got[i],
                        want[i], d);
            bad++;
        }
    }
    return th_check(bad == 0, "%s: %zu of %zu elements outside atol %.3g / rtol %.3g; max |diff| %.4g at %zu",
                    what, bad, n, atol, rtol, max_abs, max_at);
}

double th_rel_l2(const float *got, const float *want, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - (double)want[i];
        num += d * d;
        den += (double)want[i] * (double)want[i];
    }
    if (den == 0) return sqrt(num);
    return sqrt(num / den);
}

double th_max_abs_diff(const float *got, const float *want, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (isnan(d)) return NAN;
        if (d > m) m = d;
    }
    return m;
}

uint8_t *th_pil_image(int w, int h, int salt) {
    uint8_t *a = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                a[((size_t)y * w + x) * 3 + c] =
                    (uint8_t)((x * 37 + y * 91 + c * 53 + ((x * y + salt) % 17) * 11 + salt * 29) &
                              255);
    return a;
}

void th_poison(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = NAN;
}

int th_finish(void) {
    printf("test: %d checks, %d failed\n", checks_run, checks_failed);
    if (checks_run == 0) {
        fprintf(stderr, "FAIL: the test ran no check\n");
        return 1;
    }
    return checks_failed ? 1 : 0;
}

void th_skip(const char *why) {
    fprintf(stderr, "SKIP: %s\n", why);
    exit(77);
}

const char *th_fixtures_dir(void) {
    static char path[4096];
    const char *env = getenv("LORWEB_FIXTURES");
    if (env && *env) snprintf(path, sizeof path, "%s", env);
    else snprintf(path, sizeof path, "%s/../shared/fixtures", LORWEB_SOURCE_ROOT);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return NULL;
    return path;
}
