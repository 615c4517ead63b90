#version 450
// y = act(x·Wᵀ + b) with mode (see matmul.comp), for K a multiple of 4 and 4-aligned operands:
// x and W are read four K-elements per load (vec4 for f32 weights; one uvec2 = four 16-bit values
// for f16/bf16), which on lavapipe — where every storage load is a per-lane loop — quarters the
// load count. Each invocation computes 8×8 outputs (measured best on lavapipe among 4×4, 8×4, 4×8,
// 8×8). Offsets and strides in the push block are in elements, all multiples of 4.
#include "common.glsl"
layout(local_size_x = 8, local_size_y = 8) in;
layout(set = 0, binding = 0) readonly buffer X { vec4 x4[]; };
#if defined(W_F16) || defined(W_BF16)
layout(set = 0, binding = 1) readonly buffer W { uvec2 w4[]; };
#else
layout(set = 0, binding = 1) readonly buffer W { vec4 w4[]; };
#endif
layout(set = 0, binding = 2) readonly buffer B { float bdata[]; };
layout(set = 0, binding = 3) readonly buffer G { float gdata[]; };
layout(set = 0, binding = 4) buffer Y { float ydata[]; };
layout(push_constant) uniform Push {
    uint m, n, k;
    uint x_off, x_stride;
    uint w_off;
    uint y_off, y_stride;
    uint b_off, g_off;
    uint has_bias, has_gate, act, mode;
} p;
#define TM 8
#define TN 8
vec4 load_w4(uint i) {
#if defined(W_F16)
    uvec2 u = w4[i];
    return vec4(unpackHalf2x16(u.x), unpackHalf2x16(u.y));
#elif defined(W_BF16)
    uvec2 u = w4[i];
    return vec4(uintBitsToFloat(u.x << 16), uintBitsToFloat(u.x & 0xffff0000u),
                uintBitsToFloat(u.y << 16), uintBitsToFloat(u.y & 0xffff0000u));
#else
    return w4[i];
#endif
}
void main() {
    uint row0 = (gl_WorkGroupID.y * 8 + gl_LocalInvocationID.y) * TM;
    uint col0 = (gl_WorkGroupID.x * 8 + gl_LocalInvocationID.x) * TN;
    if (row0 >= p.m || col0 >= p.n) return;
    vec4 acc[TM][TN];
    [[unroll]] for (int i = 0; i < TM; i++) [[unroll]] for (int j = 0; j < TN; j++) acc[i][j] = vec4(0.0);
    uint xr[TM];
    uint wr[TN];
    [[unroll]] for (int i = 0; i < TM; i++) xr[i] = (p.x_off + min(row0 + i, p.m - 1) * p.x_stride) / 4;
    [[unroll]] for (int j = 0; j < TN; j++) wr[j] = (p.w_off + min(col0 + j, p.n - 1) * p.k) / 4;
    uint k4 = p.k / 4;
    for (uint kk = 0; kk < k4; kk++) {
        vec4 xv[TM];
        vec4 wv[TN];
        [[unroll]] for (int i = 0; i < TM; i++) xv[i] = x4[xr[i] + kk];
        [[unroll]] for (int j = 0; j < TN; j++) wv[j] = load_w4(wr[j] + kk);
        [[unroll]] for (int i = 0; i < TM; i++)
            [[unroll]] for (int j = 0; j < TN; j++) acc[i][j] = fma(xv[i], wv[j], acc[i][j]);
    }
    [[unroll]] for (int i = 0; i < TM; i++) {
        uint r = row0 + i;
        if (r >= p.m) break;
        [[unroll]] for (int j = 0; j < TN; j++) {
            uint c = col0 + j;
            if (c >= p.n) break;
            vec4  a = acc[i][j];
            float v = (a.x + a.y) + (a.z + a.w);
            if (p.has_bias != 0u) v += bdata[p.b_off + c];
            v = apply_act(v, p.act);
            uint at = p.y_off + r * p.y_stride + c;
            if (p.mode == 1u) ydata[at] += (p.has_gate != 0u ? gdata[p.g_off + c] : 1.0) * v;
            else if (p.mode == 2u) ydata[at] *= v;
            else ydata[at] = v;
        }
    }
}
