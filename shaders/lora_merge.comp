#version 450
// A LoRWeB module merged into its Linear (flux_lorweb_merge): for o < out_rows, i < in_cols,
//   W[o][i] ← W[o][i] + Σ_r B[o][r] · c[r] · A[r][i],
// with W (out_rows, w_stride) f32/f16/bf16 (W_F16 / W_BF16; 16-bit results rounded to nearest even),
// A (rank, in_cols) and B (out_rows, rank) f32/f16/bf16 (AB_F16 / AB_BF16), c (rank) f32 holding
// the strength times the mixing weights. One invocation per 32-bit word of W's slice: a 16-bit
// word holds two elements and may straddle the slice's edges (elements outside it are rewritten
// unchanged), so no two invocations write the same word.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(set = 0, binding = 0) buffer Wm { uint wdata[]; };
layout(set = 0, binding = 1) readonly buffer Am { uint adata[]; };
layout(set = 0, binding = 2) readonly buffer Bm { uint bdata[]; };
layout(set = 0, binding = 3) readonly buffer Cv { float cdata[]; };
layout(push_constant) uniform Push {
    uint out_rows, in_cols, rank;
    uint w_off, w_stride; // elements of W's dtype
    uint a_off, b_off, c_off;
} p;
#if defined(AB_F16)
#define LOAD_AB(words, i) widen_f16(words[(i) >> 1], (i))
#elif defined(AB_BF16)
#define LOAD_AB(words, i) widen_bf16(words[(i) >> 1], (i))
#else
#define LOAD_AB(words, i) uintBitsToFloat(words[(i)])
#endif
#if defined(W_F16) || defined(W_BF16)
#define PER_WORD 2u
#else
#define PER_WORD 1u
#endif

float delta(uint o, uint i) {
    float acc = 0.0;
    uint  brow = p.b_off + o * p.rank;
    for (uint r = 0u; r < p.rank; r++)
        acc = fma(LOAD_AB(bdata, brow + r) * cdata[p.c_off + r], LOAD_AB(adata, p.a_off + r * p.in_cols + i), acc);
    return acc;
}

// The element at flat index e of W plus its delta when e lies in the slice.
float merged(uint e, float w) {
    if (e < p.w_off) return w;
    uint rel = e - p.w_off, o = rel / p.w_stride, i = rel % p.w_stride;
    return o < p.out_rows && i < p.in_cols ? w + delta(o, i) : w;
}

uint bf16_round(float x) { // nearest even; NaN and infinities keep their top half
    uint u = floatBitsToUint(x);
    if ((u & 0x7f800000u) == 0x7f800000u) return u >> 16;
    return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

void main() {
    uint first = p.w_off / PER_WORD;
    uint last = (p.w_off + (p.out_rows - 1u) * p.w_stride + p.in_cols - 1u) / PER_WORD;
    uint word = first + linear_id();
    if (word > last) return;
#if defined(W_F16)
    vec2 pair = unpackHalf2x16(wdata[word]);
    wdata[word] = packHalf2x16(vec2(merged(2u * word, pair.x), merged(2u * word + 1u, pair.y)));
#elif defined(W_BF16)
    uint  bits = wdata[word];
    float lo = merged(2u * word, uintBitsToFloat(bits << 16));
    float hi = merged(2u * word + 1u, uintBitsToFloat(bits & 0xffff0000u));
    wdata[word] = bf16_round(lo) | (bf16_round(hi) << 16);
#else
    wdata[word] = floatBitsToUint(merged(word, uintBitsToFloat(wdata[word])));
#endif
}
