/* Tensor operations recorded on the compute engine: one function per kernel family.
 *
 * This is the layer the networks are written in (flux.c, vae.c, clip.c, t5.c). Each op checks its
 * shapes, fetches its pipeline (kernel + specialisation) and records one or a few dispatches into
 * `ctx->cmd`; nothing runs until cmp_cmd_submit. Ops never allocate device memory: the caller passes
 * every output view (from an activation arena). Shapes use llm.c letters: M rows/tokens, K inputs,
 * N outputs, H heads, D head dim, C channels.
 *
 * Tensors are row-major. A 2-D tensor may be a column slice of a wider one: `stride` is the distance
 * in elements between rows (0 means `cols`), so attention can read Q, K and V from one fused (M, 3·C)
 * projection and a matmul can write into columns of a concatenation buffer. `view.offset` then points
 * at element (0, 0) of the slice.
 *
 * Returns LW_OK, LW_ERR_SHAPE (with the op, tensor and sizes in `err`), LW_ERR_DTYPE, or a status
 * from cmp_kernel_get. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "compute.h"
#include "dtype.h"

struct op_ctx {
    struct cmp_device *device;
    struct cmp_cmd    *cmd;
};

/* A tensor on the device. Activations are LW_DTYPE_F32 (or F16 where an op says so); weights may be
 * any dtype from dtype.h. For conv ops, (rows, cols) is unused and `shape` holds (C, H, W). */
struct op_tensor {
    struct cmp_view view;
    enum lw_dtype   dtype;
    int64_t         rows, cols;
    int64_t         stride;   /* elements between rows; 0 = cols */
    int64_t         shape[4]; /* conv ops: C, H, W (batch 1); weights: O, I, KH, KW */
};

/* Helpers to describe tensors. */
struct op_tensor op_tensor_2d(struct cmp_view view, enum lw_dtype dtype, int64_t rows, int64_t cols);
/* Columns [col0, col0 + ncols) and rows [row0, row0 + nrows) of a 2-D tensor (a view, no copy). */
struct op_tensor op_tensor_slice(struct op_tensor t, int64_t row0, int64_t nrows, int64_t col0,
                                 int64_t ncols);
struct op_tensor op_tensor_chw(struct cmp_view view, int64_t c, int64_t h, int64_t w);
/* True when the tensor has no view (an optional argument left out). */
static inline bool op_tensor_absent(const struct op_tensor *t) {
    return t->view.buffer == 0;
}

/* ---------------------------------------------------------------------------------------------- */

enum op_act {
    OP_ACT_NONE = 0,
    OP_ACT_GELU_TANH,  /* 0.5x(1+tanh(√(2/π)(x+0.044715x³)))  FLUX MLPs, T5 gated-GELU */
    OP_ACT_GELU_ERF,   /* 0.5x(1+erf(x/√2)) */
    OP_ACT_QUICK_GELU, /* x·sigmoid(1.702x)  CLIP */
    OP_ACT_SILU,       /* x·sigmoid(x) */
};

/* y = act(x·Wᵀ + b), then, by mode:
 *   OP_STORE:       y = that
 *   OP_ACCUMULATE:  y = y + gate ⊙ that   (gate optional, a (N) vector broadcast over rows; absent = 1)
 *   OP_MULTIPLY:    y = y ⊙ that          (T5's gated-GELU: wi_0 path times wi_1 path)
 * x (M, K) f32; W (N, K) in any weight dtype (block-quantised types dequantised in the kernel, f32
 * accumulation); b (N) f32 or absent; gate (N) f32 or absent; y (M, N) f32. */
enum op_matmul_mode { OP_STORE = 0, OP_ACCUMULATE = 1, OP_MULTIPLY = 2 };
struct op_matmul_args {
    struct op_tensor    x, w, bias, gate, y;
    enum op_act         act;
    enum op_matmul_mode mode;
};
enum lw_status op_matmul(struct op_ctx *ctx, const struct op_matmul_args *args, struct lw_error *err);

/* Normalisation over the last dim of x (M, C), eps given:
 *   y = norm(x) [· weight + bias] [· (1 + scale) + shift]
 * LayerNorm (mean and variance) unless `rms` (T5 / QK norm: x·rsqrt(mean(x²)+eps), no mean).
 * weight, bias (C) optional (CLIP's affine LayerNorm, T5's weight); shift, scale (C) optional
 * (FLUX's adaLN modulation). y may alias x. */
struct op_norm_args {
    struct op_tensor x, weight, bias, shift, scale, y;
    float            eps;
    bool             rms;
};
enum lw_status op_norm(struct op_ctx *ctx, const struct op_norm_args *args, struct lw_error *err);

/* In place on q and k (M, H·D) slices (typically of a fused qkv projection):
 *   per head, RMSNorm over D with scale q_scale / k_scale (D) (eps 1e-6, skipped when absent), then
 *   RoPE with the table `rope` (M, D/2, 2, 2) f32 — per token and pair the 2×2 rotation matrix
 *   [[cos, −sin], [sin, cos]] applied to the interleaved pair (x[2i], x[2i+1]) (FLUX §2.4; skipped
 *   when absent). */
