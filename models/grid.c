/* LoRWeB grid and Kontext image geometry (grid.h): LoRWeB inference.py's grid, diffusers'
 * FluxKontextPipeline size rules (PREFERRED_KONTEXT_RESOLUTIONS, max_area) and VaeImageProcessor
 * normalisation. */
#include "grid.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "resize.h"

static const int preferred[17][2] = {
    {672, 1568}, {688, 1504}, {720, 1456},  {752, 1392}, {800, 1328}, {832, 1248},
    {880, 1184}, {944, 1104}, {1024, 1024}, {1104, 944}, {1184, 880}, {1248, 832},
    {1328, 800}, {1392, 752}, {1456, 720},  {1504, 688}, {1568, 672}};

void img_kontext_resolution(int w, int h, int *out_w, int *out_h) {
    double aspect = (double)w / h, best = INFINITY;
    int    pick = 8;
    for (int i = 0; i < 17; i++) { /* strict <: on a tie the earlier (narrower) entry stays */
        double d = fabs(aspect - (double)preferred[i][0] / preferred[i][1]);
        if (d < best) best = d, pick = i;
    }
    *out_w = preferred[pick][0];
    *out_h = preferred[pick][1];
}

void img_kontext_output_size(int w, int h, int64_t max_area, int multiple, int *out_w, int *out_h) {
    double aspect = (double)w / h;
    /* Python: round((max_area * a) ** 0.5); rint rounds half to even in the default mode */
    int64_t ow = (int64_t)rint(sqrt((double)max_area * aspect));
    int64_t oh = (int64_t)rint(sqrt((double)max_area / aspect));
    if (multiple > 1) ow = ow / multiple * multiple, oh = oh / multiple * multiple;
    *out_w = (int)ow;
    *out_h = (int)oh;
}

static void paste(uint8_t *grid, int gw, int x0, int y0, const uint8_t *src, int w, int h,
                  size_t stride) {
    for (int y = 0; y < h; y++)
        memcpy(grid + ((size_t)(y0 + y) * gw + x0) * 3, src + (size_t)y * stride, (size_t)w * 3);
}

enum lw_status img_grid_build(const uint8_t *a, int aw, int ah, size_t a_stride, const uint8_t *ap,
                              int apw, int aph, size_t ap_stride, const uint8_t *b, int bw, int bh,
                              size_t b_stride, uint8_t *grid, struct lw_error *err) {
    if (aw < 1 || ah < 1 || apw < 1 || aph < 1 || bw < 1 || bh < 1)
        return lw_error_set(err, LW_ERR_ARGUMENT,
                            "grid of a %d×%d, a′ %d×%d, b %d×%d: sizes must be ≥ 1", aw, ah, apw,
                            aph, bw, bh);
    uint8_t       *tmp = malloc((size_t)aw * ah * 3); /* (ah, aw, 3) a resized image */
    enum lw_status status =
        tmp ? LW_OK : lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    int gw = 2 * aw;
    if (status == LW_OK) paste(grid, gw, 0, 0, a, aw, ah, a_stride);
    if (status == LW_OK && (apw != aw || aph != ah))
        status = img_resize_u8(ap, apw, aph, ap_stride, 3, tmp, aw, ah, IMG_BICUBIC, err);
    if (status == LW_OK)
        paste(grid, gw, aw, 0, apw != aw || aph != ah ? tmp : ap, aw, ah,
              apw != aw || aph != ah ? (size_t)aw * 3 : ap_stride);
    if (status == LW_OK && (bw != aw || bh != ah))
        status = img_resize_u8(b, bw, bh, b_stride, 3, tmp, aw, ah, IMG_BICUBIC, err);
    if (status == LW_OK) {
        const uint8_t *bq = bw != aw || bh != ah ? tmp : b;
        size_t         bs = bw != aw || bh != ah ? (size_t)aw * 3 : b_stride;
        paste(grid, gw, 0, ah, bq, aw, ah, bs);
        paste(grid, gw, aw, ah, bq, aw, ah, bs);
    }
    free(tmp);
    return status;
}

void img_quadrant(int w, int h, int q, int *x0, int *y0, int *qw, int *qh) {
    *x0 = q % 2 ? w / 2 : 0;
    *y0 = q / 2 ? h / 2 : 0;
    *qw = q % 2 ? w - w / 2 : w / 2;
    *qh = q / 2 ? h - h / 2 : h / 2;
}

enum lw_status img_kontext_pixels(const uint8_t *rgb, int w, int h, size_t stride, int channels,
                                  int out_w, int out_h, float *chw, struct lw_error *err) {
    if (channels != 3 && channels != 4)
        return lw_error_set(err, LW_ERR_ARGUMENT, "Kontext image with %d channels (3 or 4)",
                            channels);
    uint8_t *r =
        malloc((size_t)out_w * out_h * channels > 0 ? (size_t)out_w * out_h * channels : 1);
    if (!r) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    enum lw_status status =
        img_resize_u8(rgb, w, h, stride, channels, r, out_w, out_h, IMG_LANCZOS, err);
    for (int c = 0; status == LW_OK && c < 3; c++)
        for (size_t p = 0; p < (size_t)out_w * out_h; p++)
            chw[(size_t)c * out_w * out_h + p] =
                2.0f * ((float)r[p * channels + c] / 255.0f) - 1.0f;
    free(r);
    return status;
}
