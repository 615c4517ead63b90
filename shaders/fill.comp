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
    uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    if (i < p.n) dst[i] = p.value;
}
