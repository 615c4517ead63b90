#version 450
// Row-wise softmax (max-subtracted), one workgroup per row.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer X { float xdata[]; };
layout(set = 0, binding = 1) buffer Y { float ydata[]; };
layout(push_constant) uniform Push {
    uint rows, cols, x_off, x_stride, y_off, y_stride;
} p;
shared float partial[64];
void main() {
    uint row = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    if (row >= p.rows) return;
    uint  t = gl_LocalInvocationID.x, xb = p.x_off + row * p.x_stride, yb = p.y_off + row * p.y_stride;
    float m = -3.4e38;
    for (uint c = t; c < p.cols; c += 64) m = max(m, xdata[xb + c]);
    partial[t] = m;
    barrier();
    for (uint s = 32; s > 0; s >>= 1) {
        if (t < s) partial[t] = max(partial[t], partial[t + s]);
        barrier();
    }
    m = partial[0];
    barrier();
    float sum = 0.0;
    for (uint c = t; c < p.cols; c += 64) sum += exp(xdata[xb + c] - m);
    partial[t] = sum;
    barrier();
    for (uint s = 32; s > 0; s >>= 1) {
        if (t < s) partial[t] += partial[t + s];
        barrier();
    }
    float inv = 1.0 / partial[0];
    for (uint c = t; c < p.cols; c += 64) ydata[yb + c] = exp(xdata[xb + c] - m) * inv;
}
