#version 450
// Row normalisation: y = norm(x) [· weight + bias] [· (1 + scale) + shift].
// LayerNorm (biased variance) or RMSNorm (rms != 0: no mean), eps given; one workgroup per row,
// sums reduced in shared memory in f32 as the references do. x, y (rows, cols) with strides.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer X { float xdata[]; };
layout(set = 0, binding = 1) readonly buffer Wt { float wdata[]; };
layout(set = 0, binding = 2) readonly buffer Bs { float bdata[]; };
layout(set = 0, binding = 3) readonly buffer Sh { float shdata[]; };
layout(set = 0, binding = 4) readonly buffer Sc { float scdata[]; };
layout(set = 0, binding = 5) buffer Y { float ydata[]; };
layout(push_constant) uniform Push {
    uint rows, cols;
    uint x_off, x_stride, y_off, y_stride;
    uint w_off, b_off, sh_off, sc_off;
    uint flags; // 1 weight, 2 bias, 4 shift, 8 scale, 16 rms
    float eps;
} p;
shared float partial[64];
float reduce_sum(float v) {
    uint t = gl_LocalInvocationID.x;
    partial[t] = v;
    barrier();
    for (uint s = 32; s > 0; s >>= 1) {
        if (t < s) partial[t] += partial[t + s];
        barrier();
    }
    float total = partial[0];
    barrier();
    return total;
}
void main() {
    uint row = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    if (row >= p.rows) return;
    uint  t = gl_LocalInvocationID.x;
    uint  xb = p.x_off + row * p.x_stride, yb = p.y_off + row * p.y_stride;
    bool  rms = (p.flags & 16u) != 0u;
    float mean = 0.0;
    if (!rms) {
        float s = 0.0;
        for (uint c = t; c < p.cols; c += 64) s += xdata[xb + c];
        mean = reduce_sum(s) / float(p.cols);
    }
    float s2 = 0.0;
    for (uint c = t; c < p.cols; c += 64) {
        float d = xdata[xb + c] - mean;
        s2 += d * d;
    }
    float inv = inversesqrt(reduce_sum(s2) / float(p.cols) + p.eps);
    for (uint c = t; c < p.cols; c += 64) {
        float v = (xdata[xb + c] - mean) * inv;
        if ((p.flags & 1u) != 0u) v *= wdata[p.w_off + c];
        if ((p.flags & 2u) != 0u) v += bdata[p.b_off + c];
        if ((p.flags & 8u) != 0u) v *= 1.0 + scdata[p.sc_off + c];
        if ((p.flags & 4u) != 0u) v += shdata[p.sh_off + c];
        ydata[yb + c] = v;
    }
}
