#version 450
// y = act(x) over a 2-D (rows, cols) region with row strides (act 0 is a copy).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer X { float xdata[]; };
layout(set = 0, binding = 1) buffer Y { float ydata[]; };
layout(push_constant) uniform Push {
    uint rows, cols, x_off, x_stride, y_off, y_stride, act;
} p;
void main() {
    uint i = linear_id();
    if (i >= p.rows * p.cols) return;
    uint r = i / p.cols, c = i % p.cols;
    ydata[p.y_off + r * p.y_stride + c] = apply_act(xdata[p.x_off + r * p.x_stride + c], p.act);
}
