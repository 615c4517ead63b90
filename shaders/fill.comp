#version 450
// Fills `n` 32-bit words of `dst` with `value`: y[i] = value.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(set = 0, binding = 0) writeonly buffer Dst { uint dst[]; };
layout(push_constant) uniform Push {
    uint n;
    uint value;
} p;
void main() {
    uint i = linear_id();
    if (i < p.n) dst[i] = p.value;
}
