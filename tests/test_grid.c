/* LoRWeB grid and Kontext geometry: the preferred-resolution choice and output size against values
 * computed with diffusers' rules in Python (including an exact tie), the grid against Pillow 9.4
 * (tools/pil-reference.py), exact quadrants for odd and non-square sizes, the Kontext tensor. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grid.h"
#include "harness.h"
#include "latent_tokens.h"
#include "resize.h"

/* LoRWeB grid of a 5×3 a, 7×4 a′, 2×9 b (salts 1, 2, 4): 10×6 RGB. */
static const char grid_10x6[] =
    "285d924d82b772a7dc97cc01bcf1267e98a081955b9cb347835266474f6983b8edb3e81de3184d13487d4378"
    "ad6c72485e5b9f779c7e9180758d686dde1348194e835489be8fc4f9caff34519592b8845e8282885a64a030"
    "73adad8654ac895e9b93768a9c8e83a097ad8654ac895e9b93768a9c8e83a0975d97746697777d958194928b"
    "9d918e5d97746697777d958194928b9d918e659e916b9c927e929890889c96849c659e916b9c927e92989088"
    "9c96849c";

static void sizes(void) {
    static const int res[][4] = {
        {1000, 1000, 1024, 1024}, {4000, 3000, 1184, 880}, {3000, 4000, 880, 1184},
        {1920, 1080, 1392, 752},  {10, 1, 1568, 672},      {1, 10, 672, 1568},
        {64, 59, 1024, 1024}, /* exact tie with 1104×944: the smaller width */
        {59, 64, 944, 1104},      {2368, 1760, 1184, 880}};
    for (size_t i = 0; i < sizeof res / sizeof res[0]; i++) {
        int w, h;
        img_kontext_resolution(res[i][0], res[i][1], &w, &h);
        th_check(w == res[i][2] && h == res[i][3],
                 "preferred resolution of %d×%d: %d×%d (want %d×%d)", res[i][0], res[i][1], w, h,
                 res[i][2], res[i][3]);
    }
    static const int out[][4] = {{1024, 1024, 1024, 1024}, {2000, 1000, 1440, 720},
                                 {1000, 2000, 720, 1440},  {1184, 880, 1184, 880},
                                 {640, 480, 1168, 880},    {3, 7, 656, 1552}};
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++) {
        int w, h;
        img_kontext_output_size(out[i][0], out[i][1], 1024 * 1024, 16, &w, &h);
        th_check(w == out[i][2] && h == out[i][3], "output size of %d×%d: %d×%d (want %d×%d)",
                 out[i][0], out[i][1], w, h, out[i][2], out[i][3]);
    }
    int w, h; /* half to even: √(4·6.25) = 5 exactly; √(2.25·1) = 1.5 → 2, √(6.25) = 2.5 → 2 */
    img_kontext_output_size(9, 4, 1, 1, &w, &h);
    th_check(w == 2 && h == 1, "round(1.5) = 2, round(0.667) = 1: %d×%d", w, h);
    img_kontext_output_size(25, 4, 1, 1, &w, &h);
    th_check(w == 2 && h == 0, "round(2.5) = 2 (half to even), round(0.4) = 0: %d×%d", w, h);

    static const int quad[][8] = {/* w, h, q → x0, y0, qw, qh */
                                  {10, 6, 0, 0, 0, 5, 3},
                                  {10, 6, 3, 5, 3, 5, 3},
                                  {11, 7, 0, 0, 0, 5, 3},
                                  {11, 7, 1, 5, 0, 6, 3},
                                  {11, 7, 2, 0, 3, 5, 4},
                                  {11, 7, 3, 5, 3, 6, 4},
                                  {1184, 880, 3, 592, 440, 592, 440}};
    for (size_t i = 0; i < sizeof quad / sizeof quad[0]; i++) {
        int x0, y0, qw, qh;
        img_quadrant(quad[i][0], quad[i][1], quad[i][2], &x0, &y0, &qw, &qh);
        th_check(x0 == quad[i][3] && y0 == quad[i][4] && qw == quad[i][5] && qh == quad[i][6],
                 "quadrant %d of %d×%d: (%d, %d) %d×%d", quad[i][2], quad[i][0], quad[i][1], x0, y0,
                 qw, qh);
    }
}

