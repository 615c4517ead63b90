// Shared by every kernel: extensions and small inline helpers only (style.md §4.7).
#extension GL_EXT_control_flow_attributes : require

// Weights of any float dtype are bound as 32-bit words and widened here, so no kernel needs 16-bit
// storage features: W_F16 (two halves per word, element 0 in the low half), W_BF16 (the top 16 bits
// of an f32), else f32. LOAD_W(words, i) reads element i of a `uint words[]` buffer.
float widen_f16(uint word, uint i) {
    vec2 pair = unpackHalf2x16(word);
    return (i & 1u) == 0u ? pair.x : pair.y;
}
float widen_bf16(uint word, uint i) {
    return uintBitsToFloat((i & 1u) == 0u ? word << 16 : word & 0xffff0000u);
}
#if defined(W_F16)
#define LOAD_W(words, i) widen_f16(words[(i) >> 1], (i))
#elif defined(W_BF16)
#define LOAD_W(words, i) widen_bf16(words[(i) >> 1], (i))
#else
#define LOAD_W(words, i) uintBitsToFloat(words[(i)])
#endif

// Activations (op_act in models/ops.h): 0 none, 1 gelu-tanh, 2 gelu-erf, 3 quick-gelu, 4 silu.
float erf_approx(float x) {
    // Abramowitz–Stegun 7.1.26 is too coarse; use a 1e-7 rational approximation (W. J. Cody style)
    float t = 1.0 / (1.0 + 0.5 * abs(x));
    float y = 1.0 - t * exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
              t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
              t * (-0.82215223 + t * 0.17087277)))))))));
    return x >= 0.0 ? y : -y;
}

float apply_act(float x, uint act) {
    if (act == 1u) {
        float inner = 0.7978845608028654 * (x + 0.044715 * x * x * x);
        return 0.5 * x * (1.0 + tanh(clamp(inner, -15.0, 15.0)));
    }
    if (act == 2u) return 0.5 * x * (1.0 + erf_approx(x * 0.7071067811865476));
    if (act == 3u) return x / (1.0 + exp(-1.702 * x));
    if (act == 4u) return x / (1.0 + exp(-x));
    return x;
}

// Linear invocation index over a 2-D dispatch (grids wider than 65535 groups wrap into y).
uint linear_id() {
    return gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x + gl_GlobalInvocationID.x;
}
