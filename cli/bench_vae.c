/* `lorweb bench`'s autoencoder figures: encode and decode time per megapixel of an autoencoder at
 * the real FLUX widths (ch 128, ch_mult 1 2 4 4, 2 res blocks, 16 latent channels, F32 random
 * weights written by the bench to a temporary file) at two image sizes, 32² and 64² (16² and 32²
 * with --quick): the slope between them is the time per megapixel without the per-call cost, and
 * with it the projected time at 1024×1024 (the real model's compute: same widths, depth, shapes).
 *
 * Projection: the convolutions scale with the pixel count; the middle attention grows with its
 * square, so the linear figure is printed with the attention's share of the FLOPs at 1024².
 * Each run is timed after one warm-up run (pipeline creation and first-touch faults), except with
 * --quick (one run). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "vae.h"
#include "weights.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct ae_writer {
    struct wt_tensor *t;
    size_t            count, cap;
    uint64_t          seed;
    bool              ok;
};

/* Adds a tensor: normal(0, 1/√fan_in) weights, zero biases, unit GroupNorm scales. */
static void add(struct ae_writer *wr, const char *name, int ndim, const int64_t *shape, int kind) {
    if (wr->count == wr->cap) {
        wr->cap = wr->cap ? 2 * wr->cap : 256;
        wr->t = realloc(wr->t, wr->cap * sizeof *wr->t);
    }
    uint64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (uint64_t)shape[i];
    float *d = malloc(n * sizeof *d);
    if (!d || !wr->t) {
        wr->ok = false;
        free(d);
        return;
    }
    double fan_in = ndim > 1 ? (double)n / (double)shape[0] : 1;
    for (uint64_t i = 0; i < n; i++) {
        if (kind == 0) { /* Box–Muller from an LCG */
            wr->seed = wr->seed * 6364136223846793005ull + 1442695040888963407ull;
            double u1 = ((wr->seed >> 11) + 1.0) / 9007199254740993.0;
            wr->seed = wr->seed * 6364136223846793005ull + 1442695040888963407ull;
            double u2 = (wr->seed >> 11) / 9007199254740992.0;
            d[i] = (float)(sqrt(-2 * log(u1)) * cos(6.283185307 * u2) / sqrt(fan_in));
        } else {
            d[i] = kind == 1 ? 1.0f : 0.0f;
        }
    }
    struct wt_tensor *t = &wr->t[wr->count++];
    *t = (struct wt_tensor){.name = strdup(name), .dtype = LW_DTYPE_F32, .ndim = ndim, .data = d,
                            .bytes = n * 4, .scale = 1};
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
}

static void conv(struct ae_writer *wr, const char *p, int64_t out, int64_t in, int64_t k) {
    char n[160];
    snprintf(n, sizeof n, "%s.weight", p), add(wr, n, 4, (int64_t[]){out, in, k, k}, 0);
    snprintf(n, sizeof n, "%s.bias", p), add(wr, n, 1, (int64_t[]){out}, 2);
}

static void norm(struct ae_writer *wr, const char *p, int64_t c) {
    char n[160];
    snprintf(n, sizeof n, "%s.weight", p), add(wr, n, 1, (int64_t[]){c}, 1);
    snprintf(n, sizeof n, "%s.bias", p), add(wr, n, 1, (int64_t[]){c}, 2);
}

static void resnet(struct ae_writer *wr, const char *p, int64_t cin, int64_t cout) {
    char n[160];
    snprintf(n, sizeof n, "%s.norm1", p), norm(wr, n, cin);
    snprintf(n, sizeof n, "%s.conv1", p), conv(wr, n, cout, cin, 3);
    snprintf(n, sizeof n, "%s.norm2", p), norm(wr, n, cout);
    snprintf(n, sizeof n, "%s.conv2", p), conv(wr, n, cout, cout, 3);
    if (cin != cout) snprintf(n, sizeof n, "%s.nin_shortcut", p), conv(wr, n, cout, cin, 1);
}

