/* The autoencoder, CLIP vision, CLIP text and T5 against the shared fixtures (upstream reference
 * outputs on tiny random models), with component-io.md's tolerances: relative L2 ≤ 5e-3 for the
 * autoencoder and ≤ 3e-3 for the encoders. Without ../shared/fixtures the fixture part is skipped
 * (said so), and the T5 bucket self-check still runs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clip.h"
#include "compute.h"
#include "harness.h"
#include "t5.h"
#include "vae.h"
#include "weights.h"

static char path_buf[8][4096];
static const char *fixture(int slot, const char *name) {
    snprintf(path_buf[slot], sizeof path_buf[slot], "%s/%s", th_fixtures_dir(), name);
    return path_buf[slot];
}

/* Reads a whole tensor from a fixture file as f32 (malloc'd), checking its element count. */
static float *read_tensor(const char *path, const char *name, uint64_t *count) {
    struct wt_file *f = NULL;
    struct lw_error err = {0};
    if (wt_open(path, &f, &err) != LW_OK) {
        th_check(false, "open %s: %s", path, err.message);
        return NULL;
    }
    const struct wt_tensor *t = wt_find(f, name);
    float                  *out = NULL;
    if (th_check(t != NULL, "%s: tensor %s present", path, name)) {
        uint64_t n = 1;
        for (int i = 0; i < t->ndim; i++) n *= (uint64_t)t->shape[i];
        out = malloc(n * sizeof *out);
        if (wt_read_f32(t, out, n, &err) != LW_OK) {
            th_check(false, "read %s: %s", name, err.message);
            free(out);
            out = NULL;
        }
        *count = n;
    }
    wt_close(f);
    return out;
}

static void compare(const char *what, const float *got, const float *want, uint64_t n, double tol) {
    double e = th_rel_l2(got, want, n);
    printf("%-28s rel L2 %.3e (limit %.0e)\n", what, e, tol);
    th_check(e <= tol, "%s: rel L2 %.3e > %.0e", what, e, tol);
}

static void test_ae(struct cmp_device *dev) {
    struct vae_model *m = NULL;
    struct lw_error   err = {0};
    if (!th_check(vae_load(dev, fixture(0, "ae_weights.safetensors"), VAE_BOTH, &m, &err) == LW_OK,
                  "ae load: %s", err.message))
        return;
    uint64_t n_img, n_lat, n_enc, n_dec;
    float   *image = read_tensor(fixture(1, "ae_in.safetensors"), "image", &n_img);
    float   *latent = read_tensor(fixture(1, "ae_in.safetensors"), "latent", &n_lat);
    float   *enc_want = read_tensor(fixture(2, "ae_out.safetensors"), "encoded", &n_enc);
    float   *dec_want = read_tensor(fixture(2, "ae_out.safetensors"), "decoded", &n_dec);
    int64_t  f = vae_downsampling(m);
    th_check(f == 4, "fixture autoencoder downsamples by 4 (got %lld)", (long long)f);
    if (image && enc_want && latent && dec_want) {
        float *got = malloc(n_enc * 4), *img = malloc(n_dec * 4);
        th_poison(got, n_enc);
        th_check(vae_encode(m, image, 40, 56, got, &err) == LW_OK, "encode: %s", err.message);
        compare("ae-encode", got, enc_want, n_enc, 5e-3);
        th_poison(img, n_dec);
        th_check(vae_decode(m, latent, 6, 9, img, &err) == LW_OK, "decode: %s", err.message);
        compare("ae-decode", img, dec_want, n_dec, 5e-3);
        th_check(vae_encode(m, image, 42, 56, got, &err) == LW_ERR_ARGUMENT,
                 "a size that is no multiple of f is refused: %s", err.message);
        free(got);
        free(img);
    }
    free(image), free(latent), free(enc_want), free(dec_want);
    vae_destroy(m);
}

/* An image whose activations exceed the storage range one kernel can bind (capped at 64 KiB here)
 * is refused with the bytes it needs and the range, not run on truncated bindings. */
