#version 450
// y[o, oy, ox] (+)= b[o] + Σ_c Σ_ky Σ_kx w[o, c, ky, kx] · x[c, oy·s − pt + ky, ox·s − pl + kx],
// zero padding (top, left, bottom, right given by the output size); weights f32/f16/bf16 by -D.
// One invocation per output element.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer X { float xdata[]; };
layout(set = 0, binding = 1) readonly buffer W { uint wdata[]; };
layout(set = 0, binding = 2) readonly buffer B { float bdata[]; };
layout(set = 0, binding = 3) buffer Y { float ydata[]; };
layout(push_constant) uniform Push {
    uint c_in, h, w, c_out, ho, wo, kh, kw;
    uint stride, pad_top, pad_left;
    uint x_off, w_off, b_off, y_off;
    uint has_bias, accumulate;
} p;
void main() {
    uint i = linear_id();
    if (i >= p.c_out * p.ho * p.wo) return;
    uint  o = i / (p.ho * p.wo), oy = (i / p.wo) % p.ho, ox = i % p.wo;
    float acc = p.has_bias != 0u ? bdata[p.b_off + o] : 0.0;
    int   y0 = int(oy * p.stride) - int(p.pad_top), x0 = int(ox * p.stride) - int(p.pad_left);
    for (uint c = 0; c < p.c_in; c++) {
        uint wb = p.w_off + (o * p.c_in + c) * p.kh * p.kw;
        uint xb = p.x_off + c * p.h * p.w;
        for (uint ky = 0; ky < p.kh; ky++) {
            int y = y0 + int(ky);
            if (y < 0 || y >= int(p.h)) continue;
            for (uint kx = 0; kx < p.kw; kx++) {
                int x = x0 + int(kx);
                if (x < 0 || x >= int(p.w)) continue;
                acc = fma(LOAD_W(wdata, wb + ky * p.kw + kx), xdata[xb + uint(y) * p.w + uint(x)], acc);
            }
        }
    }
    uint at = p.y_off + i;
    ydata[at] = p.accumulate != 0u ? ydata[at] + acc : acc;
}
