#version 450
// y = act(x·Wᵀ + b), stored, accumulated with a gate (y += g ⊙ ·) or multiplied in (y *= ·).
// x (M, K) f32 with row stride; W (N, K) f32/f16/bf16 (see load_w); b, g (N) f32; y (M, N) f32.
// Each invocation computes a TM×TN block of y; a workgroup of 8×8 invocations covers 8·TM × 8·TN.
// Operands are read straight from storage (lavapipe loads are scalar either way: perf-notes.md);
// K is walked four at a time so each x and W element feeds TN or TM multiply-adds.
#include "common.glsl"
layout(local_size_x = 8, local_size_y = 8) in;
layout(set = 0, binding = 0) readonly buffer X { float xdata[]; };
layout(set = 0, binding = 1) readonly buffer W { uint wdata[]; };
layout(set = 0, binding = 2) readonly buffer B { float bdata[]; };
layout(set = 0, binding = 3) readonly buffer G { float gdata[]; };
layout(set = 0, binding = 4) buffer Y { float ydata[]; };
layout(push_constant) uniform Push {
    uint m, n, k;
    uint x_off, x_stride;
    uint w_off; // in elements of the weight dtype
    uint y_off, y_stride;
    uint b_off, g_off;
    uint has_bias, has_gate, act, mode; // mode: 0 store, 1 accumulate, 2 multiply
} p;
#define TM 4
#define TN 4
void main() {
    uint row0 = (gl_WorkGroupID.y * 8 + gl_LocalInvocationID.y) * TM;
    uint col0 = (gl_WorkGroupID.x * 8 + gl_LocalInvocationID.x) * TN;
    if (row0 >= p.m || col0 >= p.n) return;
    float acc[TM][TN];
    [[unroll]] for (int i = 0; i < TM; i++) [[unroll]] for (int j = 0; j < TN; j++) acc[i][j] = 0.0;
    uint xr[TM];
    uint wr[TN];
    [[unroll]] for (int i = 0; i < TM; i++) xr[i] = p.x_off + min(row0 + i, p.m - 1) * p.x_stride;
    [[unroll]] for (int j = 0; j < TN; j++) wr[j] = p.w_off + min(col0 + j, p.n - 1) * p.k;
    for (uint kk = 0; kk < p.k; kk++) {
        float xv[TM];
        float wv[TN];
        [[unroll]] for (int i = 0; i < TM; i++) xv[i] = xdata[xr[i] + kk];
        [[unroll]] for (int j = 0; j < TN; j++) wv[j] = LOAD_W(wdata, wr[j] + kk);
        [[unroll]] for (int i = 0; i < TM; i++)
            [[unroll]] for (int j = 0; j < TN; j++) acc[i][j] = fma(xv[i], wv[j], acc[i][j]);
    }
    [[unroll]] for (int i = 0; i < TM; i++) {
        uint r = row0 + i;
        if (r >= p.m) break;
        [[unroll]] for (int j = 0; j < TN; j++) {
            uint c = col0 + j;
            if (c >= p.n) break;
            float v = acc[i][j];
            if (p.has_bias != 0u) v += bdata[p.b_off + c];
            v = apply_act(v, p.act);
            uint at = p.y_off + r * p.y_stride + c;
            if (p.mode == 1u) ydata[at] += (p.has_gate != 0u ? gdata[p.g_off + c] : 1.0) * v;
            else if (p.mode == 2u) ydata[at] *= v;
            else ydata[at] = v;
        }
    }
}