static void grid(void) {
    struct lw_error err = {0};
    uint8_t        *a = th_pil_image(5, 3, 1), *ap = th_pil_image(7, 4, 2), *b = th_pil_image(2, 9, 4);
    uint8_t         got[10 * 6 * 3], want[10 * 6 * 3];
    th_check(strlen(grid_10x6) == 2 * sizeof want, "grid table size");
    for (size_t i = 0; i < sizeof want; i++) {
        unsigned v = 0;
        sscanf(grid_10x6 + 2 * i, "%2x", &v);
        want[i] = (uint8_t)v;
    }
    memset(got, 0xA5, sizeof got);
    th_check(img_grid_build(a, 5, 3, 15, ap, 7, 4, 21, b, 2, 9, 6, got, &err) == LW_OK, "grid: %s",
             err.message);
    size_t bad = 0;
    for (size_t i = 0; i < sizeof got; i++)
        bad += got[i] != want[i];
    th_check(bad == 0, "grid 10×6 equals Pillow's (%zu bytes differ)", bad);
    /* Every quadrant of the grid is exactly w × h; the b quadrants are equal; a is copied. */
    int x0, y0, qw, qh, ok = 1;
    img_quadrant(10, 6, 0, &x0, &y0, &qw, &qh);
    for (int y = 0; y < qh; y++)
        ok &= !memcmp(got + (size_t)y * 30, a + y * 15, 15);
    th_check(ok, "quadrant 0 is a, byte for byte");
    img_quadrant(10, 6, 2, &x0, &y0, &qw, &qh);
    for (int y = 0; y < qh; y++)
        ok &= !memcmp(got + (size_t)(y0 + y) * 30, got + (size_t)(y0 + y) * 30 + 15, 15);
    th_check(ok, "quadrants 2 and 3 are both b");
    /* Same sizes: copies; a padded stride. */
    uint8_t *wide = calloc(3 * 40, 1), same[10 * 6 * 3];
    for (int y = 0; y < 3; y++)
        memcpy(wide + y * 40, a + y * 15, 15);
    img_grid_build(wide, 5, 3, 40, a, 5, 3, 15, wide, 5, 3, 40, same, &err);
    ok = 1;
    for (int q = 0; q < 4; q++) {
        img_quadrant(10, 6, q, &x0, &y0, &qw, &qh);
        for (int y = 0; y < qh; y++)
            ok &= !memcmp(same + ((size_t)(y0 + y) * 10 + x0) * 3, a + y * 15, 15);
    }
    th_check(ok, "a′ and b of a's size are copied, strides honoured");
    th_check(img_grid_build(a, 0, 3, 15, ap, 7, 4, 21, b, 2, 9, 6, got, &err) == LW_ERR_ARGUMENT,
             "width 0 refused");

    /* Kontext tensor: LANCZOS to 7×5 then 2·(u/255) − 1, planar. */
    float  *chw = malloc(3 * 7 * 5 * sizeof *chw);
    uint8_t r[7 * 5 * 3];
    th_poison(chw, 3 * 7 * 5);
    th_check(img_kontext_pixels(want, 10, 6, 30, 3, 7, 5, chw, &err) == LW_OK, "kontext pixels");
    img_resize_u8(want, 10, 6, 30, 3, r, 7, 5, IMG_LANCZOS, &err);
    ok = 1;
    for (int c = 0; c < 3; c++)
        for (int p = 0; p < 35; p++)
            ok &= chw[c * 35 + p] == 2.0f * ((float)r[p * 3 + c] / 255.0f) - 1.0f;
    th_check(ok, "Kontext tensor = 2·(u8/255) − 1 of the LANCZOS resize, planar");
    const uint8_t ends[6] = {0, 255, 128, 0, 255, 128};
    float         e[6];
    img_kontext_pixels(ends, 2, 1, 6, 3, 2, 1, e, &err);
    th_check(e[0] == -1 && e[1] == -1 && e[2] == 1 && e[3] == 1 && fabsf(e[4] - 0.0039216f) < 1e-6f,
             "planar: 0 → −1, 255 → 1, 128 → 1/255");
    free(a), free(ap), free(b), free(wide), free(chw);
}

/* 2×2 packing: the spec's index formula at every position of an odd-sized token grid, and the
 * round trip. */
static void packing(void) {
    const int64_t z = 3, h = 6, w = 10;
    float         latent[3 * 6 * 10], tokens[3 * 6 * 10], back[3 * 6 * 10];
    for (int i = 0; i < z * h * w; i++) latent[i] = (float)i;
    latent_pack(latent, z, h, w, tokens);
    int bad = 0;
    for (int64_t c = 0; c < z; c++)
        for (int64_t y = 0; y < h; y++)
            for (int64_t x = 0; x < w; x++) {
                int64_t token = (y / 2) * (w / 2) + x / 2, feature = c * 4 + (y % 2) * 2 + x % 2;
                bad += tokens[token * 4 * z + feature] != latent[(c * h + y) * w + x];
            }
    th_check(bad == 0, "pack: %d values misplaced", bad);
    latent_unpack(tokens, z, h, w, back);
    th_check(memcmp(back, latent, sizeof latent) == 0, "unpack inverts pack");
}

int main(void) {
    sizes();
    grid();
    packing();
    return th_finish();
}
