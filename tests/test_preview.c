/* Progress previews (preview.h): on an image that is exactly a linear function of its latent, the
 * fitted map recovers it and the render reproduces the image's colours; odd sizes, f = 8 and 1. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "latent_tokens.h"
#include "preview.h"

static void check_case(struct th_rng *rng, int64_t z, int64_t lh, int64_t lw, int64_t f) {
    float   w[3][PREVIEW_MAX_CHANNELS + 1];
    int64_t ih = lh * f, iw = lw * f;
    float  *latent = malloc((size_t)(z * lh * lw) * sizeof *latent), *image = malloc((size_t)(3 * ih * iw) * sizeof *image);
    float  *tokens = malloc((size_t)(z * lh * lw) * sizeof *tokens), *rgba = malloc((size_t)(lh * lw * 4) * sizeof *rgba);
    for (int c = 0; c < 3; c++)
        for (int64_t k = 0; k <= z; k++) w[c][k] = th_rng_uniform(rng, -0.15f, 0.15f);
    for (int64_t i = 0; i < z * lh * lw; i++) latent[i] = th_rng_normal(rng);
    for (int c = 0; c < 3; c++) /* each latent pixel's f×f block has the linear colour */
        for (int64_t y = 0; y < ih; y++)
            for (int64_t x = 0; x < iw; x++) {
                float v = w[c][z];
                for (int64_t k = 0; k < z; k++) v += w[c][k] * latent[(k * lh + y / f) * lw + x / f];
                image[(c * ih + y) * iw + x] = v;
            }
    struct preview_map map;
    struct lw_error    err = {0};
    th_check(preview_fit(latent, z, lh, lw, image, f, &map, &err) == LW_OK, "fit: %s", err.message);
    double worst = 0;
    for (int c = 0; c < 3; c++)
        for (int64_t k = 0; k <= z; k++) worst = fmax(worst, fabs(map.weight[c][k] - w[c][k]));
    th_check(worst < 1e-3, "z %lld, %lld×%lld, f %lld: map recovered (max error %.2g)", (long long)z,
             (long long)lh, (long long)lw, (long long)f, worst);
    latent_pack(latent, z, lh, lw, tokens);
    preview_render(&map, tokens, lh, lw, 0, 0, (int)lw, (int)lh, rgba);
    double bad = 0;
    for (int64_t y = 0; y < lh; y++)
        for (int64_t x = 0; x < lw; x++)
            for (int c = 0; c < 3; c++) {
                float want = (image[(c * ih + y * f) * iw + x * f] + 1) / 2;
                want = want < 0 ? 0 : want > 1 ? 1 : want;
                bad = fmax(bad, fabs(rgba[(y * lw + x) * 4 + c] - want));
            }
    th_check(bad < 1e-3, "render matches the image (max error %.2g)", bad);
    free(latent), free(image), free(tokens), free(rgba);
}

int main(void) {
    struct th_rng rng;
    th_rng_seed(&rng, 31);
    printf("seed 31\n");
    check_case(&rng, 16, 6, 10, 8);
    check_case(&rng, 16, 14, 2, 1);
    check_case(&rng, 4, 4, 2, 2);
    struct preview_map map;
    struct lw_error    err = {0};
    float              one = 0;
    th_check(preview_fit(&one, 65, 1, 1, &one, 1, &map, &err) == LW_ERR_ARGUMENT, "too many channels refused");
    return th_finish();
}
