/* The analogy pipeline behind pipeline.h: a, a′, b → b′ (spec-lorweb.md §2, spec-flux-kontext.md §3.5).
 *
 * 1. Quadrant size: a's aspect, the grid's long side = params.size (or the model's default), rounded
 *    to multiples of 2·f (f = the autoencoder's downsampling) so the grid packs into tokens.
 * 2. Grid a | a′ / b | b (bicubic, antialiased), in [−1, 1].
 * 3. Query: CLIP image_embeds of a, a′ and b (shortest side to the tower's size, centre crop, CLIP
 *    normalisation), concatenated (cat-aa'b); mixing weights per module, then the user's bias,
 *    overrides and strength.
 * 4. Context tokens = packed latents of the grid (index 1); noise tokens on the same grid (index 0);
 *    Euler sampling on the shifted schedule; unpack, decode, crop the bottom-right quadrant exactly
 *    (also for non-square grids), resize to b's size, optional detail transfer from b, b's alpha.
 * Text: a model folder may carry a fixed conditioning (conditioning.safetensors: txt, y) instead of
 * text encoders. Models load on the first run and stay resident. */
#include "pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clip.h"
#include "compute.h"
#include "detail.h"
#include "flux.h"
#include "grid.h"
#include "latent_tokens.h"
#include "lorweb.h"
#include "lorweb_mix.h"
#include "philox.h"
#include "preview.h"
#include "resize.h"
#include "schedule.h"
#include "t5.h"
#include "tokenizer.h"
#include "vae.h"
#include "weights.h"

#define PATH_MAX_LEN 4096

struct pipe_context {
    struct pipe_options   opt;
    char                  paths[9][PATH_MAX_LEN]; /* owned copies of the model paths */
    char                  prompt[1024];          /* the prompt txt and y were encoded from */
    bool                  fixed_conditioning;
    struct cmp_device    *device;
    struct flux_model    *flux;
    struct vae_model     *vae;
    enum vae_parts        vae_parts; /* what ctx->vae holds */
    struct clip_model    *clip;
    bool                  low_memory; /* pipe_options.low_memory, or chosen at load */
    struct lorweb_config  lorweb;
    bool                  has_lorweb;
    float                *txt, *y; /* fixed conditioning or the last prompt's (T, context_in), (vec_in) */
    float                *empty_txt, *empty_y; /* the empty prompt's, kept beside the last one */
    int64_t               t_tokens;
    int                   default_steps, default_size;
    float                *coeffs; /* (modules, basis) from the last encode */
    int                   modules, basis;
    bool                  encoded;
    char                  description[512];
};

enum { P_FLUX, P_AE, P_CLIP, P_LORWEB, P_CONFIG, P_COND, P_CLIP_TEXT, P_T5, P_TOKENIZER, P_COUNT };
static const char *const default_names[P_COUNT] = {
    "flux.safetensors",         "ae.safetensors",          "clip_vision.safetensors",
    "lorweb.safetensors",       "config.yaml",             "conditioning.safetensors",
    "clip_text.safetensors",    "t5.safetensors",          "tokenizer"};

void pipe_params_defaults(struct pipe_params *p) {
    memset(p, 0, sizeof *p);
    p->guidance = 2.5f;
    p->strength = 1.0f;
}

static bool exists(const char *path) {
    struct stat st;
    return path && *path && stat(path, &st) == 0;
}