static void test_ae_too_large(void) {
    struct cmp_device_options opt = {.storage_range_limit = 64 << 10, .cache_dir = ""};
    struct cmp_device        *dev = NULL;
    struct vae_model         *m = NULL;
    struct lw_error           err = {0};
    if (!th_check(cmp_device_create(&opt, &dev, &err) == LW_OK, "capped device: %s", err.message)) return;
    if (th_check(vae_load(dev, fixture(0, "ae_weights.safetensors"), VAE_BOTH, &m, &err) == LW_OK,
                 "ae load on the capped device: %s", err.message)) {
        float *image = calloc((size_t)3 * 40 * 56, 4), *latent = calloc((size_t)64 * 10 * 14, 4);
        enum lw_status s = vae_encode(m, image, 40, 56, latent, &err);
        th_check(s == LW_ERR_TOO_LARGE && strstr(err.message, "-byte activations, over the device's 65536-byte"),
                 "encode above the storage range: status %d: %s", s, err.message);
        s = vae_decode(m, latent, 10, 14, image, &err);
        th_check(s == LW_ERR_TOO_LARGE, "decode above the storage range: status %d: %s", s, err.message);
        free(image), free(latent);
    }
    vae_destroy(m);
    cmp_device_destroy(dev);
}

/* The banded decoder and encoder against the whole-image ones on the fixture autoencoder, at band heights that
 * split every level's rows differently (1 row, an odd count, the automatic choice), and on a device
 * whose storage range (160 KiB: the largest weight fits, a whole-image activation does not) refuses
 * the whole-image decode. */
static void test_ae_banded(struct cmp_device *dev) {
    struct vae_model *m = NULL;
    struct lw_error   err = {0};
    if (!th_check(vae_load(dev, fixture(0, "ae_weights.safetensors"), VAE_BOTH, &m, &err) == LW_OK, "ae load: %s",
                  err.message))
        return;
    uint64_t n_lat;
    float   *latent = read_tensor(fixture(1, "ae_in.safetensors"), "latent", &n_lat);
    int64_t  h = 6, w = 9, f = vae_downsampling(m), n = 3 * h * f * w * f;
    float   *whole = malloc((size_t)n * 4), *band = malloc((size_t)n * 4);
    if (latent && whole && band && th_check(vae_decode(m, latent, h, w, whole, &err) == LW_OK, "decode: %s", err.message)) {
        const int64_t rows[] = {1, 5, 0};
        for (int i = 0; i < 3; i++) {
            th_poison(band, (size_t)n);
            enum lw_status s = vae_decode_banded(m, latent, h, w, rows[i], band, &err);
            double         d = th_max_abs_diff(band, whole, (size_t)n);
            printf("ae-decode banded (%lld rows)  max abs diff %.3e (limit %.1e = 1/255 of the [-1, 1] range)\n",
                   (long long)rows[i], d, 2.0 / 255);
            th_check(s == LW_OK && d < 2.0 / 255, "banded decode, %lld rows: %s, max abs diff %g", (long long)rows[i],
                     err.message, d);
        }
    }
    uint64_t n_img;
    float   *image = read_tensor(fixture(1, "ae_in.safetensors"), "image", &n_img);
    int64_t  ih = 40, iw = 56, nl = 16 * (ih / f) * (iw / f);
    float   *lat_whole = malloc((size_t)nl * 4), *lat_band = malloc((size_t)nl * 4);
    if (image && lat_whole && lat_band &&
        th_check(vae_encode(m, image, ih, iw, lat_whole, &err) == LW_OK, "encode: %s", err.message)) {
        const int64_t rows[] = {1, 3, 0};
        for (int i = 0; i < 3; i++) {
            th_poison(lat_band, (size_t)nl);
            enum lw_status s = vae_encode_banded(m, image, ih, iw, rows[i], lat_band, &err);
            double         d = th_max_abs_diff(lat_band, lat_whole, (size_t)nl), e = th_rel_l2(lat_band, lat_whole, (size_t)nl);
            printf("ae-encode banded (%lld rows)  max abs diff %.3e, rel L2 %.3e\n", (long long)rows[i], d, e);
            th_check(s == LW_OK && e < 1e-5, "banded encode, %lld rows: %s, rel L2 %g", (long long)rows[i], err.message, e);
        }
    }
    vae_destroy(m);
    m = NULL;
    struct cmp_device_options opt = {.storage_range_limit = 160 << 10, .cache_dir = ""};
    struct cmp_device        *capped = NULL;
    if (latent && whole && band && th_check(cmp_device_create(&opt, &capped, &err) == LW_OK, "capped: %s", err.message) &&
        th_check(vae_load(capped, fixture(0, "ae_weights.safetensors"), VAE_BOTH, &m, &err) == LW_OK, "load: %s",
                 err.message)) {
        th_check(vae_decode(m, latent, h, w, band, &err) == LW_ERR_TOO_LARGE, "whole-image decode refused when capped");
        th_poison(band, (size_t)n);
        enum lw_status s = vae_decode_banded(m, latent, h, w, 0, band, &err);
        double         d = th_max_abs_diff(band, whole, (size_t)n);
        printf("ae-decode banded, capped     max abs diff %.3e\n", d);
        th_check(s == LW_OK && d < 2.0 / 255, "banded decode on the capped device: %s, max abs diff %g", err.message, d);
        if (image && lat_whole && lat_band) {
            th_check(vae_encode(m, image, ih, iw, lat_band, &err) == LW_ERR_TOO_LARGE, "whole-image encode refused when capped");
            s = vae_encode_banded(m, image, ih, iw, 0, lat_band, &err);
            double e = th_rel_l2(lat_band, lat_whole, (size_t)nl);
            printf("ae-encode banded, capped     rel L2 %.3e\n", e);
            th_check(s == LW_OK && e < 1e-5, "banded encode on the capped device: %s, rel L2 %g", err.message, e);
        }
    }
    vae_destroy(m);
    cmp_device_destroy(capped);
    free(latent), free(whole), free(band), free(image), free(lat_whole), free(lat_band);
}

