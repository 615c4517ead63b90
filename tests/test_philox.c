/* Philox 4×32 against Random123's published known-answer vectors (file kat_vectors, rounds 7 and
 * 10); the engine noise (values derived from a known answer, slicing, moments); the torch CUDA
 * layout: an independent element-by-element formulation of PyTorch's grid-stride kernel,
 * the offset bookkeeping, and the published output of AUTOMATIC1111's rng_philox.py (seed 0, 12
 * values), which documents itself as matching torch.randn on CUDA. Not verified here (no CUDA on
 * the test machines): actual GPU output, and the fast-math sine of cuRAND (about 1e-6). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "philox.h"

/* Random123 kat_vectors: counter[4] key[2] → output[4]. */
static const struct {
    int      rounds;
    uint32_t ctr[4], key[2], out[4];
} kat[] = {
    {7, {0, 0, 0, 0}, {0, 0}, {0x5f6fb709, 0x0d893f64, 0x4f121f81, 0x4f730a48}},
    {7, {~0u, ~0u, ~0u, ~0u}, {~0u, ~0u}, {0x5207ddc2, 0x45165e59, 0x4d8ee751, 0x8c52f662}},
    {7,
     {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
     {0xa4093822, 0x299f31d0},
     {0x4dfccaba, 0x190a87f0, 0xc47362ba, 0xb6b5242a}},
    {10, {0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {10, {~0u, ~0u, ~0u, ~0u}, {~0u, ~0u}, {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {10,
     {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
     {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

/* torch.randn(12, generator=cuda generator seeded 0), as printed by rng_philox.py's docstring. */
static const float a1111_seed0[12] = {-0.92466259f, -0.42534415f, -2.6438457f,  0.14518388f,
                                      -0.12086647f, -0.57972564f, -0.62285122f, -0.32838709f,
                                      -1.07454231f, -0.36314407f, -1.67105067f, 2.26550497f};

/* Element e of the CUDA layout, gathered (the library scatters thread by thread). */
static float torch_element(uint64_t seed, uint64_t offset, int64_t threads, int64_t e) {
    int64_t  k = e / (4 * threads), j = (e % (4 * threads)) / threads, t = e % threads;
    uint64_t lo = offset / 4 + (uint64_t)k;
    uint32_t ctr[4] = {(uint32_t)lo, (uint32_t)(lo >> 32), (uint32_t)t, 0}, w[4];
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    rng_philox4x32(ctr, key, 10, w);
    const float c = 2.3283064e-10f, c2pi = 2.3283064e-10f * 6.2831855f;
    float       u = fmaf((float)w[j / 2 * 2], c, c / 2),
          phi = fmaf((float)w[j / 2 * 2 + 1], c2pi, c2pi / 2);
    float s = sqrtf(-2.0f * logf(u));
    return (j % 2 ? cosf(phi) : sinf(phi)) * s;
}

static void moments(const char *what, const float *x, size_t n) {
    double m = 0, v = 0, tail = 0;
    for (size_t i = 0; i < n; i++)
        m += x[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++)
        v += (x[i] - m) * (x[i] - m), tail += fabs(x[i]) > 2;
    v /= (double)n, tail /= (double)n;
    printf("%s: mean %.5f, variance %.5f, P(|z| > 2) %.5f (normal: 0.04550)\n", what, m, v, tail);
    th_check(fabs(m) < 0.006 && fabs(v - 1) < 0.01 && fabs(tail - 0.0455) < 0.002, "%s: moments",
             what);
}

static void philox_kat(void) {
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        uint32_t out[4];
        rng_philox4x32(kat[i].ctr, kat[i].key, kat[i].rounds, out);
        th_check(!memcmp(out, kat[i].out, sizeof out), "philox4x32-%d KAT %zu: %08x %08x %08x %08x",
                 kat[i].rounds, i, out[0], out[1], out[2], out[3]);
    }
}

static void engine(void) {
    /* Seed 0, elements 0 … 3 come from the all-zero counter and key: the known answer above. */
    const uint32_t *w = kat[3].out;
    double          r0 = sqrt(-2 * log((w[0] + 0.5) / 4294967296.0)),
           p0 = 6.283185307179586 * (w[1] / 4294967296.0);
    double r1 = sqrt(-2 * log((w[2] + 0.5) / 4294967296.0)),
           p1 = 6.283185307179586 * (w[3] / 4294967296.0);
    float want[4] = {(float)(r0 * cos(p0)), (float)(r0 * sin(p0)), (float)(r1 * cos(p1)),
                     (float)(r1 * sin(p1))};
    float got[4];
    rng_normal_fill(0, 0, got, 4);
    th_check(!memcmp(got, want, sizeof got), "engine seed 0 from the KAT block: %g %g %g %g",
             got[0], got[1], got[2], got[3]);

    size_t n = (size_t)1 << 20;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    rng_normal_fill(42, 0, a, n);
    rng_normal_fill(42, 0, b, n);
    th_check(!memcmp(a, b, n * sizeof *a), "same seed, same noise");
    rng_normal_fill(42, 37, b, 50); /* a slice starting inside a block */
    th_check(!memcmp(a + 37, b, 50 * sizeof *a), "a slice of the stream drawn on its own");
    rng_normal_fill(43, 0, b, n);
    size_t same = 0;
    for (size_t i = 0; i < n; i++)
        same += a[i] == b[i];
    th_check(same < 4, "seed 43 differs from 42 (%zu equal values)", same);
    rng_normal_fill((uint64_t)1 << 32, 0, b, 8);
    th_check(memcmp(a, b, 8 * sizeof *a) != 0, "the seed's high word matters");
    moments("engine, seed 42", a, n);
    free(a), free(b);
}

static void torch_layout(void) {
    struct lw_error err = {0};
    float           x[12];
    th_check(rng_torch_cuda_randn(0, 0, NULL, x, 12, &err) == LW_OK, "randn 12");
    th_check_close("seed 0 vs rng_philox.py's docstring", x, a1111_seed0, 12, 2e-6, 0);
    printf("seed 0: max |difference| to the published values %.3g\n",
           th_max_abs_diff(x, a1111_seed0, 12));

    /* Capped grids and a later offset: every element against the gathered formulation. */
    const struct {
        struct rng_cuda_gpu gpu;
        int64_t             n, threads;
        uint64_t            seed, offset;
    } cases[] = {
        {{0, 0}, 1000, 1024, 7, 0},  /* no cap: one element per thread */
        {{1, 256}, 2500, 256, 7, 8}, /* 1 block: 2500 = 2 · 4 · 256 + 452, three blocks each */
        {{3, 1536}, 20011, 4608, 50, 4},      /* 3 SMs × 6 blocks, a prime count */
        {{108, 2048}, 262144, 221184, 50, 0}, /* A100 at a 1024² latent */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int64_t n = cases[c].n;
        float  *got = malloc((size_t)n * sizeof *got);
        th_poison(got, (size_t)n);
        th_check(rng_torch_cuda_randn(cases[c].seed, cases[c].offset, &cases[c].gpu, got, n,
                                      &err) == LW_OK,
                 "randn %lld", (long long)n);
        int64_t bad = 0;
        for (int64_t e = 0; e < n; e++) {
            float want = torch_element(cases[c].seed, cases[c].offset, cases[c].threads, e);
            if (memcmp(&want, &got[e], sizeof want) && bad++ < 3)
                printf("  case %zu element %lld: %.9g, want %.9g\n", c, (long long)e, got[e], want);
        }
        th_check(bad == 0, "layout case %zu (%lld elements, %lld threads): %lld differ", c,
                 (long long)n, (long long)cases[c].threads, (long long)bad);
        if (n >= 100000) moments("torch layout, A100 grid", got, (size_t)n);
        free(got);
    }
    /* The uncapped layout is the capped one whenever the tensor fits the grid. */
    float h100[1000], any[1000];
    rng_torch_cuda_randn(9, 0, &(struct rng_cuda_gpu){132, 2048}, h100, 1000, &err);
    rng_torch_cuda_randn(9, 0, NULL, any, 1000, &err);
    th_check(!memcmp(h100, any, sizeof any), "small tensors: the same on every GPU");

    float r[5] = {1.0f, 1.00390625f, 1.01171875f, -3.14159265f, 1e-3f};
    rng_round_bf16(r, 5); /* 1 + 2^-8 is a tie: to even (1); 1 + 3·2^-8 ties up to 1 + 2^-6 */
    th_check_close("bf16 rounding", r,
                   (const float[]){1.0f, 1.0f, 1.015625f, -3.140625f, 0.00099945068f}, 5, 0, 0);
    th_check(rng_torch_cuda_offset_step(262144, NULL) == 4, "offset step, 1024² latent, no cap");
    th_check(rng_torch_cuda_offset_step(262144, &(struct rng_cuda_gpu){132, 2048}) == 4, "H100");
    th_check(rng_torch_cuda_offset_step(10000000, &(struct rng_cuda_gpu){108, 2048}) == 48,
             "A100, 10M elements: 12 normal4 calls per thread");
    th_check(rng_torch_cuda_offset_step(1, NULL) == 4, "one element");
    th_check(rng_torch_cuda_randn(0, 6, NULL, x, 12, &err) == LW_ERR_UNSUPPORTED,
             "offset 6 refused");
    th_check(rng_torch_cuda_randn(0, 0, NULL, x, (int64_t)1 << 31, &err) == LW_ERR_UNSUPPORTED &&
                 strstr(err.message, "2147483648"),
             "2^31 elements refused: %s", err.message);
}

int main(void) {
    philox_kat();
    engine();
    torch_layout();
    return th_finish();
}