static void log_msg(struct pipe_context *ctx, enum pipe_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void log_msg(struct pipe_context *ctx, enum pipe_log_level level, const char *fmt, ...) {
    if (!ctx->opt.log) return;
    char    text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    ctx->opt.log(ctx->opt.user, level, text);
}

enum lw_status pipe_context_create(const struct pipe_options *options, struct pipe_context **out,
                                   struct lw_error *err) {
    *out = NULL;
    struct pipe_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    ctx->opt = *options;
    const char *dir = options->paths.model_dir;
    const char *given[P_COUNT] = {options->paths.flux,   options->paths.ae,
                                  options->paths.clip_vision, options->paths.lorweb,
                                  options->paths.lorweb_config, NULL,
                                  options->paths.clip_text, options->paths.t5,
                                  options->paths.tokenizer_dir};
    for (int i = 0; i < P_COUNT; i++) {
        if (given[i]) snprintf(ctx->paths[i], PATH_MAX_LEN, "%s", given[i]);
        else if (dir) snprintf(ctx->paths[i], PATH_MAX_LEN, "%s/%s", dir, default_names[i]);
    }
    if (!exists(ctx->paths[P_FLUX]) || !exists(ctx->paths[P_AE])) {
        enum lw_status st = lw_error_set(err, LW_ERR_MISSING,
            "no FLUX transformer or autoencoder at '%s' / '%s': give a model folder (flux.safetensors, "
            "ae.safetensors, clip_vision.safetensors, lorweb.safetensors, config.yaml) or the files",
            ctx->paths[P_FLUX], ctx->paths[P_AE]);
        free(ctx);
        return st;
    }
    ctx->opt.paths = (struct pipe_model_paths){0};
    *out = ctx;
    return LW_OK;
}

void pipe_context_destroy(struct pipe_context *ctx) {
    if (!ctx) return;
    flux_destroy(ctx->flux);
    vae_destroy(ctx->vae);
    clip_destroy(ctx->clip);
    cmp_device_destroy(ctx->device);
    free(ctx->txt), free(ctx->y), free(ctx->coeffs), free(ctx->empty_txt), free(ctx->empty_y);
    free(ctx);
}

void pipe_device_usage(const struct pipe_context *ctx, uint64_t *device_bytes, uint64_t *objects,
                       uint64_t *peak_bytes) {
    *device_bytes = ctx->device ? cmp_device_allocated_bytes(ctx->device) : 0;
    *objects = ctx->device ? cmp_device_live_objects(ctx->device) : 0;
    if (peak_bytes) *peak_bytes = ctx->device ? cmp_device_peak_bytes(ctx->device) : 0;
}

const char *pipe_describe(struct pipe_context *ctx) {
    return ctx->description;
}

static enum lw_status conditioning_load(struct pipe_context *ctx, struct lw_error *err) {
    const struct flux_config *c = flux_config(ctx->flux);
    struct wt_file           *f = NULL;
    if (!exists(ctx->paths[P_COND])) {
        if (exists(ctx->paths[P_T5]) && exists(ctx->paths[P_CLIP_TEXT]) && exists(ctx->paths[P_TOKENIZER]))
            return LW_OK; /* prompts are encoded per run */
        return lw_error_set(err, LW_ERR_MISSING,
                            "no text conditioning: the model needs either %s or the text encoders %s, %s "
                            "and their tokenizer folder %s", ctx->paths[P_COND], ctx->paths[P_T5],
                            ctx->paths[P_CLIP_TEXT], ctx->paths[P_TOKENIZER]);
    }
    enum lw_status status = wt_open(ctx->paths[P_COND], &f, err);
    if (status != LW_OK) return status;
    const struct wt_tensor *txt = wt_find(f, "txt"), *y = wt_find(f, "y");
    if (!txt || !y || txt->ndim < 2 || txt->shape[txt->ndim - 1] != c->context_in || wt_elements(y) != (uint64_t)c->vec_in) {
        wt_close(f);
        return lw_error_set(err, LW_ERR_SHAPE, "%s: needs txt [T, %lld] and y [%lld]", ctx->paths[P_COND],
                            (long long)c->context_in, (long long)c->vec_in);
    }
    ctx->t_tokens = (int64_t)(wt_elements(txt) / (uint64_t)c->context_in);
    free(ctx->txt), free(ctx->y); /* loaded again after a lost device */
    ctx->txt = malloc(wt_elements(txt) * sizeof *ctx->txt);
    ctx->y = malloc((size_t)c->vec_in * sizeof *ctx->y);
    if (!ctx->txt || !ctx->y) status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    if (status == LW_OK) status = wt_read_f32(txt, ctx->txt, wt_elements(txt), err);
    if (status == LW_OK) status = wt_read_f32(y, ctx->y, (uint64_t)c->vec_in, err);
    wt_close(f);
    ctx->fixed_conditioning = status == LW_OK;
    return status;
}

/* Encodes `prompt` with T5 (512 ids, padded with 0) and CLIP-L text (77 ids, padded with 49407) as
 * FLUX does (spec-lorweb.md §4), unless it is the prompt encoded last. The encoders are loaded for
 * this and freed at once, so they never share the device with the transformer's activations. */
static float *copy_floats(const float *src, size_t n) {
    float *out = malloc(n * sizeof *out);
    if (out) memcpy(out, src, n * sizeof *out);
    return out;
}

static enum lw_status prompt_encode(struct pipe_context *ctx, const char *prompt, struct lw_error *err) {
    if (ctx->fixed_conditioning || (ctx->txt && !strcmp(ctx->prompt, prompt))) return LW_OK;
    const struct flux_config *c = flux_config(ctx->flux);
    size_t                    txt_n = (size_t)512 * c->context_in, y_n = (size_t)c->vec_in;
    if (!*prompt && ctx->empty_txt) { /* the empty prompt's embedding is kept: no encoder run */
        float *txt = copy_floats(ctx->empty_txt, txt_n), *y = copy_floats(ctx->empty_y, y_n);
        if (!txt || !y) {
            free(txt), free(y);
            return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
        }
        free(ctx->txt), free(ctx->y);
        ctx->txt = txt, ctx->y = y, ctx->t_tokens = 512, ctx->prompt[0] = '\0';
        return LW_OK;
    }
    struct tok_t5            *t5tok = NULL;
    struct tok_clip          *cliptok = NULL;
    struct t5_model          *t5 = NULL;
    struct clip_model        *text = NULL;
    int32_t                   t5_ids[512] = {0}, clip_ids[77];
    int                       n = 0;
    char                      dir[PATH_MAX_LEN + 32];
    float                    *txt = malloc((size_t)512 * c->context_in * sizeof *txt), *y = malloc((size_t)c->vec_in * sizeof *y);
    enum lw_status            status = txt && y ? LW_OK : lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    snprintf(dir, sizeof dir, "%s", ctx->paths[P_TOKENIZER]);
    if (status == LW_OK) status = tok_t5_load(dir, &t5tok, err);
    if (status == LW_OK) status = tok_t5_encode(t5tok, prompt, t5_ids, 512, &n, err);
    if (status == LW_OK && n == 512) t5_ids[511] = 1; /* truncated: keep the end-of-sequence id */
    if (status == LW_OK) status = tok_clip_load(dir, &cliptok, err);
    if (status == LW_OK) status = tok_clip_encode(cliptok, prompt, clip_ids, 77, &n, err);
    for (int i = n; status == LW_OK && i < 77; i++) clip_ids[i] = 49407;
    if (status == LW_OK) status = t5_load(ctx->device, ctx->paths[P_T5], &t5, err);
    if (status == LW_OK && t5_config(t5)->d_model != c->context_in)
        status = lw_error_set(err, LW_ERR_SHAPE, "%s: d_model %lld, the transformer takes %lld", ctx->paths[P_T5],
                              (long long)t5_config(t5)->d_model, (long long)c->context_in);
    if (status == LW_OK) status = t5_forward(t5, t5_ids, 512, txt, err);
    t5_destroy(t5);
    if (status == LW_OK) status = clip_load(ctx->device, ctx->paths[P_CLIP_TEXT], CLIP_TEXT, &text, err);
    if (status == LW_OK && clip_config(text)->hidden != c->vec_in)
        status = lw_error_set(err, LW_ERR_SHAPE, "%s: width %lld, the transformer's vector input is %lld",
                              ctx->paths[P_CLIP_TEXT], (long long)clip_config(text)->hidden, (long long)c->vec_in);
    if (status == LW_OK) status = clip_text_forward(text, clip_ids, 77, y, NULL, err);
    clip_destroy(text);
    tok_t5_destroy(t5tok);
    tok_clip_destroy(cliptok);
    if (status != LW_OK) {
        free(txt), free(y);
        return status;
    }
    free(ctx->txt), free(ctx->y);
    ctx->txt = txt, ctx->y = y, ctx->t_tokens = 512;
    snprintf(ctx->prompt, sizeof ctx->prompt, "%s", prompt);
    if (!*prompt && !ctx->empty_txt) { /* best effort: without memory it is only encoded again */
        ctx->empty_txt = copy_floats(txt, txt_n), ctx->empty_y = copy_floats(y, y_n);
        if (!ctx->empty_txt || !ctx->empty_y) free(ctx->empty_txt), free(ctx->empty_y), ctx->empty_txt = ctx->empty_y = NULL;
    }
    log_msg(ctx, PIPE_LOG_DEBUG, "prompt encoded with T5 and CLIP-L: \"%s\"", prompt);
    return LW_OK;
}

static uint64_t file_bytes(const char *path) {
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
}

/* The autoencoder with at least `parts` (VAE_BOTH, or one half in low-memory mode). */
static enum lw_status need_vae(struct pipe_context *ctx, enum vae_parts parts, struct lw_error *err) {
    if (ctx->vae && (ctx->vae_parts == VAE_BOTH || ctx->vae_parts == parts)) return LW_OK;
    vae_destroy(ctx->vae);
    ctx->vae = NULL;
    ctx->vae_parts = parts;
    return vae_load(ctx->device, ctx->paths[P_AE], parts, &ctx->vae, err);
}

/* The CLIP vision tower (only models with a LoRWeB basis have one). */
static enum lw_status need_clip(struct pipe_context *ctx, struct lw_error *err) {
    if (ctx->clip || !ctx->has_lorweb) return LW_OK;
    return clip_load(ctx->device, ctx->paths[P_CLIP], CLIP_VISION, &ctx->clip, err);
}

/* Every model off the device (host-side state, the prompt embeddings, is kept): the next request
 * loads them again. */
static void release_models(struct pipe_context *ctx) {
    flux_destroy(ctx->flux), vae_destroy(ctx->vae), clip_destroy(ctx->clip);
    ctx->flux = NULL, ctx->vae = NULL, ctx->clip = NULL;
    free(ctx->coeffs);
    ctx->coeffs = NULL, ctx->has_lorweb = false, ctx->encoded = false;
}

/* In low-memory mode, frees what the next stage does not need. */
static void shed(struct pipe_context *ctx, bool clip, bool vae) {
    if (!ctx->low_memory) return;
    if (clip) clip_destroy(ctx->clip), ctx->clip = NULL;
    if (vae) vae_destroy(ctx->vae), ctx->vae = NULL;
}

static enum lw_status ensure_loaded(struct pipe_context *ctx, struct lw_error *err) {
    if (ctx->flux) return LW_OK;
    enum lw_status            status;
    struct cmp_device_options dopt = {.select = ctx->opt.device, .cache_dir = ctx->opt.cache_dir};
    if (!ctx->device && (status = cmp_device_create(&dopt, &ctx->device, err))) return status;
    log_msg(ctx, PIPE_LOG_INFO, "device: %s", cmp_device_info(ctx->device)->name);
    const struct cmp_device_info *info = cmp_device_info(ctx->device);
    uint64_t models = file_bytes(ctx->paths[P_FLUX]) + file_bytes(ctx->paths[P_AE]) + file_bytes(ctx->paths[P_CLIP]);
    ctx->low_memory = ctx->opt.low_memory ||
                      (!info->unified_memory && info->device_local_bytes && models > info->device_local_bytes);
    if (ctx->low_memory)
        log_msg(ctx, PIPE_LOG_INFO, "low memory: CLIP and the autoencoder are loaded per stage (models %.1f GiB, "
                "device %.1f GiB)", models / 1073741824.0, info->device_local_bytes / 1073741824.0);
    if ((status = flux_load(ctx->device, ctx->paths[P_FLUX], &ctx->flux, err)) ||
        (!ctx->low_memory && (status = need_vae(ctx, VAE_BOTH, err))))
        goto fail;
    if (exists(ctx->paths[P_LORWEB])) {
        if ((status = lorweb_config_read(ctx->paths[P_CONFIG], &ctx->lorweb, err)))
            goto fail;
        if (strcmp(ctx->lorweb.query_mode, "cat-aa'b")) { /* the only query the pipeline builds */
            status = lw_error_set(err, LW_ERR_UNSUPPORTED,
                                  "%s: query_mode '%s': only \"cat-aa'b\" is supported",
                                  ctx->paths[P_CONFIG], ctx->lorweb.query_mode);
            goto fail;
        }
        if ((status = flux_lorweb_attach(ctx->flux, ctx->paths[P_LORWEB], err))) goto fail;
        ctx->has_lorweb = true;
        if (!ctx->low_memory && (status = need_clip(ctx, err))) goto fail;
        ctx->modules = flux_lorweb_modules(ctx->flux);
        ctx->basis = flux_lorweb_basis(ctx->flux);
        if (ctx->basis > PIPE_MAX_BASIS) {
            status = lw_error_set(err, LW_ERR_UNSUPPORTED, "%s: %d basis elements (at most %d)",
                                  ctx->paths[P_LORWEB], ctx->basis, PIPE_MAX_BASIS);
            goto fail;
        }
        ctx->coeffs = calloc((size_t)ctx->modules * ctx->basis, sizeof *ctx->coeffs);
        if (!ctx->coeffs) {
            status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
            goto fail;
        }
    }
    if ((status = conditioning_load(ctx, err))) goto fail;
    struct wt_file *f = NULL;
    if (wt_open(ctx->paths[P_FLUX], &f, NULL) == LW_OK) {
        const char *steps = wt_metadata(f, "lorweb.default_steps"), *size = wt_metadata(f, "lorweb.default_size");
        ctx->default_steps = steps ? atoi(steps) : 28;
        ctx->default_size = size ? atoi(size) : 0; /* 0: Kontext's preferred resolutions */
        wt_close(f);
    }
    snprintf(ctx->description, sizeof ctx->description, "%s; FLUX width %lld, %lld+%lld blocks; %s",
             cmp_device_info(ctx->device)->name, (long long)flux_config(ctx->flux)->hidden,
             (long long)flux_config(ctx->flux)->depth, (long long)flux_config(ctx->flux)->depth_single,
             ctx->has_lorweb ? "LoRWeB basis loaded" : "no LoRWeB basis (plain Kontext)");
    return LW_OK;
fail:
    release_models(ctx);
    return status;
}

static enum lw_status check_image(const char *name, const struct pipe_image *im, struct lw_error *err) {
    if (!im || !im->data || im->width <= 0 || im->height <= 0 || im->stride < (size_t)im->width * 4)
        return lw_error_set(err, LW_ERR_ARGUMENT, "image %s: missing or invalid (size %d×%d)", name,
                            im ? im->width : 0, im ? im->height : 0);
    if (im->width > 32768 || im->height > 32768)
        return lw_error_set(err, LW_ERR_ARGUMENT, "image %s: %d×%d is larger than 32768 pixels a side", name,
                            im->width, im->height);
    return LW_OK;
}

/* CLIP embedding of 8-bit RGB pixels (rows `stride` bytes apart) through CLIPImageProcessor's exact
 * preprocessing (resize.h: shortest side to the tower's size, centre crop, rescale, normalise). */
static enum lw_status clip_embed_rgb8(struct pipe_context *ctx, const uint8_t *rgb, int w, int h, size_t stride,
                                      float *embed, struct lw_error *err) {
    int            s = (int)clip_config(ctx->clip)->image_size;
    float         *px = malloc((size_t)3 * s * s * sizeof *px);
    enum lw_status status = px ? img_clip_pixels(rgb, w, h, stride, 3, s, px, err)
                               : lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    if (status == LW_OK) status = clip_vision_forward(ctx->clip, px, embed, NULL, err);
    free(px);
    return status;
}

/* The same for an RGBA float image (its 8-bit RGB first, as the reference's PIL images are). */
static enum lw_status clip_embed(struct pipe_context *ctx, const struct pipe_image *im, float *embed,
                                 struct lw_error *err) {
    int      w = im->width, h = im->height;
    uint8_t *rgb = malloc((size_t)w * h * 3);
    if (!rgb) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    img_to_rgb8(im->data, w, h, im->stride, 4, rgb);
    enum lw_status status = clip_embed_rgb8(ctx, rgb, w, h, (size_t)w * 3, embed, err);
    free(rgb);
    return status;
}

static enum lw_status apply_basis(struct pipe_context *ctx, const struct pipe_params *p, struct lw_error *err) {
    enum lw_status      status = LW_OK;
    float               c[PIPE_MAX_BASIS];
    struct mix_controls ctl = {.strength = 1, /* flux_lorweb_set applies the strength */
                               .bias = p->bias, .override = p->override, .override_set = p->override_set};
    for (int m = 0; m < ctx->modules && status == LW_OK; m++) {
        memcpy(c, ctx->coeffs + (size_t)m * ctx->basis, (size_t)ctx->basis * sizeof *c);
        status = mix_controls_apply(&ctx->lorweb, &ctl, c, ctx->basis, err);
        if (status == LW_OK) status = flux_lorweb_set(ctx->flux, m, c, p->strength, err);
    }
    return status;
}

/* The LoRWeB grid a | a′ / b | b as the reference builds it (grid.h): 8-bit RGB at a's size, a′ and b
 * resized to it, 2·aw × 2·ah. */
struct grid8 {
    uint8_t *rgb;
    int      w, h;
};

static void grid8_free(struct grid8 *g) {
    free(g->rgb);
    g->rgb = NULL;
}

static enum lw_status grid8_make(const struct pipe_image *a, const struct pipe_image *ap, const struct pipe_image *b,
                                 struct grid8 *g, struct lw_error *err) {
    const struct pipe_image *im[3] = {a, ap, b};
    uint8_t                 *rgb[3] = {0};
    enum lw_status           status = LW_OK;
    g->w = 2 * a->width, g->h = 2 * a->height;
    g->rgb = malloc((size_t)g->w * g->h * 3);
    for (int i = 0; i < 3; i++) rgb[i] = malloc((size_t)im[i]->width * im[i]->height * 3);
    if (!g->rgb || !rgb[0] || !rgb[1] || !rgb[2]) status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    for (int i = 0; i < 3 && status == LW_OK; i++)
        img_to_rgb8(im[i]->data, im[i]->width, im[i]->height, im[i]->stride, 4, rgb[i]);
    if (status == LW_OK)
        status = img_grid_build(rgb[0], a->width, a->height, (size_t)a->width * 3, rgb[1], ap->width, ap->height,
                                (size_t)ap->width * 3, rgb[2], b->width, b->height, (size_t)b->width * 3, g->rgb, err);
    for (int i = 0; i < 3; i++) free(rgb[i]);
    if (status != LW_OK) grid8_free(g);
    return status;
}

/* The query (cat-aa'b: CLIP image_embeds of the grid's quadrants a, a′, b, cut exactly) and every
 * module's mixing weights into ctx->coeffs. */
static enum lw_status encode_query(struct pipe_context *ctx, const struct grid8 *g, struct lw_error *err) {
    if (!ctx->has_lorweb) return LW_OK;
    enum lw_status status = need_clip(ctx, err);
    if (status != LW_OK) return status;
    const struct clip_config *cc = clip_config(ctx->clip);
    int64_t                   p = cc->projection;
    float                    *query = malloc((size_t)(3 * p) * sizeof *query);
    if (!query) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    for (int k = 0; k < 3 && status == LW_OK; k++) {
        int x0, y0, qw, qh;
        img_quadrant(g->w, g->h, k, &x0, &y0, &qw, &qh);
        status = clip_embed_rgb8(ctx, g->rgb + ((size_t)y0 * g->w + x0) * 3, qw, qh, (size_t)g->w * 3, query + k * p, err);
    }
    for (int m = 0; m < ctx->modules && status == LW_OK; m++) {
        const float *proj, *keys;
        int64_t      k, qd;
        flux_lorweb_query_params(ctx->flux, m, &proj, &keys, &k, &qd);
        if (qd != 3 * p) {
            status = lw_error_set(err, LW_ERR_SHAPE, "LoRWeB module %s expects a %lld-value query; CLIP "
                                  "gives 3 × %lld", flux_lorweb_module_name(ctx->flux, m), (long long)qd, (long long)p);
            break;
        }
        status = mix_coeffs(&ctx->lorweb, proj, keys, ctx->basis, k, qd, query,
                               ctx->coeffs + (size_t)m * ctx->basis, err);
    }
    free(query);
    ctx->encoded = status == LW_OK;
    return status;
}

/* After encode_query of (a, a′, b): the mixing weights of (a2, a2′, b) blended in with p->blend. */
static enum lw_status blend_query(struct pipe_context *ctx, const struct pipe_params *p, const struct pipe_image *b,
                                  struct lw_error *err) {
    size_t         count = (size_t)ctx->modules * ctx->basis;
    float         *first = malloc(count * sizeof *first);
    struct grid8   g2 = {0};
    if (!first) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    memcpy(first, ctx->coeffs, count * sizeof *first);
    enum lw_status status = grid8_make(p->blend_a, p->blend_a_prime, b, &g2, err);
    if (status == LW_OK) status = encode_query(ctx, &g2, err);
    if (status == LW_OK) status = mix_blend(first, ctx->coeffs, (int64_t)count, p->blend, ctx->coeffs, err);
    grid8_free(&g2);
    free(first);
    ctx->encoded = status == LW_OK;
    return status;
}

/* The size the grid is sampled at: long side `size` (the request, else the model's default) with the
 * grid's aspect, each side a multiple of `unit` (4f: quadrants on whole tokens); without either, Kontext's
 * preferred resolution nearest to the grid's aspect, as diffusers chooses it. */
static void grid_target(const struct pipe_context *ctx, int size, int unit, int gw, int gh, int *w, int *h) {
    if (size <= 0) size = ctx->default_size;
    if (size <= 0) {
        img_kontext_resolution(gw, gh, w, h);
        return;
    }
    double aspect = (double)gw / gh, tw = aspect >= 1 ? size : size * aspect, th = aspect >= 1 ? size / aspect : size;
    *w = (int)lround(tw / unit) * unit, *h = (int)lround(th / unit) * unit;
    if (*w < unit) *w = unit;
    if (*h < unit) *h = unit;
}

static enum lw_status encode_once(struct pipe_context *ctx, const struct pipe_image *a, const struct pipe_image *ap,
                           const struct pipe_image *b, struct lw_error *err) {
    enum lw_status status;
    if ((status = check_image("a", a, err)) || (status = check_image("a′", ap, err)) ||
        (status = check_image("b", b, err)) || (status = ensure_loaded(ctx, err)))
        return status;
    if (!ctx->has_lorweb) return lw_error_set(err, LW_ERR_ARGUMENT, "no LoRWeB basis loaded");
    struct grid8 g = {0};
    status = grid8_make(a, ap, b, &g, err);
    if (status == LW_OK) status = encode_query(ctx, &g, err);
    grid8_free(&g);
    shed(ctx, true, false);
    return status;
}

static enum lw_status embed_once(struct pipe_context *ctx, const struct pipe_image *image, float *embed, int max,
                          int *n, struct lw_error *err) {
    enum lw_status status;
    if ((status = check_image("image", image, err)) || (status = ensure_loaded(ctx, err)) ||
        (status = need_clip(ctx, err)))
        return status;
    if (!ctx->clip) return lw_error_set(err, LW_ERR_ARGUMENT, "no CLIP vision tower in this model");
    int p = (int)clip_config(ctx->clip)->projection;
    if (p > max) return lw_error_set(err, LW_ERR_ARGUMENT, "embedding of %d values, room for %d", p, max);
    status = clip_embed(ctx, image, embed, err);
    *n = p;
    shed(ctx, true, false);
    return status;
}

enum lw_status pipe_basis_weights(struct pipe_context *ctx, float *mean, int max, int *basis,
                                  struct lw_error *err) {
    if (!ctx->encoded) return lw_error_set(err, LW_ERR_ARGUMENT, "no triplet encoded yet");
    *basis = ctx->basis;
    for (int n = 0; n < ctx->basis && n < max; n++) {
        double s = 0;
        for (int m = 0; m < ctx->modules; m++) s += ctx->coeffs[(size_t)m * ctx->basis + n];
        mean[n] = (float)(s / ctx->modules);
    }
    return LW_OK;
}

struct step_state {
    struct pipe_context *ctx;
    struct preview_map   map;     /* latent → RGB, fitted on this run's context (preview.h) */
    bool                 preview; /* the map fitted */
    float               *x0, *rgba; /* scratch: clean-latent tokens, the preview pixels */
    int64_t              lh, lw;
    int                  every; /* pipe_params.preview_every */
};

/* Progress per step, with a preview of b′ (the bottom-right quadrant of the current clean-latent
 * prediction through the fitted map) every `preview_every` steps and at the last one. */
static bool on_step(void *user, int step, int steps) {
    struct step_state   *st = user;
    struct pipe_context *ctx = st->ctx;
    if (!ctx->opt.progress) return true;
    struct pipe_progress p = {.stage = PIPE_STAGE_DENOISE, .step = step, .steps = steps,
                              .fraction = 0.1 + 0.8 * step / steps};
    if (st->preview && step > 0 && (step % st->every == 0 || step == steps) &&
        flux_sample_x0(ctx->flux, st->x0, NULL) == LW_OK) {
        int w = (int)(st->lw / 2), h = (int)(st->lh / 2);
        preview_render(&st->map, st->x0, st->lh, st->lw, w, h, w, h, st->rgba);
        p.preview = st->rgba, p.preview_width = w, p.preview_height = h;
    }
    return ctx->opt.progress(ctx->opt.user, &p);
}

static bool progress(struct pipe_context *ctx, enum pipe_stage stage, double fraction) {
    if (!ctx->opt.progress) return true;
    struct pipe_progress p = {.stage = stage, .fraction = fraction};
    return ctx->opt.progress(ctx->opt.user, &p);
}

static enum lw_status run_once(struct pipe_context *ctx, const struct pipe_params *params, const struct pipe_image *a,
                        const struct pipe_image *ap, const struct pipe_image *b, struct pipe_image *out,
                        struct lw_error *err) {
    enum lw_status     status;
    struct pipe_params p = *params;
    if ((status = check_image("a", a, err)) || (status = check_image("a′", ap, err)) ||
        (status = check_image("b", b, err)) || (status = check_image("output", out, err)))
        return status;
    if (out->width != b->width || out->height != b->height)
        return lw_error_set(err, LW_ERR_ARGUMENT, "output is %d×%d, b is %d×%d", out->width, out->height,
                            b->width, b->height);
    if (p.blend_a && ((status = check_image("a2", p.blend_a, err)) || (status = check_image("a2′", p.blend_a_prime, err))))
        return status;
    if (!(p.blend >= 0 && p.blend <= 1))
        return lw_error_set(err, LW_ERR_ARGUMENT, "blend ratio %g: 0 … 1", p.blend);
    if (p.steps < 0 || p.steps > 1000 || p.strength < 0 || p.strength > 2 || p.keep_detail < 0 ||
        p.keep_detail > 1 || p.size < 0 || p.size > 8192 || !isfinite(p.guidance))
        return lw_error_set(err, LW_ERR_ARGUMENT, "parameters out of range (steps %d: 0 … 1000, strength %g: "
                            "0 … 2, keep-detail %g: 0 … 1, size %d: 0 … 8192)", p.steps, p.strength,
                            p.keep_detail, p.size);
    if (!progress(ctx, PIPE_STAGE_LOAD, 0.0)) return lw_error_set(err, LW_ERR_CANCELLED, "cancelled");
    if ((status = ensure_loaded(ctx, err))) return status;
    if (ctx->fixed_conditioning && p.prompt && *p.prompt)
        log_msg(ctx, PIPE_LOG_WARNING, "the prompt is ignored: this model uses a fixed conditioning");
    if ((status = prompt_encode(ctx, p.prompt ? p.prompt : "", err))) return status;
    if (p.steps == 0) p.steps = ctx->default_steps;
    if ((status = need_vae(ctx, ctx->low_memory ? VAE_ENCODER_ONLY : VAE_BOTH, err))) return status;
    const struct flux_config *fc = flux_config(ctx->flux);
    int64_t                   f = vae_downsampling(ctx->vae), z = vae_config(ctx->vae)->z_channels;
    if (z * 4 != fc->in_channels)
        return lw_error_set(err, LW_ERR_SHAPE, "autoencoder has %lld latent channels; the transformer packs %lld",
                            (long long)z, (long long)fc->in_channels);
    struct grid8 g8 = {0};
    float       *grid = NULL, *latent = NULL, *tokens = NULL, *noise = NULL, *result = NULL;
    float       *sigmas = NULL, *image = NULL, *crop = NULL, *full = NULL;
    int          gw, gh, qx, qy, qw, qh; /* the sampled grid; its bottom-right quadrant (b′) */
    if ((status = grid8_make(a, ap, b, &g8, err))) goto done;
    grid_target(ctx, p.size, (int)(4 * f), g8.w, g8.h, &gw, &gh);
    img_quadrant(gw, gh, 3, &qx, &qy, &qw, &qh);
    int64_t lh = gh / f, lw = gw / f, n = (lh / 2) * (lw / 2);
    log_msg(ctx, PIPE_LOG_INFO, "grid %d×%d (from %d×%d), %d steps", gw, gh, g8.w, g8.h, p.steps);
    if (!progress(ctx, PIPE_STAGE_ENCODE, 0.02)) goto cancelled;
    if (ctx->has_lorweb) {
        if ((status = encode_query(ctx, &g8, err)) || (p.blend_a && (status = blend_query(ctx, &p, b, err))) ||
            (status = apply_basis(ctx, &p, err)))
            goto done;
        float mean[PIPE_MAX_BASIS];
        int   nb = 0;
        pipe_basis_weights(ctx, mean, PIPE_MAX_BASIS, &nb, NULL);
        int top = 0;
        for (int i = 1; i < nb; i++) if (mean[i] > mean[top]) top = i;
        log_msg(ctx, PIPE_LOG_INFO, "mixing weights: %d modules × %d basis elements; largest mean weight %.3f "
                "(element %d)", ctx->modules, nb, nb ? mean[top] : 0.0, top);
    }
    grid = malloc((size_t)3 * gw * gh * sizeof *grid);
    latent = malloc((size_t)(z * lh * lw) * sizeof *latent);
    tokens = malloc((size_t)(n * 4 * z) * sizeof *tokens);
    noise = malloc((size_t)(n * 4 * z) * sizeof *noise);
    result = malloc((size_t)(n * 4 * z) * sizeof *result);
    sigmas = malloc((size_t)(p.steps + 1) * sizeof *sigmas);
    image = malloc((size_t)3 * gw * gh * sizeof *image);
    crop = malloc((size_t)qw * qh * 4 * sizeof *crop);
    full = malloc((size_t)b->width * b->height * 4 * sizeof *full);
    if (!grid || !latent || !tokens || !noise || !result || !sigmas || !image || !crop || !full) {
        status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory for a %d×%d grid", gw, gh);
        goto done;
    }
    /* the Kontext context image: the grid resized with Lanczos to gw × gh, CHW in [−1, 1] (grid.h) */
    if ((status = img_kontext_pixels(g8.rgb, g8.w, g8.h, (size_t)g8.w * 3, 3, gw, gh, grid, err))) goto done;
    shed(ctx, true, false); /* low memory: CLIP's part is done */
    status = vae_encode(ctx->vae, grid, gh, gw, latent, err);
    if (status == LW_ERR_TOO_LARGE || status == LW_ERR_DEVICE_MEMORY) { /* in row bands, exactly */
        log_msg(ctx, PIPE_LOG_INFO, "encoding the %d×%d grid in row bands (%s)", gw, gh, err->message);
        status = vae_encode_banded(ctx->vae, grid, gh, gw, 0, latent, err);
    }
    if (status) goto done;
    shed(ctx, false, true); /* … and the encoder's, before sampling */
    latent_pack(latent, z, lh, lw, tokens); /* 2×2 (spec §2.2) */
    struct preview_map map; /* for progress previews; failing to fit just means none */
    bool have_map = ctx->opt.progress && p.preview_every > 0 && preview_fit(latent, z, lh, lw, grid, f, &map, NULL) == LW_OK;
    if (!progress(ctx, PIPE_STAGE_ENCODE, 0.1)) goto cancelled;
    if (p.noise == PIPE_NOISE_TORCH_CUDA) {
        /* diffusers' FluxKontextPipeline: torch.randn((1, z, lh, lw), bf16) from a fresh CUDA
         * generator, then packed like the context. The layout is that of a GPU whose grid holds
         * the whole latent (an H100 up to ≈1 MP; see philox.h). `latent` is free until unpack. */
        if ((status = rng_torch_cuda_randn(p.seed, 0, NULL, latent, z * lh * lw, err))) goto done;
        rng_round_bf16(latent, (size_t)(z * lh * lw));
        latent_pack(latent, z, lh, lw, noise);
    } else {
        rng_normal_fill(p.seed, 0, noise, (size_t)(n * 4 * z));
    }
    if ((status = sched_sigmas(p.steps, n, sigmas, err))) goto done;
    struct flux_inputs in = {.txt = ctx->txt, .t_tokens = ctx->t_tokens, .y = ctx->y, .grid_h = lh / 2,
                             .grid_w = lw / 2, .context = tokens, .ctx_grid_h = lh / 2, .ctx_grid_w = lw / 2,
                             .guidance = p.guidance};
    struct step_state st = {.ctx = ctx, .x0 = result, .lh = lh, .lw = lw, .every = p.preview_every};
    /* previews only when asked and seen; a failed fit (or no memory) just means none */
    st.rgba = have_map && p.preview_every > 0 ? malloc((size_t)(lh / 2) * (lw / 2) * 4 * sizeof *st.rgba) : NULL;
    st.preview = st.rgba && have_map;
    if (have_map) st.map = map;
    int merged = 0;
    if (p.merge_weights && ctx->has_lorweb && p.strength > 0) {
        status = flux_lorweb_merge(ctx->flux, &merged, err);
        log_msg(ctx, PIPE_LOG_INFO, "basis merged into %d of %d modules' weights for this run", merged, ctx->modules);
    }
    if (status == LW_OK) status = flux_sample(ctx->flux, &in, noise, sigmas, p.steps, on_step, &st, result, err);
    if (merged) { /* the weights as loaded again, whatever happened */
        struct lw_error restore_err = {0};
        enum lw_status  restored = flux_lorweb_unmerge(ctx->flux, &restore_err);
        if (restored != LW_OK) { /* not as loaded: drop the models, the next request loads them */
            log_msg(ctx, PIPE_LOG_WARNING, "restoring the merged weights failed (%s): the models are reloaded",
                    restore_err.message);
            release_models(ctx);
            if (status == LW_OK) status = restored, *err = restore_err;
        }
    }
    free(st.rgba);
    if (status) goto done;
    latent_unpack(result, z, lh, lw, latent);
    if (!progress(ctx, PIPE_STAGE_DECODE, 0.9)) goto cancelled;
    if ((status = need_vae(ctx, ctx->low_memory ? VAE_DECODER_ONLY : VAE_BOTH, err))) goto done;
    status = vae_decode(ctx->vae, latent, lh, lw, image, err);
    if (status == LW_ERR_TOO_LARGE || status == LW_ERR_DEVICE_MEMORY) { /* in row bands, exactly */
        log_msg(ctx, PIPE_LOG_INFO, "decoding the %d×%d grid in row bands (%s)", gw, gh, err->message);
        status = vae_decode_banded(ctx->vae, latent, lh, lw, 0, image, err);
    }
    if (status) goto done;
    shed(ctx, false, true);
    for (int y = 0; y < qh; y++) /* the bottom-right quadrant, exactly, as RGBA */
        for (int x = 0; x < qw; x++) {
            for (int c = 0; c < 3; c++) {
                float v = image[((size_t)c * gh + qy + y) * gw + qx + x];
                v = v < -1 ? -1 : v > 1 ? 1 : v;
                crop[((size_t)y * qw + x) * 4 + c] = (v + 1) / 2;
            }
            crop[((size_t)y * qw + x) * 4 + 3] = 1;
        }
    if (!progress(ctx, PIPE_STAGE_DETAIL, 0.95)) goto cancelled;
    if ((status = img_resize(crop, qw, qh, (size_t)qw * 4, 4, full, b->width, b->height, IMG_BICUBIC, err))) goto done;
    float *rgb = malloc((size_t)b->width * b->height * 3 * sizeof *rgb);
    if (!rgb) {
        status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
        goto done;
    }
    for (size_t i = 0; i < (size_t)b->width * b->height; i++)
        for (int c = 0; c < 3; c++) rgb[i * 3 + c] = full[i * 4 + c];
    status = detail_transfer(ctx->device, b->data, b->stride, rgb, b->width, b->height, p.keep_detail,
                             (float)qw / (float)b->width, err);
    if (status != LW_OK) {
        free(rgb);
        goto done;
    }
    for (int y = 0; y < b->height; y++)
        for (int x = 0; x < b->width; x++) {
            float *o = out->data + (size_t)y * out->stride + (size_t)x * 4;
            for (int c = 0; c < 3; c++) {
                float v = rgb[((size_t)y * b->width + x) * 3 + c];
                o[c] = v < 0 ? 0 : v > 1 ? 1 : v;
            }
            o[3] = b->data[(size_t)y * b->stride + (size_t)x * 4 + 3];
        }
    free(rgb);
    progress(ctx, PIPE_STAGE_DETAIL, 1.0);
    goto done;
cancelled:
    status = lw_error_set(err, LW_ERR_CANCELLED, "cancelled");
done:
    shed(ctx, true, true); /* also after a failure or cancel */
    grid8_free(&g8);
    free(grid), free(latent), free(tokens), free(noise), free(result), free(sigmas), free(image), free(crop), free(full);
    return status;
}

/* A lost device (VK_ERROR_DEVICE_LOST: a driver reset, a GPU hang, an unplugged eGPU) invalidates
 * everything made on it: release it all, so the next request loads the models again on a new device.
 * Host-side state (the prompt embeddings) is kept. */
static enum lw_status recover_if_lost(struct pipe_context *ctx, enum lw_status status) {
    if (status != LW_ERR_DEVICE_LOST && !cmp_device_lost(ctx->device)) return status;
    log_msg(ctx, PIPE_LOG_WARNING, "the device was lost; it is created again on the next request");
    release_models(ctx);
    cmp_device_destroy(ctx->device);
    ctx->device = NULL;
    return LW_ERR_DEVICE_LOST;
}

enum lw_status pipe_encode(struct pipe_context *ctx, const struct pipe_image *a, const struct pipe_image *ap,
                           const struct pipe_image *b, struct lw_error *err) {
    return recover_if_lost(ctx, encode_once(ctx, a, ap, b, err));
}

enum lw_status pipe_embed(struct pipe_context *ctx, const struct pipe_image *image, float *embed, int max,
                          int *n, struct lw_error *err) {
    return recover_if_lost(ctx, embed_once(ctx, image, embed, max, n, err));
}

enum lw_status pipe_run(struct pipe_context *ctx, const struct pipe_params *params, const struct pipe_image *a,
                        const struct pipe_image *ap, const struct pipe_image *b, struct pipe_image *out,
                        struct lw_error *err) {
    return recover_if_lost(ctx, run_once(ctx, params, a, ap, b, out, err));
}
