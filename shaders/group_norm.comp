#version 450
// GroupNorm over `groups` groups of x (C, H, W): mean and biased variance per group, eps, affine
// gamma/beta per channel, then SiLU when asked. One workgroup per group.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(set = 0, binding = 0) readonly buffer X { float xdata[]; };
layout(set = 0, binding = 1) readonly buffer Gm { float gdata[]; };
layout(set = 0, binding = 2) readonly buffer Bt { float bdata[]; };
layout(set = 0, binding = 3) writeonly buffer Y { float ydata[]; };
layout(push_constant) uniform Push {
    uint channels, hw, groups, x_off, g_off, b_off, y_off, silu;
    float eps;
} p;
shared float partial[256];
float reduce_sum(float v) {
    uint t = gl_LocalInvocationID.x;
    partial[t] = v;
    barrier();
    for (uint s = 128; s > 0; s >>= 1) {
        if (t < s) partial[t] += partial[t + s];
        barrier();
    }
    float total = partial[0];
    barrier();
    return total;
}
void main() {
    uint  g = gl_WorkGroupID.x, t = gl_LocalInvocationID.x;
    uint  per = p.channels / p.groups, n = per * p.hw, base = p.x_off + g * n;
    float s = 0.0;
    for (uint i = t; i < n; i += 256) s += xdata[base + i];
    float mean = reduce_sum(s) / float(n);
    float s2 = 0.0;
    for (uint i = t; i < n; i += 256) {
        float d = xdata[base + i] - mean;
        s2 += d * d;
    }
    float inv = inversesqrt(reduce_sum(s2) / float(n) + p.eps);
    for (uint i = t; i < n; i += 256) {
        uint  c = g * per + i / p.hw;
        float v = (xdata[base + i] - mean) * inv * gdata[p.g_off + c] + bdata[p.b_off + c];
        if (p.silu != 0u) v = v / (1.0 + exp(-v));
        ydata[p.y_off + g * n + i] = v;
    }
}