struct op_qk_args {
    struct op_tensor q, k, q_scale, k_scale, rope;
    int64_t          heads, head_dim;
    float            eps;
};
enum lw_status op_qk_norm_rope(struct op_ctx *ctx, const struct op_qk_args *args,
                               struct lw_error *err);

/* out = softmax(scale · Q·Kᵀ + bias [+ causal mask]) · V, per head, tiled with an online softmax so
 * memory stays O(tokens). q (Mq, H·D), k and v (Mk, H·D) (slices allowed), out (Mq, H·D), head-major
 * columns (head h uses columns h·D … h·D+D−1). bias (H·Mq, Mk) f32 optional (T5's relative position
 * bias). D up to 512. */
struct op_attention_args {
    struct op_tensor q, k, v, bias, out;
    int64_t          heads, head_dim;
    float            scale;
    bool             causal;
};
enum lw_status op_attention(struct op_ctx *ctx, const struct op_attention_args *args,
                            struct lw_error *err);

/* A low-rank delta merged into a weight in place: w[o][i] += Σ_r b[o][r]·c[r]·a[r][i] for w (out, in)
 * (usually a row slice of a Linear's weight) of dtype f32/f16/bf16, rounded to nearest even in 16 bits;
 * a (R, in) and b (out, R) of one dtype among those; c (1, R) f32. */
enum lw_status op_lora_merge(struct op_ctx *ctx, struct op_tensor w, struct op_tensor a, struct op_tensor b,
                             struct op_tensor c, struct lw_error *err);

/* Element-wise: y = act(x) (x and y same shape, y may alias x). */
enum lw_status op_act(struct op_ctx *ctx, enum op_act act, struct op_tensor x, struct op_tensor y,
                      struct lw_error *err);

/* y = a + b or a ⊙ b; b has a's shape or is a row vector (1, cols) broadcast over rows. y may alias a. */
enum op_binary { OP_ADD = 0, OP_MUL = 1 };
enum lw_status op_binary(struct op_ctx *ctx, enum op_binary kind, struct op_tensor a,
                         struct op_tensor b, struct op_tensor y, struct lw_error *err);

/* Row-wise softmax of x (M, N) into y (may alias). */
enum lw_status op_softmax(struct op_ctx *ctx, struct op_tensor x, struct op_tensor y,
                          struct lw_error *err);

/* Copies a 2-D tensor into another of the same rows and cols (either may be a slice). */
enum lw_status op_copy(struct op_ctx *ctx, struct op_tensor src, struct op_tensor dst,
                       struct lw_error *err);

/* ---------------------------------------------------------------------------------------------- */
/* Image ops (batch 1, CHW, f32)                                                                     */

/* GroupNorm over `groups` groups of x (C, H, W) with affine gamma, beta (C), eps, then SiLU if asked. */
enum lw_status op_group_norm(struct op_ctx *ctx, struct op_tensor x, struct op_tensor gamma,
                             struct op_tensor beta, int64_t groups, float eps, bool silu,
                             struct op_tensor y, struct lw_error *err);

/* y = conv2d(x, w) + b: x (C, H, W), w (O, C, KH, KW) any float weight dtype, b (O) optional,
 * stride, and padding (top, left, bottom, right) with zeros — asymmetric for the autoencoder's
 * downsampling (0, 0, 1, 1). Output (O, Ho, Wo). When `accumulate`, y += result (residuals). */
struct op_conv2d_args {
    struct op_tensor x, w, bias, y;
    int32_t          stride;
    int32_t          pad_top, pad_left, pad_bottom, pad_right;
    bool             accumulate;
};
enum lw_status op_conv2d(struct op_ctx *ctx, const struct op_conv2d_args *args, struct lw_error *err);

/* Nearest-neighbour 2× upsampling: (C, H, W) → (C, 2H, 2W). */
enum lw_status op_upsample_nearest2x(struct op_ctx *ctx, struct op_tensor x, struct op_tensor y,
                                     struct lw_error *err);

/* FLUX 2×2 packing (spec §2.2): latent (C, H, W) ↔ tokens (H/2 · W/2, 4·C), token feature index
 * c·4 + dy·2 + dx, tokens in row-major (y, x) order. */
enum lw_status op_pack2x2(struct op_ctx *ctx, struct op_tensor latent, struct op_tensor tokens,
                          struct lw_error *err);
enum lw_status op_unpack2x2(struct op_ctx *ctx, struct op_tensor tokens, struct op_tensor latent,
                            struct lw_error *err);

/* (C, H, W) → (H·W, C) and back: the autoencoder's attention works on tokens. */
enum lw_status op_transpose(struct op_ctx *ctx, struct op_tensor x, struct op_tensor y,
                            struct lw_error *err);