static void test_clip_vision(struct cmp_device *dev) {
    struct clip_model *m = NULL;
    struct lw_error    err = {0};
    if (!th_check(clip_load(dev, fixture(0, "clip_vision_weights.safetensors"), CLIP_VISION, &m, &err) == LW_OK,
                  "clip vision load: %s", err.message))
        return;
    uint64_t n_px, n_emb, n_hid;
    float   *px = read_tensor(fixture(1, "clip_vision_in.safetensors"), "pixel_values", &n_px);
    float   *emb = read_tensor(fixture(2, "clip_vision_out.safetensors"), "image_embeds", &n_emb);
    float   *hid = read_tensor(fixture(2, "clip_vision_out.safetensors"), "last_hidden_state", &n_hid);
    if (px && emb && hid) {
        float *got_e = malloc(n_emb * 4), *got_h = malloc(n_hid * 4);
        th_poison(got_e, n_emb);
        th_poison(got_h, n_hid);
        th_check(clip_vision_forward(m, px, got_e, got_h, &err) == LW_OK, "forward: %s", err.message);
        compare("clip-vision image_embeds", got_e, emb, n_emb, 3e-3);
        compare("clip-vision last_hidden", got_h, hid, n_hid, 3e-3);
        free(got_e), free(got_h);
    }
    free(px), free(emb), free(hid);
    clip_destroy(m);
}

