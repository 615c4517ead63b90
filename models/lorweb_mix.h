/* LoRWeB mixing coefficients and the user's control over them (spec-lorweb.md §1.5; issue 7).
 *
 * One module at a time, on plain caller-owned float arrays: the query e (Q), the module's query
 * projection P (K, Q) row-major and its keys (N, K) in, the N mixing coefficients out. The
 * reference is LoRWeB's `attlora_forward` (toolkit/network_mixins.py): attention of the projected
 * query over the basis keys with the identity as values. Not here: reading the checkpoint (flux.c
 * and lorweb.c), building the query from CLIP (pipeline.c), applying the basis (the kernels).
 *
 * Order of operations in a request: mix_coeffs per module (and, when blending two analogies,
 * mix_blend of the two results), then mix_controls_apply with the user's strength, bias and
 * overrides. All functions are reentrant and keep no state. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "lorweb.h"
#include "status.h"

/* Coefficients c (N) of one module (spec-lorweb.md §1.5):
 *   q = P·e (cfg->project) or q = e (then Q must equal K; `projection` may be NULL);
 *   per head h of H = cfg->heads, over d = K/H components: ℓ_{h,n} = q_h·k_{n,h} / √d;
 *   w_{h,n} = softmax_n(ℓ_h) (cfg->softmax) or tanh(ℓ_{h,n});
 *   c_n = mean_h w_{h,n} (cfg->mean) or clamp(Σ_h w_{h,n}, lo, 1), lo = 0 under softmax, −1 under
 *   tanh.
 * Accumulates in double. LW_ERR_SHAPE when a size is < 1, H does not divide K, or Q ≠ K without
 * projection; LW_ERR_HOST_MEMORY. */
enum lw_status mix_coeffs(const struct lorweb_config *cfg, const float *projection,
                          const float *keys, int64_t n, int64_t k, int64_t q, const float *query,
                          float *coeffs, struct lw_error *err);

/* Blends the coefficients of two analogies (two (a, a′) pairs with the same b, each run through
 * mix_coeffs): out = (1 − ratio)·c0 + ratio·c1, ratio in [0, 1] (0 = the first analogy). A convex
 * blend of two softmax mixes is again a convex mix, so no renormalisation follows. `out` may alias
 * c0 or c1. LW_ERR_ARGUMENT for a ratio outside [0, 1]. */
enum lw_status mix_blend(const float *c0, const float *c1, int64_t n, float ratio, float *out,
                         struct lw_error *err);

/* The user's control over one module's coefficients. Any pointer may be NULL (no bias, no
 * overrides). The same arrays apply to every module of the basis. */
struct mix_controls {
    float        strength;     /* s ≥ 0: 0 = plain Kontext, 1 = as trained (pipeline: up to 2) */
    const float *bias;         /* (N) added to the computed coefficient */
    const float *override;     /* (N) replaces the computed coefficient where override_set */
    const bool  *override_set; /* (N) */
};

/* Applies the controls to c (N) in place. The exact rule:
 *
 * tanh configs: c′_n = clamp(override_n if set, else c_n + bias_n, −1, 1).
 *
 * softmax configs (the coefficients are a mix with total T = Σ_n c_n, 1 for `mean`):
 *   1. overridden elements take their override, clamped below at 0;
 *      the others take max(c_n + bias_n, 0);
 *   2. the overrides win: with O = Σ overridden, F = Σ the others, the others are rescaled by
 *      (T − O)/F so that the total stays T; if O ≥ T they become 0 (the overrides hold all the
 *      mass, kept as given); if F = 0 they stay 0 (the total is then O);
 *   3. every element is clamped to [0, 1], the range of a softmax weight.
 *   Without overrides this is "add the bias, drop negatives, renormalise to the same total".
 *
 * Finally every element is multiplied by the strength: the LoRA delta is linear in c, so s·c′ is
 * exactly strength s. Callers that scale the side path by s themselves pass strength 1.
 * LW_ERR_ARGUMENT for a negative or non-finite strength, or a non-finite bias or override. */
enum lw_status mix_controls_apply(const struct lorweb_config *cfg, const struct mix_controls *ctl,
                                  float *coeffs, int64_t n, struct lw_error *err);

/* The mean over modules per basis element, for display: coeffs (M, N) → mean (N). */
void mix_mean(const float *coeffs, int64_t modules, int64_t n, float *mean);