static void middle(struct ae_writer *wr, const char *half, int64_t c) {
    char n[160];
    snprintf(n, sizeof n, "%s.mid.block_1", half), resnet(wr, n, c, c);
    snprintf(n, sizeof n, "%s.mid.attn_1.norm", half), norm(wr, n, c);
    const char *lin[] = {"q", "k", "v", "proj_out"};
    for (int i = 0; i < 4; i++) snprintf(n, sizeof n, "%s.mid.attn_1.%s", half, lin[i]), conv(wr, n, c, c, 1);
    snprintf(n, sizeof n, "%s.mid.block_2", half), resnet(wr, n, c, c);
}

/* Writes a random BFL-named autoencoder; false after printing an error. */
static bool ae_write(const char *path, int64_t ch, const int64_t *mult, int levels, int blocks) {
    struct ae_writer wr = {.seed = 42, .ok = true};
    char             p[160], ms[64] = "[", meta_ch[16], meta_b[16];
    int64_t          cin = ch;
    conv(&wr, "encoder.conv_in", ch, 3, 3);
    for (int l = 0; l < levels; l++) {
        for (int b = 0; b < blocks; b++) {
            snprintf(p, sizeof p, "encoder.down.%d.block.%d", l, b), resnet(&wr, p, cin, ch * mult[l]);
            cin = ch * mult[l];
        }
        if (l + 1 < levels) snprintf(p, sizeof p, "encoder.down.%d.downsample.conv", l), conv(&wr, p, cin, cin, 3);
    }
    middle(&wr, "encoder", cin);
    norm(&wr, "encoder.norm_out", cin), conv(&wr, "encoder.conv_out", 32, cin, 3);
    conv(&wr, "decoder.conv_in", cin, 16, 3);
    middle(&wr, "decoder", cin);
    for (int l = levels - 1; l >= 0; l--) {
        for (int b = 0; b <= blocks; b++) {
            snprintf(p, sizeof p, "decoder.up.%d.block.%d", l, b), resnet(&wr, p, cin, ch * mult[l]);
            cin = ch * mult[l];
        }
        if (l > 0) snprintf(p, sizeof p, "decoder.up.%d.upsample.conv", l), conv(&wr, p, cin, cin, 3);
    }
    norm(&wr, "decoder.norm_out", cin), conv(&wr, "decoder.conv_out", 3, cin, 3);
    for (int l = 0; l < levels; l++)
        snprintf(ms + strlen(ms), sizeof ms - strlen(ms), "%s%lld", l ? ", " : "", (long long)mult[l]);
    strcat(ms, "]");
    snprintf(meta_ch, sizeof meta_ch, "%lld", (long long)ch), snprintf(meta_b, sizeof meta_b, "%d", blocks);
    const char *meta[] = {"ae.ch", meta_ch, "ae.ch_mult", ms, "ae.num_res_blocks", meta_b, NULL};
    struct lw_error err = {0};
    bool ok = wr.ok && wt_write_safetensors(path, wr.t, wr.count, meta, &err) == LW_OK;
    if (!ok) fprintf(stderr, "bench vae: %s: %s\n", path, wr.ok ? err.message : "out of host memory");
    for (size_t i = 0; i < wr.count; i++) free((void *)wr.t[i].name), free((void *)wr.t[i].data);
    free(wr.t);
    return ok;
}

static struct vae_model *ae_make(struct cmp_device *dev, int64_t ch, const int64_t *mult, int levels,
                                 int blocks) {
    char path[] = "/tmp/lorweb-bench-vae-XXXXXX";
    int  fd = mkstemp(path);
    if (fd < 0) {
        perror("bench vae: temporary file");
        return NULL;
    }
    close(fd);
    struct vae_model *m = NULL;
    struct lw_error   err = {0};
    if (ae_write(path, ch, mult, levels, blocks) && vae_load(dev, path, VAE_BOTH, &m, &err) != LW_OK)
        fprintf(stderr, "bench vae: %s: %s\n", lw_status_str(err.status), err.message);
    unlink(path);
    return m;
}

/* Seconds of the last of `runs` runs (encode when `encode`), or a negative number. */
static double time_run(struct vae_model *m, bool encode, int64_t h, int64_t w, float *img, float *lat,
                       int runs) {
    struct lw_error err = {0};
    int64_t         f = vae_downsampling(m);
    double          t = 0;
    for (int r = 0; r < runs; r++) {
        double t0 = now();
        enum lw_status s = encode ? vae_encode(m, img, h, w, lat, &err) : vae_decode(m, lat, h / f, w / f, img, &err);
        if (s != LW_OK) {
            fprintf(stderr, "bench vae: %s: %s\n", lw_status_str(s), err.message);
            return -1;
        }
        t = now() - t0;
    }
    return t;
}

