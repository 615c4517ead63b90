#version 450
// Multiplies a batch of 2-D spectra (interleaved complex, x fastest, VkFFT's forward layout) by the
// Gaussian high-pass 1 − exp(−f² / (2σ²)), f the radial frequency in cycles per pixel
// (f_x = min(k, n − k) / n). Used for the detail transfer (models/detail.c).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(set = 0, binding = 0) buffer Data { vec2 bins[]; };
layout(push_constant) uniform Push {
    uint nx, ny, count, offset; // count: bins over the whole batch
    float inv_two_sigma2;
} p;
void main() {
    uint i = linear_id();
    if (i >= p.count) return;
    uint  kx = i % p.nx, ky = (i / p.nx) % p.ny;
    float fx = float(min(kx, p.nx - kx)) / float(p.nx), fy = float(min(ky, p.ny - ky)) / float(p.ny);
    float keep = 1.0 - exp(-(fx * fx + fy * fy) * p.inv_two_sigma2);
    bins[p.offset + i] *= keep;
}
