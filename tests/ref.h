/* Plain-C CPU references for every kernel (style.md §4.8, llm.c style), accumulating in double.
 * Shapes use the model files' letters: M rows (tokens), K inputs, N outputs, H heads, D head dim. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

double ref_act(double x, int act); /* op_act numbering: 0 none, 1 gelu-tanh, 2 gelu-erf, 3 quick, 4 silu */

/* y = act(x·Wᵀ + b) then store / y += g⊙· (mode 1) / y *= · (mode 2). W (N, K) f32 (round first). */
void ref_matmul(const float *x, const float *w, const float *b, const float *g, float *y, int m,
                int n, int k, int act, int mode);
/* LayerNorm / RMSNorm of rows with optional weight, bias, shift, scale (NULL = absent). */
void ref_norm(const float *x, const float *w, const float *b, const float *shift,
              const float *scale, float *y, int rows, int cols, float eps, bool rms);
/* softmax(scale·QKᵀ + bias [+causal])·V; q (Mq, H·D), k, v (Mk, H·D), bias (H·Mq, Mk) or NULL. */
void ref_attention(const float *q, const float *k, const float *v, const float *bias, float *out,
                   int mq, int mk, int h, int d, float scale, bool causal);
/* RMSNorm per head with scale (or none) then the 2×2 rotation table (or none), in place. */
void ref_qk_norm_rope(float *x, const float *scale, const float *rope, int tokens, int h, int d,
                      float eps);
void ref_group_norm(const float *x, const float *gamma, const float *beta, float *y, int c, int hw,
                    int groups, float eps, bool silu);
void ref_conv2d(const float *x, const float *w, const float *b, float *y, int c, int h, int wd,
                int o, int kh, int kw, int stride, int pt, int pl, int pb, int pr);
void ref_softmax(const float *x, float *y, int rows, int cols);
