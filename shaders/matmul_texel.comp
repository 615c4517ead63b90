#version 450
// y = act(x·Wᵀ + b) with mode (see matmul.comp): the variant for CPU devices (lavapipe), where a
// storage-buffer load is a per-lane scalar loop but a texel fetch is one SIMD gather
// (perf-notes.md). x and W are texel buffers read four K-elements per fetch: rgba32f for f32
// weights, rg32ui (four 16-bit values) for f16/bf16. K, offsets and strides are multiples of 4
// elements. Offsets and strides in the push block are in elements.
//
// Each invocation computes TM rows × TN columns with one scalar accumulator per output (vec4
// accumulators would need four times the registers). The 8 invocations of a workgroup share their
// rows, so the x fetches are the same address in every lane; tall tiles amortise the costly W
// gathers. Measured on lavapipe at 2048×3072×3072 (GFLOP/s): 8×8 vec4 accumulators 27, 8×8 scalar
// 33, 16×8 41–46, 32×6 53–55; 8×8 workgroups no faster than 8×1.
#include "common.glsl"
#define TM 32
#define TN 6
layout(local_size_x = 8) in;
layout(set = 0, binding = 0) uniform samplerBuffer x4;
#if defined(W_F16) || defined(W_BF16)
layout(set = 0, binding = 1) uniform usamplerBuffer w4;
#else
layout(set = 0, binding = 1) uniform samplerBuffer w4;
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

vec4 load_w4(int i) {
#if defined(W_F16)
    uvec2 u = texelFetch(w4, i).xy;
    return vec4(unpackHalf2x16(u.x), unpackHalf2x16(u.y));
#elif defined(W_BF16)
    uvec2 u = texelFetch(w4, i).xy;
    return vec4(uintBitsToFloat(u.x << 16), uintBitsToFloat(u.x & 0xffff0000u), uintBitsToFloat(u.y << 16),
                uintBitsToFloat(u.y & 0xffff0000u));
#else
    return texelFetch(w4, i);
#endif
}

void main() {
    uint row0 = gl_WorkGroupID.y * TM;
    uint col0 = gl_GlobalInvocationID.x * TN;
    if (col0 >= p.n) return;
    int xr[TM];
    int wr[TN];
    [[unroll]] for (int i = 0; i < TM; i++) xr[i] = int((p.x_off + min(row0 + i, p.m - 1) * p.x_stride) / 4);
    [[unroll]] for (int j = 0; j < TN; j++) wr[j] = int((p.w_off + min(col0 + j, p.n - 1) * p.k) / 4);
    float acc[TM][TN];
    [[unroll]] for (int i = 0; i < TM; i++) [[unroll]] for (int j = 0; j < TN; j++) acc[i][j] = 0.0;
    int k4 = int(p.k / 4);
    for (int kk = 0; kk < k4; kk++) {
        vec4 xv[TM];
        vec4 wv[TN];
        [[unroll]] for (int i = 0; i < TM; i++) xv[i] = texelFetch(x4, xr[i] + kk);
        [[unroll]] for (int j = 0; j < TN; j++) wv[j] = load_w4(wr[j] + kk);
        [[unroll]] for (int i = 0; i < TM; i++)
            [[unroll]] for (int j = 0; j < TN; j++)
                [[unroll]] for (int c = 0; c < 4; c++) acc[i][j] = fma(xv[i][c], wv[j][c], acc[i][j]);
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
