#version 450
// conv2d.comp's result (same push block) for CPU devices (lavapipe), stride 1 and kernels at most 3
// wide, with x and the weights as texel buffers (r32f; r16f or r16ui for f16/bf16 weights): a
// texel fetch is one SIMD gather there, a storage load a per-lane loop (perf-notes.md).
//
// Each invocation computes TP consecutive output pixels of one row for TO output channels; the 8
// invocations of a workgroup share the pixels (so the input fetches are one address in every
// lane) and differ in channels. Per input channel and kernel row, the TP + 2 input values the row
// needs are fetched once and used for every kx.
#include "common.glsl"
#define TP 32
#define TO 4
layout(local_size_x = 8) in;
layout(set = 0, binding = 0) uniform samplerBuffer xt;
#if defined(W_BF16)
layout(set = 0, binding = 1) uniform usamplerBuffer wt;
#else
layout(set = 0, binding = 1) uniform samplerBuffer wt;
#endif
layout(set = 0, binding = 2) readonly buffer B { float bdata[]; };
layout(set = 0, binding = 3) buffer Y { float ydata[]; };
layout(push_constant) uniform Push {
    uint c_in, h, w, c_out, ho, wo, kh, kw;
    uint stride, pad_top, pad_left;
    uint x_off, w_off, b_off, y_off;
    uint has_bias, accumulate;
} p;

float load_w(int i) {
#if defined(W_BF16)
    return uintBitsToFloat(texelFetch(wt, i).x << 16);
#else
    return texelFetch(wt, i).x;
#endif
}

void main() {
    uint tiles_x = (p.wo + TP - 1) / TP;
    uint oy = gl_WorkGroupID.x / tiles_x, ox0 = (gl_WorkGroupID.x % tiles_x) * TP;
    uint o0 = (gl_WorkGroupID.y * 8u + gl_LocalInvocationID.x) * TO;
    if (oy >= p.ho || o0 >= p.c_out) return;
    int wr[TO];
    [[unroll]] for (int j = 0; j < TO; j++) wr[j] = int(p.w_off + min(o0 + j, p.c_out - 1) * p.c_in * p.kh * p.kw);
    float acc[TP][TO];
    [[unroll]] for (int i = 0; i < TP; i++) [[unroll]] for (int j = 0; j < TO; j++) acc[i][j] = 0.0;
    int x_first = int(ox0) - int(p.pad_left); // input column of xs[0]
    for (uint c = 0; c < p.c_in; c++) {
        for (uint ky = 0; ky < p.kh; ky++) {
            int iy = int(oy + ky) - int(p.pad_top);
            if (iy < 0 || iy >= int(p.h)) continue;
            int   row = int(p.x_off + c * p.h * p.w + uint(iy) * p.w);
            float xs[TP + 2];
            [[unroll]] for (int t = 0; t < TP + 2; t++) {
                int ix = x_first + t;
                xs[t] = ix >= 0 && ix < int(p.w) ? texelFetch(xt, row + ix).x : 0.0;
            }
            int wk = int((c * p.kh + ky) * p.kw);
            [[unroll]] for (int kx = 0; kx < 3; kx++) {
                if (kx >= int(p.kw)) break;
                float wv[TO];
                [[unroll]] for (int j = 0; j < TO; j++) wv[j] = load_w(wr[j] + wk + kx);
                [[unroll]] for (int i = 0; i < TP; i++)
                    [[unroll]] for (int j = 0; j < TO; j++) acc[i][j] = fma(xs[i + kx], wv[j], acc[i][j]);
            }
        }
    }
    [[unroll]] for (int j = 0; j < TO; j++) {
        uint o = o0 + j;
        if (o >= p.c_out) break;
        float bias = p.has_bias != 0u ? bdata[p.b_off + o] : 0.0;
        [[unroll]] for (int i = 0; i < TP; i++) {
            uint ox = ox0 + i;
            if (ox >= p.wo) break;
            uint at = p.y_off + (o * p.ho + oy) * p.wo + ox;
            float v = acc[i][j] + bias;
            ydata[at] = p.accumulate != 0u ? ydata[at] + v : v;
        }
    }
}
