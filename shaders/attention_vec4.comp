#version 450
// attention.comp with four head-dim elements per load (head_dim, strides and offsets multiples of
// 4, the case of every real model): q, k, v and the accumulator are vec4s. On lavapipe every
// storage load is a per-lane loop, so this quarters the loads. Same algorithm, same limits.
#include "common.glsl"
layout(local_size_x = 32) in;
layout(constant_id = 0) const uint CHUNK = 128;
layout(set = 0, binding = 0) readonly buffer Q { vec4 q4[]; };
layout(set = 0, binding = 1) readonly buffer K { vec4 k4[]; };
layout(set = 0, binding = 2) readonly buffer V { vec4 v4[]; };
layout(set = 0, binding = 3) readonly buffer Bias { float biasdata[]; };
layout(set = 0, binding = 4) writeonly buffer O { vec4 o4[]; };
layout(push_constant) uniform Push {
    uint mq, mk, heads, head_dim;
    uint q_off, q_stride, k_off, k_stride, v_off, v_stride, o_off, o_stride, bias_off;
    uint has_bias, causal;
    float scale;
} p;
#define C4 (CHUNK / 4)
void main() {
    uint i = gl_GlobalInvocationID.x, head = gl_WorkGroupID.y, d0 = gl_WorkGroupID.z * C4;
    if (i >= p.mq) return;
    uint D4 = p.head_dim / 4, hd = head * D4, qb = (p.q_off + i * p.q_stride) / 4 + hd;
    uint chunks = (D4 + C4 - 1) / C4;
    vec4 acc[C4];
    [[unroll]] for (uint d = 0; d < C4; d++) acc[d] = vec4(0.0);
    float m = -3.4e38, l = 0.0;
    uint  last = p.causal != 0u ? min(i + 1, p.mk) : p.mk;
    for (uint j = 0; j < last; j++) {
        uint kb = (p.k_off + j * p.k_stride) / 4 + hd;
        vec4 s4 = vec4(0.0);
        for (uint c = 0; c < chunks; c++)
            [[unroll]] for (uint d = 0; d < C4; d++) {
                uint e = c * C4 + d;
                if (e < D4) s4 = fma(q4[qb + e], k4[kb + e], s4);
            }
        float s = ((s4.x + s4.y) + (s4.z + s4.w)) * p.scale;
        if (p.has_bias != 0u) s += biasdata[p.bias_off + (head * p.mq + i) * p.mk + j];
        float m_new = max(m, s);
        float corr = exp(m - m_new), w = exp(s - m_new);
        l = l * corr + w;
        uint vb = (p.v_off + j * p.v_stride) / 4 + hd + d0;
        [[unroll]] for (uint d = 0; d < C4; d++)
            if (d0 + d < D4) acc[d] = fma(acc[d], vec4(corr), w * v4[vb + d]);
        m = m_new;
    }
    float inv = l > 0.0 ? 1.0 / l : 0.0;
    uint  ob = (p.o_off + i * p.o_stride) / 4 + hd + d0;
    [[unroll]] for (uint d = 0; d < C4; d++)
        if (d0 + d < D4) o4[ob + d] = acc[d] * inv;
}
