#version 450
// Data movement between layouts, one invocation per output element:
//   op 0  2-D transpose: y (cols, rows) ← x (rows, cols), strides given ((C, H·W) ↔ (H·W, C))
//   op 1  nearest 2× upsample: y (C, 2H, 2W) ← x (C, H, W)
//   op 2  FLUX 2×2 pack: y (H/2·W/2, 4C) ← x (C, H, W), feature c·4 + dy·2 + dx
//   op 3  unpack, the inverse of op 2
#include "common.glsl"
layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer X { float xdata[]; };
layout(set = 0, binding = 1) writeonly buffer Y { float ydata[]; };
layout(push_constant) uniform Push {
    uint op, a, b, c; // transpose: rows, cols; others: C, H, W of the (C, H, W) side
    uint x_off, x_stride, y_off, y_stride;
} p;
void main() {
    uint i = linear_id();
    if (p.op == 0u) {
        if (i >= p.a * p.b) return;
        uint r = i % p.a, col = i / p.a; // y row = col, y column = r
        ydata[p.y_off + col * p.y_stride + r] = xdata[p.x_off + r * p.x_stride + col];
    } else if (p.op == 1u) {
        uint C = p.a, H = p.b, W = p.c;
        if (i >= C * 4 * H * W) return;
        uint ch = i / (4 * H * W), y = (i / (2 * W)) % (2 * H), x = i % (2 * W);
        ydata[p.y_off + i] = xdata[p.x_off + ch * H * W + (y / 2) * W + x / 2];
    } else {
        uint C = p.a, H = p.b, W = p.c;
        if (i >= C * H * W) return;
        // i walks the token layout: token (ty, tx), feature f = ch·4 + dy·2 + dx
        uint f = i % (4 * C), token = i / (4 * C);
        uint ty = token / (W / 2), tx = token % (W / 2);
        uint ch = f / 4, dy = (f / 2) % 2, dx = f % 2;
        uint spatial = ch * H * W + (2 * ty + dy) * W + 2 * tx + dx;
        if (p.op == 2u) ydata[p.y_off + i] = xdata[p.x_off + spatial];
        else ydata[p.y_off + spatial] = xdata[p.x_off + i];
    }
}