static void test_clip_text(struct cmp_device *dev) {
    struct clip_model *m = NULL;
    struct lw_error    err = {0};
    if (!th_check(clip_load(dev, fixture(0, "clip_text_weights.safetensors"), CLIP_TEXT, &m, &err) == LW_OK,
                  "clip text load: %s", err.message))
        return;
    uint64_t n_ids, n_pool, n_hid;
    float   *ids_f = read_tensor(fixture(1, "clip_text_in.safetensors"), "input_ids", &n_ids);
    float   *pool = read_tensor(fixture(2, "clip_text_out.safetensors"), "pooled", &n_pool);
    float   *hid = read_tensor(fixture(2, "clip_text_out.safetensors"), "last_hidden_state", &n_hid);
    if (ids_f && pool && hid) {
        int32_t ids[512];
        for (uint64_t i = 0; i < n_ids && i < 512; i++) ids[i] = (int32_t)ids_f[i];
        float *got_p = malloc(n_pool * 4), *got_h = malloc(n_hid * 4);
        th_poison(got_p, n_pool);
        th_check(clip_text_forward(m, ids, (int64_t)n_ids, got_p, got_h, &err) == LW_OK,
                 "forward: %s", err.message);
        compare("clip-text pooled", got_p, pool, n_pool, 3e-3);
        compare("clip-text last_hidden", got_h, hid, n_hid, 3e-3);
        free(got_p), free(got_h);
    }
    free(ids_f), free(pool), free(hid);
    clip_destroy(m);
}

static void test_t5(struct cmp_device *dev) {
    struct t5_model *m = NULL;
    struct lw_error  err = {0};
    if (!th_check(t5_load(dev, fixture(0, "t5_weights.safetensors"), &m, &err) == LW_OK, "t5 load: %s",
                  err.message))
        return;
    uint64_t n_ids, n_hid;
    float   *ids_f = read_tensor(fixture(1, "t5_in.safetensors"), "input_ids", &n_ids);
    float   *hid = read_tensor(fixture(2, "t5_out.safetensors"), "last_hidden_state", &n_hid);
    if (ids_f && hid) {
        int32_t ids[4096];
        for (uint64_t i = 0; i < n_ids && i < 4096; i++) ids[i] = (int32_t)ids_f[i];
        float *got = malloc(n_hid * 4);
        th_poison(got, n_hid);
        th_check(t5_forward(m, ids, (int64_t)n_ids, got, &err) == LW_OK, "forward: %s", err.message);
        compare("t5 last_hidden", got, hid, n_hid, 3e-3);
        int32_t bad = 1 << 30;
        th_check(t5_forward(m, &bad, 1, got, &err) == LW_ERR_ARGUMENT, "out-of-vocabulary id refused: %s",
                 err.message);
        free(got);
    }
    free(ids_f), free(hid);
    t5_destroy(m);
}

/* The bucket function against the exact integer thresholds of spec-lorweb.md §4.3. */
static void test_t5_buckets(void) {
    static const int64_t edges[][2] = {{0, 0}, {7, 7},   {8, 8},   {11, 8},  {12, 9},  {15, 9},
                                       {16, 10}, {22, 10}, {23, 11}, {31, 11}, {32, 12}, {45, 12},
                                       {46, 13}, {63, 13}, {64, 14}, {90, 14}, {91, 15}, {5000, 15}};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        int64_t a = edges[i][0], want = edges[i][1];
        th_check(t5_bucket(-a, 32, 128) == want, "bucket(−%lld) = %lld, want %lld", (long long)a,
                 (long long)t5_bucket(-a, 32, 128), (long long)want);
        if (a > 0)
            th_check(t5_bucket(a, 32, 128) == want + 16, "bucket(+%lld) = %lld, want %lld",
                     (long long)a, (long long)t5_bucket(a, 32, 128), (long long)want + 16);
    }
}

int main(void) {
    test_t5_buckets();
    if (!th_fixtures_dir()) {
        printf("fixtures not found (../shared/fixtures): fixture comparisons skipped\n");
        return th_finish();
    }
    struct cmp_device *dev = th_device_or_skip();
    test_ae(dev);
    test_ae_too_large();
    test_ae_banded(dev);
    test_clip_vision(dev);
    test_clip_text(dev);
    test_t5(dev);
    cmp_device_destroy(dev);
    return th_finish();
}
