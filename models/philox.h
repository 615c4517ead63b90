/* Counter-based Gaussian noise: the engine's own generator, and PyTorch's CUDA `torch.randn`
 * layout for comparing with the reference pipeline (issue 7, spec-flux-kontext.md §3.4).
 *
 * Both rest on Philox 4×32 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11;
 * the Random123 library), a pure function of a 128-bit counter and a 64-bit key, computed here on
 * the CPU: the noise for a seed is the same on every machine and every GPU. Not here: uploading the
 * noise or packing it into tokens (pipeline.c). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* One Philox 4×32 block: `rounds` rounds (10 in both generators; Random123 also publishes 7) of
 * the counter ctr[0..3] under key[0..1], the key bumped by (0x9E3779B9, 0xBB67AE85) before every
 * round after the first. */
void rng_philox4x32(const uint32_t ctr[4], const uint32_t key[2], int rounds, uint32_t out[4]);

/* The engine's noise: standard normals x[j] = element first + j of the stream of `seed`, so any
 * slice of the stream can be drawn on its own. Element i comes from the Philox4×32-10 block with
 * key (seed low, seed high 32 bits) and counter (i/4 low, i/4 high, 0, 0): its four words w give
 * two Box–Muller pairs, u = (w0 + ½)·2⁻³², φ = 2π·w1·2⁻³² → (√(−2 ln u)·cos φ, √(−2 ln u)·sin φ),
 * then the same from (w2, w3); element i takes entry i mod 4. Computed in double, stored as float.
 */
void rng_normal_fill(uint64_t seed, uint64_t first, float *x, size_t n);

/* The GPU whose launch `torch.randn` on CUDA would use: its grid is capped at
 * sm_count · ⌊max_threads_per_sm / 256⌋ blocks of 256 threads, and the cap changes which element
 * each thread writes. sm_count = 0 means no cap (every GPU large enough for the tensor). Examples:
 * H100 SXM (132, 2048), A100 (108, 2048), RTX 4090 (128, 1536), RTX 3090 (82, 1536). */
struct rng_cuda_gpu {
    int sm_count;
    int max_threads_per_sm;
};

/* `torch.randn(n, generator=g, device="cuda")` for a float32 (or, rounded, bf16/f16) tensor of n
 * contiguous elements, where g = torch.Generator("cuda").manual_seed(seed) has already advanced its
 * Philox offset to `offset` (0 for a fresh generator; see rng_torch_cuda_offset_step).
 *
 * What is reproduced (PyTorch's ATen/native/cuda/DistributionTemplates.h, normal_kernel →
 * distribution_nullary_kernel → distribution_elementwise_grid_stride_kernel, and cuRAND's Philox
 * device API), derived from the algorithm, not run on CUDA here:
 *   - launch: 256-thread blocks, grid = min(⌈n/256⌉, cap above); T = 256·grid threads;
 *   - thread t: curand_init(seed, subsequence t, offset) → Philox4×32-10 with key (seed low, seed
 *     high) and 128-bit counter offset/4 + (t << 64), counting up by one per curand_normal4 call;
 *   - its k-th curand_normal4 writes elements t + k·4T + j·T (j = 0 … 3, those < n): Box–Muller
 *     u = w0·2⁻³² + 2⁻³³, φ = w1·(2⁻³²·2π) + ½(2⁻³²·2π) in float → (s·sin φ, s·cos φ), s = √(−2 ln
 * u), then the same from (w2, w3). For n ≤ T (the usual case) element i is simply the sine output
 *     of thread i's first block.
 * Exact: the Philox words (checked against Random123's known answers) and the layout above.
 * Not bit-exact: cuRAND uses the fast intrinsic __sincosf (absolute error about 1e-6) and a
 * contracted multiply-add for φ; we use correctly rounded sinf/cosf and fmaf, so values differ by a
 * few 1e-6 at most. diffusers' FLUX pipelines draw their latents in bf16: round these values to
 * nearest-even bf16 to get theirs. An offset that is not a multiple of 4 (torch never makes one)
 * and n ≥ 2³¹ (torch splits the launch) are LW_ERR_UNSUPPORTED. */
enum lw_status rng_torch_cuda_randn(uint64_t seed, uint64_t offset, const struct rng_cuda_gpu *gpu,
                                    float *x, int64_t n, struct lw_error *err);

/* Rounds to the nearest bf16 value (ties to even), in place, as torch's float → bfloat16 cast does
 * (finite values; NaN stays NaN). */
void rng_round_bf16(float *x, size_t n);

/* How far one such randn of n elements advances the generator's offset:
 * ⌈n / (4T)⌉·4 with T as above. */
uint64_t rng_torch_cuda_offset_step(int64_t n, const struct rng_cuda_gpu *gpu);
