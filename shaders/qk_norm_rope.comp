#version 450
// In place on one (token, head) slice of Q or K: RMSNorm over the head dim with a learned scale
// (when has_scale), then RoPE with a (tokens, D/2, 2, 2) rotation table (when has_rope):
// out[2i+r] = R[i][r][0]·x[2i] + R[i][r][1]·x[2i+1] (BFL flux math.py apply_rope). One workgroup
// per (token, head).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer S { float sdata[]; };
layout(set = 0, binding = 1) readonly buffer R { float rdata[]; };
layout(set = 0, binding = 2) buffer X { float xdata[]; };
layout(push_constant) uniform Push {
    uint tokens, heads, head_dim;
    uint x_off, x_stride, s_off, r_off;
    uint has_scale, has_rope;
    float eps;
} p;
shared float partial[64];
void main() {
    uint token = gl_WorkGroupID.x, head = gl_WorkGroupID.y, t = gl_LocalInvocationID.x;
    if (token >= p.tokens) return;
    uint  base = p.x_off + token * p.x_stride + head * p.head_dim;
    float inv = 1.0;
    if (p.has_scale != 0u) {
        float s = 0.0;
        for (uint d = t; d < p.head_dim; d += 64) s += xdata[base + d] * xdata[base + d];
        partial[t] = s;
        barrier();
        for (uint k = 32; k > 0; k >>= 1) {
            if (t < k) partial[t] += partial[t + k];
            barrier();
        }
        inv = inversesqrt(partial[0] / float(p.head_dim) + p.eps);
    }
    uint half_dim = p.head_dim / 2;
    for (uint i = t; i < half_dim; i += 64) {
        float x0 = xdata[base + 2 * i], x1 = xdata[base + 2 * i + 1];
        if (p.has_scale != 0u) {
            x0 *= inv * sdata[p.s_off + 2 * i];
            x1 *= inv * sdata[p.s_off + 2 * i + 1];
        }
        if (p.has_rope != 0u) {
            uint  rb = p.r_off + (token * half_dim + i) * 4;
            float y0 = rdata[rb + 0] * x0 + rdata[rb + 1] * x1;
            float y1 = rdata[rb + 2] * x0 + rdata[rb + 3] * x1;
            x0 = y0;
            x1 = y1;
        }
        xdata[base + 2 * i] = x0;
        xdata[base + 2 * i + 1] = x1;
    }
}