/* Encode and decode seconds at side×side (the last of `runs`), or false. */
static bool time_side(struct vae_model *m, int64_t side, int runs, double *te, double *td) {
    int64_t z = vae_config(m)->z_channels, f = vae_downsampling(m);
    float  *img = calloc((size_t)(3 * side * side), 4), *lat = calloc((size_t)(z * (side / f) * (side / f)), 4);
    bool    ok = img && lat;
    for (int64_t i = 0; ok && i < 3 * side * side; i++) img[i] = (float)sin(0.01 * (double)i);
    if (ok) *te = time_run(m, true, side, side, img, lat, runs);
    if (ok) *td = *te < 0 ? -1 : time_run(m, false, side, side, img, lat, runs);
    free(img), free(lat);
    return ok && *te >= 0 && *td >= 0;
}

int bench_vae(struct cmp_device *dev, bool quick) {
    const int64_t     mult[] = {1, 2, 4, 4};
    const int64_t     side[2] = {quick ? 16 : 32, quick ? 32 : 64};
    int               runs = quick ? 1 : 2;
    double            te[2], td[2];
    struct vae_model *m = ae_make(dev, 128, mult, 4, 2);
    if (!m) return 1;
    bool ok = time_side(m, side[0], runs, &te[0], &td[0]) && time_side(m, side[1], runs, &te[1], &td[1]);
    /* the banded path (vae_banded.c) at the larger size, 8-row bands: what large images pay */
    int64_t         f = vae_downsampling(m), s1 = side[1], lat_n = 16 * (s1 / f) * (s1 / f);
    float          *lat = calloc((size_t)lat_n, 4), *img = malloc((size_t)(3 * s1 * s1) * 4);
    double          tb = -1;
    struct lw_error err = {0};
    for (int64_t i = 0; lat && i < lat_n; i++) lat[i] = (float)sin(0.01 * (double)i);
    if (ok && lat && img) {
        double t0 = now();
        if (vae_decode_banded(m, lat, s1 / f, s1 / f, 8, img, &err) == LW_OK) tb = now() - t0;
        else fprintf(stderr, "bench vae banded: %s: %s\n", lw_status_str(err.status), err.message);
    }
    free(lat), free(img);
    vae_destroy(m);
    if (!ok) return 1;
    /* time = fixed + per_mp · megapixels: two sizes separate the per-call cost from the per-pixel one */
    double mp[2] = {(double)(side[0] * side[0]) / 1048576.0, (double)(side[1] * side[1]) / 1048576.0};
    double enc_mp = (te[1] - te[0]) / (mp[1] - mp[0]), dec_mp = (td[1] - td[0]) / (mp[1] - mp[0]);
    double enc_fixed = te[0] - enc_mp * mp[0], dec_fixed = td[0] - dec_mp * mp[0];
    /* attention FLOPs at 1024² (latent 128², 512 wide): 4·P²·C per half */
    double p = 128.0 * 128.0, attn = 4 * p * p * 512;
    printf("autoencoder ch 128, ch_mult 1 2 4 4 (the real widths), F32 random weights:\n"
           "  %lld×%lld: encode %.3f s, decode %.3f s; %lld×%lld: encode %.3f s, decode %.3f s\n"
           "  per megapixel (slope between the two): encode %.1f s, decode %.1f s; per call: %.2f s, %.2f s\n"
           "  projected at 1024×1024 (linear in pixels): encode %.0f s, decode %.0f s; the middle attention "
           "(quadratic) adds %.2f TFLOP per half there, not in the projection\n",
           (long long)side[0], (long long)side[0], te[0], td[0], (long long)side[1], (long long)side[1], te[1], td[1],
           enc_mp, dec_mp, enc_fixed, dec_fixed, enc_fixed + enc_mp, dec_fixed + dec_mp, attn / 1e12);
    if (tb >= 0)
        printf("  decode in 8-row bands (for images too large for the device) at %lld×%lld: %.3f s, %.2f× the "
               "whole-image decode\n", (long long)s1, (long long)s1, tb, tb / td[1]);
    return 0;
}
