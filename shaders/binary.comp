#version 450
// y = a + b or a ⊙ b over (rows, cols); b is a full tensor or a row vector broadcast (b_stride 0).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer A { float adata[]; };
layout(set = 0, binding = 1) readonly buffer Bv { float bdata[]; };
layout(set = 0, binding = 2) buffer Y { float ydata[]; };
layout(push_constant) uniform Push {
    uint rows, cols, a_off, a_stride, b_off, b_stride, y_off, y_stride, mul;
} p;
void main() {
    uint i = linear_id();
    if (i >= p.rows * p.cols) return;
    uint  r = i / p.cols, c = i % p.cols;
    float a = adata[p.a_off + r * p.a_stride + c], b = bdata[p.b_off + r * p.b_stride + c];
    ydata[p.y_off + r * p.y_stride + c] = p.mul != 0u ? a * b : a + b;
}
