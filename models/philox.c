/* Philox 4×32 and the two Gaussian generators built on it (philox.h). The round function and key
 * schedule follow the Random123 paper (Salmon et al., SC'11); the CUDA layout follows PyTorch's
 * grid-stride distribution kernel and cuRAND's Philox state (curand_init, skipahead,
 * curand_normal4), as described in philox.h. */
#include "philox.h"

#include <math.h>
#include <string.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void rng_philox4x32(const uint32_t ctr[4], const uint32_t key[2], int rounds, uint32_t out[4]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3], k0 = key[0], k1 = key[1];
    for (int r = 0; r < rounds; r++) {
        if (r > 0) k0 += PHILOX_W0, k1 += PHILOX_W1;
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c0 = n0, c1 = (uint32_t)p1, c2 = n2, c3 = (uint32_t)p0;
    }
    out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

void rng_normal_fill(uint64_t seed, uint64_t first, float *x, size_t n) {
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    const double   two32 = 4294967296.0, two_pi = 6.283185307179586;
    uint64_t       block = UINT64_MAX;
    double         z[4] = {0};
    for (size_t j = 0; j < n; j++) {
        uint64_t i = first + j;
        if (i / 4 != block) {
            block = i / 4;
            uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), 0, 0}, w[4];
            rng_philox4x32(ctr, key, 10, w);
            for (int p = 0; p < 2; p++) {
                double r = sqrt(-2 * log((w[2 * p] + 0.5) / two32)),
                       phi = two_pi * (w[2 * p + 1] / two32);
                z[2 * p] = r * cos(phi);
                z[2 * p + 1] = r * sin(phi);
            }
        }
        x[j] = (float)z[i % 4];
    }
}

/* Threads of the randn launch (see philox.h). */
static int64_t cuda_threads(int64_t n, const struct rng_cuda_gpu *gpu) {
    int64_t blocks = (n + 255) / 256;
    if (gpu && gpu->sm_count > 0) {
        int64_t cap = (int64_t)gpu->sm_count * (gpu->max_threads_per_sm / 256);
        if (cap < 1) cap = 1;
        if (blocks > cap) blocks = cap;
    }
    return blocks * 256;
}

uint64_t rng_torch_cuda_offset_step(int64_t n, const struct rng_cuda_gpu *gpu) {
    if (n <= 0) return 0;
    int64_t t = cuda_threads(n, gpu);
    return (uint64_t)((n - 1) / (t * 4) + 1) * 4;
}

/* cuRAND's _curand_box_muller as compiled for the device (see philox.h for what differs). */
static void curand_box_muller(uint32_t a, uint32_t b, float *sin_out, float *cos_out) {
    const float inv32 = 2.3283064e-10f, inv32_2pi = 2.3283064e-10f * 6.2831855f;
    float u = fmaf((float)a, inv32, inv32 / 2), phi = fmaf((float)b, inv32_2pi, inv32_2pi / 2);
    float s = sqrtf(-2.0f * logf(u));
    *sin_out = sinf(phi) * s;
    *cos_out = cosf(phi) * s;
}

enum lw_status rng_torch_cuda_randn(uint64_t seed, uint64_t offset, const struct rng_cuda_gpu *gpu,
                                    float *x, int64_t n, struct lw_error *err) {
    if (offset % 4)
        return lw_error_set(err, LW_ERR_UNSUPPORTED,
                            "torch CUDA generator offset %llu is not a multiple of 4",
                            (unsigned long long)offset);
    if (n < 0 || n >= ((int64_t)1 << 31))
        return lw_error_set(err, LW_ERR_UNSUPPORTED,
                            "torch CUDA randn of %lld elements (0 … 2^31 − 1 here)", (long long)n);
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    int64_t        t_count = cuda_threads(n, gpu), stride = 4 * t_count;
    for (int64_t t = 0; t < t_count && t < n; t++)
        for (int64_t k = 0; t + k * stride < n; k++) {
            /* counter = offset/4 + k in the low 64 bits, the subsequence t in the high 64 bits */
            uint64_t lo = offset / 4 + (uint64_t)k;
            uint32_t ctr[4] = {(uint32_t)lo, (uint32_t)(lo >> 32), (uint32_t)t,
                               (uint32_t)((uint64_t)t >> 32)};
            uint32_t w[4];
            float    z[4];
            rng_philox4x32(ctr, key, 10, w);
            curand_box_muller(w[0], w[1], &z[0], &z[1]);
            curand_box_muller(w[2], w[3], &z[2], &z[3]);
            for (int j = 0; j < 4; j++) {
                int64_t e = t + k * stride + j * t_count;
                if (e < n) x[e] = z[j];
            }
        }
    return LW_OK;
}

void rng_round_bf16(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        if ((u & 0x7fffffffu) > 0x7f800000u) continue; /* NaN */
        u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
        memcpy(&x[i], &u, 4);
    }
}
