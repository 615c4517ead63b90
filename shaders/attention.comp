#version 450
// out = softmax(scale·QKᵀ + bias [+ causal]) · V per head, one invocation per (query, head, output
// chunk), keys streamed with an online softmax (running max and sum, Milakov & Gimelshein 2018) so
// memory stays O(tokens). An invocation owns CHUNK (specialisation constant: 32, 64 or 128) output
// dims, kept in registers; heads wider than CHUNK use several chunks (grid z), each recomputing the
// scores. Every head-dim loop has the constant bound CHUNK and is unrolled: lavapipe's gallivm caps a
// loop nest at 65,535 iterations per invocation, so only the key loop and the loop over score chunks
// are real loops (keys × (1 + head_dim / CHUNK) must stay below that on lavapipe).
#include "common.glsl"
layout(local_size_x = 32) in;
layout(constant_id = 0) const uint CHUNK = 128;
layout(set = 0, binding = 0) readonly buffer Q { float qdata[]; };
layout(set = 0, binding = 1) readonly buffer K { float kdata[]; };
layout(set = 0, binding = 2) readonly buffer V { float vdata[]; };
layout(set = 0, binding = 3) readonly buffer Bias { float biasdata[]; };
layout(set = 0, binding = 4) writeonly buffer O { float odata[]; };
layout(push_constant) uniform Push {
    uint mq, mk, heads, head_dim;
    uint q_off, q_stride, k_off, k_stride, v_off, v_stride, o_off, o_stride, bias_off;
    uint has_bias, causal;
    float scale;
} p;
void main() {
    uint i = gl_GlobalInvocationID.x, head = gl_WorkGroupID.y, d0 = gl_WorkGroupID.z * CHUNK;
    if (i >= p.mq) return;
    uint  D = p.head_dim, hd = head * D, qb = p.q_off + i * p.q_stride + hd;
    uint  chunks = (D + CHUNK - 1) / CHUNK;
    float acc[CHUNK];
    [[unroll]] for (uint d = 0; d < CHUNK; d++) acc[d] = 0.0;
    float m = -3.4e38, l = 0.0;
    uint  last = p.causal != 0u ? min(i + 1, p.mk) : p.mk;
    for (uint j = 0; j < last; j++) {
        uint  kb = p.k_off + j * p.k_stride + hd;
        float s = 0.0;
        for (uint c = 0; c < chunks; c++)
            [[unroll]] for (uint d = 0; d < CHUNK; d++) {
                uint e = c * CHUNK + d;
                if (e < D) s = fma(qdata[qb + e], kdata[kb + e], s);
            }
        s *= p.scale;
        if (p.has_bias != 0u) s += biasdata[p.bias_off + (head * p.mq + i) * p.mk + j];
        float m_new = max(m, s);
        float corr = exp(m - m_new), w = exp(s - m_new);
        l = l * corr + w;
        uint vb = p.v_off + j * p.v_stride + hd + d0;
        [[unroll]] for (uint d = 0; d < CHUNK; d++)
            if (d0 + d < D) acc[d] = fma(acc[d], corr, w * vdata[vb + d]);
        m = m_new;
    }
    float inv = l > 0.0 ? 1.0 / l : 0.0;
    uint  ob = p.o_off + i * p.o_stride + hd + d0;
    [[unroll]] for (uint d = 0; d < CHUNK; d++)
        if (d0 + d < D) odata[ob + d] = acc[d] * inv;
}
