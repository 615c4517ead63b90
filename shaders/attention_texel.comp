#version 450
// attention.comp's result (same push block, same limits) for CPU devices (lavapipe), with q, k and
// v as rgba32f texel buffers: a texel fetch is one SIMD gather there, a storage load a per-lane
// loop (perf-notes.md). head_dim, strides and offsets are multiples of 4.
//
// Flash-style, two small matmuls per block of TK keys. Each invocation owns TQ queries; the 8
// invocations of a workgroup read the same keys and values (one address in every lane), so only
// the query fetches are real gathers, as in matmul_texel.comp. For each key block: scores
// s[TQ][TK] = q·kᵀ over the whole head, online-softmax update of the running max m and sum l, then
// acc[TQ][chunk] = acc·corr + p·v over one CHUNK of the head dim (workgroup z picks the chunk; a
// head wider than CHUNK recomputes the scores per chunk). Masked keys (causal, past the end) get
// weight exactly 0. Measured on lavapipe, 1024 tokens × 4 heads × 128 (GFLOP/s): TQ×TK 6×32 48,
// 8×32 49, 4×64 42, 8×16 44, 12×16 38, 4×32 38; the storage-buffer kernel 1.7.
#include "common.glsl"
#define TQ 6
#define TK 32
layout(local_size_x = 8) in;
layout(constant_id = 0) const uint CHUNK = 128;
#define C4 (CHUNK / 4)
layout(set = 0, binding = 0) uniform samplerBuffer q4;
layout(set = 0, binding = 1) uniform samplerBuffer k4;
layout(set = 0, binding = 2) uniform samplerBuffer v4;
layout(set = 0, binding = 3) readonly buffer Bias { float biasdata[]; };
layout(set = 0, binding = 4) writeonly buffer O { vec4 o4[]; };
layout(push_constant) uniform Push {
    uint mq, mk, heads, head_dim;
    uint q_off, q_stride, k_off, k_stride, v_off, v_stride, o_off, o_stride, bias_off;
    uint has_bias, causal;
    float scale;
} p;

void main() {
    uint head = gl_WorkGroupID.y, d0 = gl_WorkGroupID.z * C4;
    uint i0 = gl_GlobalInvocationID.x * TQ;
    if (i0 >= p.mq) return;
    uint D4 = p.head_dim / 4, hd = head * D4, dn = min(C4, D4 - d0);
    int  qb[TQ];
    uint ends[TQ]; // keys [0, ends[t]) are visible to query t
    [[unroll]] for (int t = 0; t < TQ; t++) {
        uint i = min(i0 + t, p.mq - 1);
        qb[t] = int((p.q_off + i * p.q_stride) / 4 + hd);
        ends[t] = p.causal != 0u ? min(i + 1, p.mk) : p.mk;
    }
    // The workgroup's key range, the same in every lane so that key fetches stay uniform.
    uint last_query = min((gl_WorkGroupID.x + 1) * gl_WorkGroupSize.x * TQ, p.mq) - 1;
    uint last = p.causal != 0u ? min(last_query + 1, p.mk) : p.mk;
    vec4  acc[TQ][C4];
    float m[TQ], l[TQ];
    [[unroll]] for (int t = 0; t < TQ; t++) {
        m[t] = -3.4e38, l[t] = 0.0;
        for (uint d = 0; d < C4; d++) acc[t][d] = vec4(0.0);
    }
    for (uint j0 = 0; j0 < last; j0 += TK) {
        int kb[TK];
        [[unroll]] for (int u = 0; u < TK; u++) kb[u] = int((p.k_off + min(j0 + u, p.mk - 1) * p.k_stride) / 4 + hd);
        float s[TQ][TK];
        [[unroll]] for (int t = 0; t < TQ; t++) [[unroll]] for (int u = 0; u < TK; u++) s[t][u] = 0.0;
        for (int e = 0; e < int(D4); e++) {
            vec4 qv[TQ], kv[TK];
            [[unroll]] for (int t = 0; t < TQ; t++) qv[t] = texelFetch(q4, qb[t] + e);
            [[unroll]] for (int u = 0; u < TK; u++) kv[u] = texelFetch(k4, kb[u] + e);
            [[unroll]] for (int t = 0; t < TQ; t++)
                [[unroll]] for (int u = 0; u < TK; u++)
                    [[unroll]] for (int c = 0; c < 4; c++) s[t][u] = fma(qv[t][c], kv[u][c], s[t][u]);
        }
        float corr[TQ];
        [[unroll]] for (int t = 0; t < TQ; t++) {
            uint  i = min(i0 + t, p.mq - 1);
            float m_new = m[t];
            [[unroll]] for (int u = 0; u < TK; u++) {
                s[t][u] *= p.scale;
                if (p.has_bias != 0u && j0 + u < ends[t])
                    s[t][u] += biasdata[p.bias_off + (head * p.mq + i) * p.mk + j0 + u];
                if (j0 + u < ends[t]) m_new = max(m_new, s[t][u]);
            }
            float sum = 0.0;
            [[unroll]] for (int u = 0; u < TK; u++) {
                s[t][u] = j0 + u < ends[t] ? exp(s[t][u] - m_new) : 0.0;
                sum += s[t][u];
            }
            corr[t] = exp(m[t] - m_new);
            l[t] = l[t] * corr[t] + sum;
            m[t] = m_new;
        }
        int vb[TK];
        [[unroll]] for (int u = 0; u < TK; u++) vb[u] = int((p.v_off + min(j0 + u, p.mk - 1) * p.v_stride) / 4 + hd + d0);
        for (uint d = 0; d < dn; d++) {
            vec4 a[TQ];
            [[unroll]] for (int t = 0; t < TQ; t++) a[t] = acc[t][d] * corr[t];
            [[unroll]] for (int u = 0; u < TK; u++) {
                vec4 vv = texelFetch(v4, vb[u] + int(d));
                [[unroll]] for (int t = 0; t < TQ; t++) a[t] = fma(vec4(s[t][u]), vv, a[t]);
            }
            [[unroll]] for (int t = 0; t < TQ; t++) acc[t][d] = a[t];
        }
    }
    [[unroll]] for (int t = 0; t < TQ; t++) {
        uint i = i0 + t;
        if (i >= p.mq) break;
        float inv = l[t] > 0.0 ? 1.0 / l[t] : 0.0;
        uint  ob = (p.o_off + i * p.o_stride) / 4 + hd + d0;
        for (uint d = 0; d < dn; d++) o4[ob + d] = acc[t][d] * inv;
    }
}
