/* A test double of models/pipeline.h for the GIMP plug-in's tests: no models, no device, a
 * transform the tests can check exactly. It is not the pipeline and proves nothing about it; it
 * lets the tests check the plug-in's plumbing (pixels, offsets, sizes, modes, selection, undo,
 * errors, resident engine, dialog) in milliseconds.
 *
 *   b′(x, y) = clamp(b(x, y) + s·(a′(x_a′, y_a′) − a(x_a, y_a)) + bias_sum / 32), alpha = b's
 * alpha,
 *
 * where (x_a, y_a) is the pixel of a nearest to (x, y) scaled to a's size, (2x + 1)·W_a / (2·W_b),
 * likewise for a′; s = strength; bias_sum = Σ bias[n]. The model folder must exist and hold a file
 * `fake-model` (else LW_ERR_MISSING naming it); one that also holds `fake-no-vulkan` fails as the
 * engine does on a machine without any Vulkan driver (LW_ERR_NO_VULKAN). The first run of a context "loads" for
 * LORWEB_FAKE_LOAD_MS (default 0) milliseconds; each step sleeps LORWEB_FAKE_STEP_MS (default 0).
 * Steps: 0 = 4 (its "model default"). Basis: 32 elements with fixed mean weights 1/(n + 2),
 * normalised, plus bias, so the dialog's bar chart has something to show. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "pipeline.h"

#define FAKE_BASIS 32

struct pipe_context {
    struct pipe_options opt;
    char                dir[1024];
    bool                loaded, encoded;
    float               weights[FAKE_BASIS];
    char                description[256];
};

static void sleep_ms(const char *variable) {
    const char *v = getenv(variable);
    long        ms = v ? atol(v) : 0;
    if (ms <= 0) return;
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static void say(struct pipe_context *ctx, enum pipe_log_level level, const char *text) {
    if (ctx->opt.log) ctx->opt.log(ctx->opt.user, level, text);
}

void pipe_params_defaults(struct pipe_params *p) {
    memset(p, 0, sizeof *p);
    p->guidance = 2.5f;
    p->strength = 1.0f;
}

enum lw_status pipe_context_create(const struct pipe_options *options, struct pipe_context **out,
                                   struct lw_error *err) {
    *out = NULL;
    const char *dir = options->paths.model_dir ? options->paths.model_dir : "";
    char        marker[1100];
    struct stat st;
    snprintf(marker, sizeof marker, "%s/fake-model", dir);
    if (stat(marker, &st) != 0)
        return lw_error_set(err, LW_ERR_MISSING, "no model at '%s' (the fake pipeline wants %s)",
                            dir, marker);
    snprintf(marker, sizeof marker, "%s/fake-no-vulkan", dir);
    if (stat(marker, &st) == 0)
        return lw_error_set(err, LW_ERR_NO_VULKAN, "cannot initialise Vulkan (vkCreateInstance: "
                                                   "VK_ERROR_INCOMPATIBLE_DRIVER) [fake]");
    struct pipe_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    ctx->opt = *options;
    ctx->opt.paths = (struct pipe_model_paths){0};
    snprintf(ctx->dir, sizeof ctx->dir, "%s", dir);
    snprintf(ctx->description, sizeof ctx->description,
             "fake pipeline (tests/pipeline_fake.c) at %s", dir);
    *out = ctx;
    return LW_OK;
}

void pipe_context_destroy(struct pipe_context *ctx) {
    free(ctx);
}

const char *pipe_describe(struct pipe_context *ctx) {
    return ctx->description;
}

static enum lw_status check_image(const char *name, const struct pipe_image *im,
                                  struct lw_error *err) {
    if (!im || !im->data || im->width <= 0 || im->height <= 0 || im->stride < (size_t)im->width * 4)
        return lw_error_set(err, LW_ERR_ARGUMENT, "image %s: missing or invalid", name);
    return LW_OK;
}

static bool report(struct pipe_context *ctx, enum pipe_stage stage, int step, int steps,
                   double fraction) {
    struct pipe_progress p = {.stage = stage, .step = step, .steps = steps, .fraction = fraction};
    return !ctx->opt.progress || ctx->opt.progress(ctx->opt.user, &p);
}

static void load(struct pipe_context *ctx) {
    if (ctx->loaded) return;
    sleep_ms("LORWEB_FAKE_LOAD_MS");
    ctx->loaded = true;
    say(ctx, PIPE_LOG_INFO, "fake models loaded");
}

static void encode(struct pipe_context *ctx, const float *bias) {
    float sum = 0;
    for (int n = 0; n < FAKE_BASIS; n++)
        sum += ctx->weights[n] = 1.0f / (float)(n + 2);
    for (int n = 0; n < FAKE_BASIS; n++)
        ctx->weights[n] = ctx->weights[n] / sum + (bias ? bias[n] : 0);
    ctx->encoded = true;
}

enum lw_status pipe_encode(struct pipe_context *ctx, const struct pipe_image *a,
                           const struct pipe_image *ap, const struct pipe_image *b,
                           struct lw_error *err) {
    enum lw_status status;
    if ((status = check_image("a", a, err)) || (status = check_image("a′", ap, err)) ||
        (status = check_image("b", b, err)))
        return status;
    load(ctx);
    encode(ctx, NULL);
    return LW_OK;
}

enum lw_status pipe_basis_weights(struct pipe_context *ctx, float *mean, int max, int *basis,
                                  struct lw_error *err) {
    if (!ctx || !ctx->encoded) return lw_error_set(err, LW_ERR_ARGUMENT, "no encode yet");
    int n = max < FAKE_BASIS ? max : FAKE_BASIS;
    memcpy(mean, ctx->weights, (size_t)n * sizeof *mean);
    if (basis) *basis = n;
    return LW_OK;
}

enum lw_status pipe_embed(struct pipe_context *ctx, const struct pipe_image *image, float *embed,
                          int max, int *n, struct lw_error *err) {
    (void)ctx, (void)image, (void)embed, (void)max, (void)n;
    return lw_error_set(err, LW_ERR_UNSUPPORTED, "the fake pipeline has no CLIP tower");
}

void pipe_device_usage(const struct pipe_context *ctx, uint64_t *device_bytes, uint64_t *objects,
                       uint64_t *peak_bytes) {
    (void)ctx;
    if (device_bytes) *device_bytes = 0;
    if (objects) *objects = 0;
    if (peak_bytes) *peak_bytes = 0;
}

static const float *nearest(const struct pipe_image *im, int x, int y, int w, int h) {
    int sx = (int)(((int64_t)2 * x + 1) * im->width / (2 * (int64_t)w));
    int sy = (int)(((int64_t)2 * y + 1) * im->height / (2 * (int64_t)h));
    return im->data + (size_t)sy * im->stride + (size_t)sx * 4;
}

enum lw_status pipe_run(struct pipe_context *ctx, const struct pipe_params *p,
                        const struct pipe_image *a, const struct pipe_image *ap,
                        const struct pipe_image *b, struct pipe_image *out, struct lw_error *err) {
    enum lw_status status;
    if ((status = check_image("a", a, err)) || (status = check_image("a′", ap, err)) ||
        (status = check_image("b", b, err)) || (status = check_image("output", out, err)))
        return status;
    if (out->width != b->width || out->height != b->height)
        return lw_error_set(err, LW_ERR_ARGUMENT, "output is %d×%d, b is %d×%d", out->width,
                            out->height, b->width, b->height);
    if (p->steps < 0 || p->steps > 1000 || p->strength < 0 || p->strength > 2 ||
        p->keep_detail < 0 || p->keep_detail > 1 || p->size < 0 || p->size > 8192)
        return lw_error_set(err, LW_ERR_ARGUMENT, "parameters out of range (steps %d, strength %g)",
                            p->steps, p->strength);
    if (!report(ctx, PIPE_STAGE_LOAD, 0, 0, 0.0))
        return lw_error_set(err, LW_ERR_CANCELLED, "cancelled");
    load(ctx);
    encode(ctx, p->bias);
    if (!report(ctx, PIPE_STAGE_ENCODE, 0, 0, 0.05))
        return lw_error_set(err, LW_ERR_CANCELLED, "cancelled");
    int steps = p->steps ? p->steps : 4;
    for (int s = 1; s <= steps; s++) {
        sleep_ms("LORWEB_FAKE_STEP_MS");
        if (!report(ctx, PIPE_STAGE_DENOISE, s, steps, 0.05 + 0.9 * s / steps))
            return lw_error_set(err, LW_ERR_CANCELLED, "cancelled");
    }
    float bias_sum = 0;
    for (int n = 0; n < PIPE_MAX_BASIS; n++)
        bias_sum += p->bias[n];
    for (int y = 0; y < b->height; y++)
        for (int x = 0; x < b->width; x++) {
            const float *pa = nearest(a, x, y, b->width, b->height),
                        *pap = nearest(ap, x, y, b->width, b->height);
            const float *pb = b->data + (size_t)y * b->stride + (size_t)x * 4;
            float       *o = out->data + (size_t)y * out->stride + (size_t)x * 4;
            for (int c = 0; c < 3; c++) {
                float v = pb[c] + p->strength * (pap[c] - pa[c]) + bias_sum / FAKE_BASIS;
                o[c] = v < 0 ? 0 : v > 1 ? 1 : v;
            }
            o[3] = pb[3];
        }
    report(ctx, PIPE_STAGE_DETAIL, 0, 0, 1.0);
    return LW_OK;
}
