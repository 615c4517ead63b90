/* `lorweb component NAME`: runs one model component on tensors read from safetensors files and writes
 * its outputs to a safetensors file — the conformance contract of shared/docs/component-io.md. Inputs
 * of several files are merged by name; unused tensors are ignored; outputs are F32. Any error is one
 * line on stderr naming the file, tensor or value, and a non-zero exit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clip.h"
#include "compute.h"
#include "flux.h"
#include "latent_tokens.h"
#include "lorweb.h"
#include "lorweb_mix.h"
#include "schedule.h"
#include "t5.h"
#include "vae.h"
#include "weights.h"

#define MAX_INPUTS 8
#define MAX_OUTPUTS 1024

struct component_args {
    const char     *name, *weights, *lorweb, *lorweb_config, *output;
    const char     *decode; /* sample: also unpack and decode the latent with this autoencoder */
    const char     *inputs[MAX_INPUTS];
    int             input_count, steps;
    int64_t         image_seq_len;
    struct wt_file *files[MAX_INPUTS];
};

/* Outputs collected by a component, written at the end. */
struct outputs {
    struct wt_tensor tensors[MAX_OUTPUTS];
    float           *data[MAX_OUTPUTS];
    char            *names[MAX_OUTPUTS];
    size_t           count;
};

static float *output_add(struct outputs *o, const char *name, int ndim, const int64_t *shape) {
    if (o->count == MAX_OUTPUTS) return NULL;
    uint64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (uint64_t)shape[i];
    float *data = calloc(n ? n : 1, sizeof *data);
    char  *copy = strdup(name);
    if (!data || !copy) {
        free(data), free(copy);
        return NULL;
    }
    struct wt_tensor *t = &o->tensors[o->count];
    *t = (struct wt_tensor){.name = copy, .dtype = LW_DTYPE_F32, .ndim = ndim, .data = data, .bytes = n * 4};
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    o->data[o->count] = data;
    o->names[o->count++] = copy;
    return data;
}

/* Finds an input tensor in any input file. */
static const struct wt_tensor *input(struct component_args *a, const char *name) {
    for (int i = 0; i < a->input_count; i++) {
        const struct wt_tensor *t = wt_find(a->files[i], name);
        if (t) return t;
    }
    return NULL;
}

/* Reads input `name` as f32 with exactly `count` elements (any count when count is 0: returned in
 * *got). NULL with a message on error. */
static float *input_f32(struct component_args *a, const char *name, uint64_t count, uint64_t *got,
                        bool required, struct lw_error *err) {
    const struct wt_tensor *t = input(a, name);
    if (!t) {
        if (required) lw_error_set(err, LW_ERR_MISSING, "input tensor %s is missing", name);
        return NULL;
    }
    uint64_t n = wt_elements(t);
    if (count && n != count) {
        lw_error_set(err, LW_ERR_SHAPE, "%s: input tensor %s has %llu elements, expected %llu", t->file,
                     name, (unsigned long long)n, (unsigned long long)count);
        return NULL;
    }
    float *out = malloc((n ? n : 1) * sizeof *out);
    if (!out) {
        lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
        return NULL;
    }
    if (wt_read_f32(t, out, n, err) != LW_OK) {
        free(out);
        return NULL;
    }
    if (got) *got = n;
    return out;
}

static const struct wt_tensor *input_shape(struct component_args *a, const char *name, int ndim,
                                           struct lw_error *err) {
    const struct wt_tensor *t = input(a, name);
    if (!t) lw_error_set(err, LW_ERR_MISSING, "input tensor %s is missing", name);
    else if (t->ndim != ndim) {
        lw_error_set(err, LW_ERR_SHAPE, "%s: input tensor %s has %d dimensions, expected %d", t->file, name,
                     t->ndim, ndim);
        return NULL;
    }
    return t;
}

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            status = err->status ? err->status : LW_ERR_ARGUMENT;                                  \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

static enum lw_status run_schedule(struct component_args *a, struct cmp_device *dev, struct outputs *o,
                                   struct lw_error *err) {
    (void)dev;
    if (a->steps <= 0 || a->steps > 10000 || a->image_seq_len <= 0)
        return lw_error_set(err, LW_ERR_ARGUMENT, "schedule needs --steps N (1 … 10000) and --image-seq-len N");
    float *s = output_add(o, "sigmas", 1, (int64_t[]){a->steps + 1});
    if (!s) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    return sched_sigmas(a->steps, a->image_seq_len, s, err);
}

/* Computes and applies the LoRWeB coefficients of every module from the `query` input. */
static enum lw_status apply_lorweb(struct component_args *a, struct flux_model *m, struct outputs *o,
                                   struct lw_error *err) {
    enum lw_status       status;
    struct lorweb_config cfg;
    if (!a->lorweb_config) return lw_error_set(err, LW_ERR_ARGUMENT, "--lorweb needs --lorweb-config");
    if ((status = lorweb_config_read(a->lorweb_config, &cfg, err))) return status;
    if ((status = flux_lorweb_attach(m, a->lorweb, err))) return status;
    uint64_t qn = 0;
    float   *query = input_f32(a, "query", 0, &qn, true, err);
    if (!query) return err->status;
    float coeffs[1024];
    int   n = flux_lorweb_basis(m);
    for (int i = 0; i < flux_lorweb_modules(m) && status == LW_OK; i++) {
        const float *p, *keys;
        int64_t      k, q;
        flux_lorweb_query_params(m, i, &p, &keys, &k, &q);
        if ((uint64_t)q != qn) {
            status = lw_error_set(err, LW_ERR_SHAPE, "input tensor query has %llu values, module %s wants %lld",
                                  (unsigned long long)qn, flux_lorweb_module_name(m, i), (long long)q);
            break;
        }
        if (n > 1024) status = lw_error_set(err, LW_ERR_UNSUPPORTED, "more than 1024 basis elements");
        if (status == LW_OK) status = mix_coeffs(&cfg, p, keys, n, k, q, query, coeffs, err);
        if (status == LW_OK) status = flux_lorweb_set(m, i, coeffs, 1.0f, err);
        if (status == LW_OK && o) {
            char name[256];
            snprintf(name, sizeof name, "transformer.%s.coeffs", flux_lorweb_module_name(m, i));
            float *out = output_add(o, name, 1, (int64_t[]){n});
            if (!out) status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
            else memcpy(out, coeffs, (size_t)n * sizeof *coeffs);
        }
    }
    free(query);
    return status;
}

static enum lw_status run_lorweb_coeffs(struct component_args *a, struct cmp_device *dev,
                                        struct outputs *o, struct lw_error *err) {
    enum lw_status       status;
    struct lorweb_config cfg;
    struct wt_file      *f = NULL;
    if (!a->lorweb || !a->lorweb_config)
        return lw_error_set(err, LW_ERR_ARGUMENT, "lorweb-coeffs needs --lorweb and --lorweb-config");
    (void)dev;
    if ((status = lorweb_config_read(a->lorweb_config, &cfg, err))) return status;
    if ((status = wt_open(a->lorweb, &f, err))) return status;
    uint64_t qn = 0;
    float   *query = input_f32(a, "query", 0, &qn, true, err);
    if (!query) {
        wt_close(f);
        return err->status;
    }
    for (size_t i = 0; i < wt_count(f) && status == LW_OK; i++) {
        const char *name = wt_at(f, i)->name, *end = strstr(name, ".lora_keys");
        if (!end || end[10]) continue;
        char module[256], pname[300];
        snprintf(module, sizeof module, "%.*s", (int)(end - name), name);
        snprintf(pname, sizeof pname, "%s.att_lora_to_q.weight", module);
        const struct wt_tensor *tk = wt_at(f, i), *tp = wt_find(f, pname);
        if (!tp || tp->ndim != 2 || tk->ndim != 2 || tp->shape[0] != tk->shape[1] || (uint64_t)tp->shape[1] != qn) {
            status = lw_error_set(err, LW_ERR_SHAPE, "%s: module %s: att_lora_to_q missing or not [K, %llu]",
                                  a->lorweb, module, (unsigned long long)qn);
            break;
        }
        int64_t n = tk->shape[0], k = tk->shape[1];
        float  *keys = malloc((size_t)(n * k) * 4), *p = malloc((size_t)(k * (int64_t)qn) * 4);
        char    out_name[300];
        snprintf(out_name, sizeof out_name, "%s.coeffs", module);
        float *out = output_add(o, out_name, 1, &n);
        if (!keys || !p || !out) status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
        if (status == LW_OK) status = wt_read_f32(tk, keys, (uint64_t)(n * k), err);
        if (status == LW_OK) status = wt_read_f32(tp, p, (uint64_t)k * qn, err);
        if (status == LW_OK) status = mix_coeffs(&cfg, p, keys, n, k, (int64_t)qn, query, out, err);
        free(keys), free(p);
    }
    free(query);
    wt_close(f);
    return status;
}

/* Builds flux inputs from the component's tensors (flux and sample share them). */
struct flux_tensors {
    float *txt, *txt_ids, *y, *ctx, *ctx_ids, *img_ids;
};

static enum lw_status flux_inputs_read(struct component_args *a, const struct flux_config *c,
                                       const char *noise_name, struct flux_inputs *in,
                                       struct flux_tensors *t, int64_t *n_tokens, struct lw_error *err) {
    const struct wt_tensor *noise = input_shape(a, noise_name, 3, err);
    const struct wt_tensor *txt = noise ? input_shape(a, "txt", 3, err) : NULL;
    if (!noise || !txt) return err->status;
    if (noise->shape[2] != c->in_channels || txt->shape[2] != c->context_in)
        return lw_error_set(err, LW_ERR_SHAPE, "input %s must be [1, N, %lld] and txt [1, T, %lld]", noise_name,
                            (long long)c->in_channels, (long long)c->context_in);
    int64_t n = noise->shape[1], tt = txt->shape[1];
    memset(in, 0, sizeof *in);
    t->txt = input_f32(a, "txt", (uint64_t)(tt * c->context_in), NULL, true, err);
    t->y = t->txt ? input_f32(a, "y", (uint64_t)c->vec_in, NULL, true, err) : NULL;
    if (!t->y) return err->status;
    t->txt_ids = input_f32(a, "txt_ids", (uint64_t)tt * 3, NULL, false, err);
    t->img_ids = input_f32(a, "img_ids", (uint64_t)n * 3, NULL, false, err);
    const struct wt_tensor *ctx = input(a, "ctx");
    int64_t                 cn = 0;
    if (ctx) {
        if (ctx->ndim != 3 || ctx->shape[2] != c->in_channels)
            return lw_error_set(err, LW_ERR_SHAPE, "input tensor ctx must be [1, C, %lld]", (long long)c->in_channels);
        cn = ctx->shape[1];
        t->ctx = input_f32(a, "ctx", (uint64_t)(cn * c->in_channels), NULL, true, err);
        t->ctx_ids = input_f32(a, "ctx_ids", (uint64_t)cn * 3, NULL, true, err);
        if (!t->ctx || !t->ctx_ids) return err->status;
    }
    const struct wt_tensor *g = input(a, "guidance");
    float                   gv = 2.5f;
    if (g && wt_elements(g) == 1) wt_read_f32(g, &gv, 1, err);
    *in = (struct flux_inputs){.txt = t->txt, .t_tokens = tt, .y = t->y, .grid_h = 1, .grid_w = n,
                               .context = t->ctx, .ctx_grid_h = 1, .ctx_grid_w = cn, .txt_ids = t->txt_ids,
                               .img_ids = t->img_ids, .ctx_ids = t->ctx_ids, .guidance = gv};
    if (!t->img_ids || (cn && !t->ctx_ids))
        return lw_error_set(err, LW_ERR_MISSING, "input tensors img_ids (and ctx_ids with ctx) are required");
    *n_tokens = n;
    return LW_OK;
}

static void flux_tensors_free(struct flux_tensors *t) {
    free(t->txt), free(t->txt_ids), free(t->y), free(t->ctx), free(t->ctx_ids), free(t->img_ids);
}

/* `sample --decode AE`: the sampled tokens unpacked (latent_tokens.h) on the token grid their ids
 * (0, row, column) span, and decoded, as `decoded` [1, 3, 2·f·rows, 2·f·columns], unclamped (what
 * the pipeline crops b′ from). */
static enum lw_status decode_tokens(struct component_args *a, struct cmp_device *dev, struct outputs *o,
                                    const float *tokens, const float *ids, int64_t n, struct lw_error *err) {
    int64_t gh = 0, gw = 0;
    for (int64_t i = 0; ids && i < n; i++) {
        if (ids[3 * i + 1] + 1 > gh) gh = (int64_t)ids[3 * i + 1] + 1;
        if (ids[3 * i + 2] + 1 > gw) gw = (int64_t)ids[3 * i + 2] + 1;
    }
    if (!ids || gh * gw != n)
        return lw_error_set(err, LW_ERR_ARGUMENT, "sample --decode: img_ids must span the %lld noise tokens as a "
                            "grid (got %lld × %lld)", (long long)n, (long long)gh, (long long)gw);
    struct vae_model *vae = NULL;
    enum lw_status    status = vae_load(dev, a->decode, VAE_DECODER_ONLY, &vae, err);
    if (status) return status;
    int64_t z = vae_config(vae)->z_channels, f = vae_downsampling(vae);
    float  *latent = malloc((size_t)(z * 4 * gh * gw) * sizeof *latent);
    float  *out = output_add(o, "decoded", 4, (int64_t[]){1, 3, 2 * gh * f, 2 * gw * f});
    if (!latent || !out) status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    if (status == LW_OK) {
        latent_unpack(tokens, z, 2 * gh, 2 * gw, latent);
        status = vae_decode(vae, latent, 2 * gh, 2 * gw, out, err);
    }
    free(latent);
    vae_destroy(vae);
    return status;
}

static enum lw_status run_flux(struct component_args *a, struct cmp_device *dev, struct outputs *o,
                               struct lw_error *err, bool sample) {
    struct flux_model  *m = NULL;
    struct flux_inputs  in;
    struct flux_tensors t = {0};
    float              *x = NULL, *sigmas = NULL;
    int64_t             n = 0;
    enum lw_status      status;
    if (!a->weights) return lw_error_set(err, LW_ERR_ARGUMENT, "%s needs --weights", a->name);
    if ((status = flux_load(dev, a->weights, &m, err))) return status;
    const struct flux_config *c = flux_config(m);
    if (a->lorweb && (status = apply_lorweb(a, m, NULL, err))) goto done;
    if ((status = flux_inputs_read(a, c, sample ? "noise" : "img", &in, &t, &n, err))) goto done;
    x = input_f32(a, sample ? "noise" : "img", (uint64_t)(n * c->in_channels), NULL, true, err);
    REQUIRE(x);
    float *out = output_add(o, sample ? "latent" : "out", 3, (int64_t[]){1, n, sample ? c->in_channels : c->out_channels});
    REQUIRE(out || lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory") == LW_OK);
    if (sample) {
        int steps = a->steps;
        const struct wt_tensor *ts = input(a, "steps");
        if (ts && wt_elements(ts) == 1) {
            float v;
            wt_read_f32(ts, &v, 1, err);
            steps = (int)v;
        }
        if (steps <= 0 || steps > 1000) {
            status = lw_error_set(err, LW_ERR_ARGUMENT, "sample: steps %d (1 … 1000; input `steps` or --steps)", steps);
            goto done;
        }
        sigmas = malloc((size_t)(steps + 1) * sizeof *sigmas);
        REQUIRE(sigmas || lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory") == LW_OK);
        status = sched_sigmas(steps, n, sigmas, err);
        if (status == LW_OK) status = flux_sample(m, &in, x, sigmas, steps, NULL, NULL, out, err);
        if (status == LW_OK && a->decode) status = decode_tokens(a, dev, o, out, in.img_ids, n, err);
    } else {
        float tv = 0;
        const struct wt_tensor *ts = input(a, "timesteps");
        if (!ts || wt_elements(ts) != 1) {
            status = lw_error_set(err, LW_ERR_MISSING, "input tensor timesteps [1] is missing");
            goto done;
        }
        wt_read_f32(ts, &tv, 1, err);
        status = flux_forward(m, &in, x, tv, out, err);
    }
    if (status == LW_OK) {
        struct flux_memory mem;
        const double       mib = 1048576.0;
        flux_memory_get(m, &mem);
        fprintf(stderr, "flux: weights %.1f MiB resident, %.1f MiB streamed (%d of %d blocks, slots %.1f MiB), "
                "%.1f MiB staged for conditioning, LoRWeB %.1f MiB; activations %.1f MiB\n", mem.resident / mib,
                mem.streamed / mib, mem.streamed_blocks, mem.blocks, mem.slots / mib, mem.conditioning / mib,
                mem.lorweb / mib, mem.activations / mib);
        fprintf(stderr, "peak device memory: %.1f MiB\n", cmp_device_peak_bytes(dev) / mib);
    }
done:
    flux_tensors_free(&t);
    free(x), free(sigmas);
    flux_destroy(m);
    return status;
}

static enum lw_status run_flux_forward(struct component_args *a, struct cmp_device *dev, struct outputs *o,
                                       struct lw_error *err) {
    return run_flux(a, dev, o, err, false);
}

static enum lw_status run_flux_sample(struct component_args *a, struct cmp_device *dev, struct outputs *o,
                                      struct lw_error *err) {
    return run_flux(a, dev, o, err, true);
}

static enum lw_status run_ae(struct component_args *a, struct cmp_device *dev, struct outputs *o,
                             struct lw_error *err, bool encode) {
    struct vae_model *m = NULL;
    float            *x = NULL;
    enum lw_status    status;
    if (!a->weights) return lw_error_set(err, LW_ERR_ARGUMENT, "%s needs --weights", a->name);
    if ((status = vae_load(dev, a->weights, encode ? VAE_ENCODER_ONLY : VAE_DECODER_ONLY, &m, err))) return status;
    const struct vae_config *c = vae_config(m);
    int64_t                  f = vae_downsampling(m);
    const struct wt_tensor  *t = input_shape(a, encode ? "image" : "latent", 4, err);
    REQUIRE(t);
    int64_t h = t->shape[2], w = t->shape[3];
    if (t->shape[0] != 1 || t->shape[1] != (encode ? 3 : c->z_channels)) {
        status = lw_error_set(err, LW_ERR_SHAPE, "%s: input %s must be [1, %lld, H, W]", t->file, t->name,
                              (long long)(encode ? 3 : c->z_channels));
        goto done;
    }
    x = input_f32(a, t->name, 0, NULL, true, err);
    REQUIRE(x);
    float *out = encode ? output_add(o, "encoded", 4, (int64_t[]){1, c->z_channels, h / f, w / f})
                        : output_add(o, "decoded", 4, (int64_t[]){1, 3, h * f, w * f});
    REQUIRE(out || lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory") == LW_OK);
    status = encode ? vae_encode(m, x, h, w, out, err) : vae_decode(m, x, h, w, out, err);
done:
    free(x);
    vae_destroy(m);
    return status;
}

static enum lw_status run_ae_encode(struct component_args *a, struct cmp_device *dev, struct outputs *o,
                                    struct lw_error *err) {
    return run_ae(a, dev, o, err, true);
}

static enum lw_status run_ae_decode(struct component_args *a, struct cmp_device *dev, struct outputs *o,
                                    struct lw_error *err) {
    return run_ae(a, dev, o, err, false);
}

static enum lw_status run_clip_vision(struct component_args *a, struct cmp_device *dev, struct outputs *o,
                                      struct lw_error *err) {
    struct clip_model *m = NULL;
    float             *px = NULL;
    enum lw_status     status;
    if (!a->weights) return lw_error_set(err, LW_ERR_ARGUMENT, "clip-vision needs --weights");
    if ((status = clip_load(dev, a->weights, CLIP_VISION, &m, err))) return status;
    const struct clip_config *c = clip_config(m);
    int64_t                   s = c->image_size, tokens = (s / c->patch) * (s / c->patch) + 1;
    px = input_f32(a, "pixel_values", (uint64_t)(3 * s * s), NULL, true, err);
    REQUIRE(px);
    float *e = output_add(o, "image_embeds", 2, (int64_t[]){1, c->projection});
    float *h = output_add(o, "last_hidden_state", 3, (int64_t[]){1, tokens, c->hidden});
    REQUIRE((e && h) || lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory") == LW_OK);
    status = clip_vision_forward(m, px, e, h, err);
done:
    free(px);
    clip_destroy(m);
    return status;
}

static int32_t *input_ids(struct component_args *a, uint64_t *n, struct lw_error *err) {
    float *f = input_f32(a, "input_ids", 0, n, true, err);
    if (!f) return NULL;
    int32_t *ids = malloc((*n ? *n : 1) * sizeof *ids);
    for (uint64_t i = 0; ids && i < *n; i++) ids[i] = (int32_t)f[i];
    free(f);
    return ids;
}

static enum lw_status run_clip_text(struct component_args *a, struct cmp_device *dev, struct outputs *o,
                                    struct lw_error *err) {
    struct clip_model *m = NULL;
    int32_t           *ids = NULL;
    uint64_t           n = 0;
    enum lw_status     status;
    if (!a->weights) return lw_error_set(err, LW_ERR_ARGUMENT, "clip-text needs --weights");
    if ((status = clip_load(dev, a->weights, CLIP_TEXT, &m, err))) return status;
    const struct clip_config *c = clip_config(m);
    ids = input_ids(a, &n, err);
    REQUIRE(ids);
    float *pooled = output_add(o, "pooled", 2, (int64_t[]){1, c->hidden});
    float *h = output_add(o, "last_hidden_state", 3, (int64_t[]){1, (int64_t)n, c->hidden});
    REQUIRE((pooled && h) || lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory") == LW_OK);
    status = clip_text_forward(m, ids, (int64_t)n, pooled, h, err);
done:
    free(ids);
    clip_destroy(m);
    return status;
}

static enum lw_status run_t5(struct component_args *a, struct cmp_device *dev, struct outputs *o,
                             struct lw_error *err) {
    struct t5_model *m = NULL;
    int32_t         *ids = NULL;
    uint64_t         n = 0;
    enum lw_status   status;
    if (!a->weights) return lw_error_set(err, LW_ERR_ARGUMENT, "t5 needs --weights");
    if ((status = t5_load(dev, a->weights, &m, err))) return status;
    ids = input_ids(a, &n, err);
    REQUIRE(ids);
    float *h = output_add(o, "last_hidden_state", 3, (int64_t[]){1, (int64_t)n, t5_config(m)->d_model});
    REQUIRE(h || lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory") == LW_OK);
    status = t5_forward(m, ids, (int64_t)n, h, err);
done:
    free(ids);
    t5_destroy(m);
    return status;
}

static const struct {
    const char *name;
    enum lw_status (*run)(struct component_args *, struct cmp_device *, struct outputs *, struct lw_error *);
    bool needs_device;
} components[] = {
    {"schedule", run_schedule, false},          {"lorweb-coeffs", run_lorweb_coeffs, false},
    {"flux", run_flux_forward, true},           {"sample", run_flux_sample, true},
    {"ae-encode", run_ae_encode, true},         {"ae-decode", run_ae_decode, true},
    {"clip-vision", run_clip_vision, true},     {"clip-text", run_clip_text, true},
    {"t5", run_t5, true},
};

static int usage(void) {
    fprintf(stderr, "usage: lorweb component NAME [--weights FILE] [--lorweb FILE --lorweb-config FILE]\n"
                    "                         [--input FILE]... --output FILE [--steps N] [--image-seq-len N]\n"
                    "                         [--decode AE_FILE]   (sample: also the decoded image)\n"
                    "components:");
    for (size_t i = 0; i < sizeof components / sizeof components[0]; i++) fprintf(stderr, " %s", components[i].name);
    fprintf(stderr, "\n");
    return 2;
}

int cli_component(int argc, char **argv) {
    struct component_args a = {0};
    if (argc < 1) return usage();
    a.name = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val) {
            fprintf(stderr, "lorweb component: %s needs a value\n", opt);
            return 2;
        }
        i++;
        if (!strcmp(opt, "--weights")) a.weights = val;
        else if (!strcmp(opt, "--lorweb")) a.lorweb = val;
        else if (!strcmp(opt, "--lorweb-config")) a.lorweb_config = val;
        else if (!strcmp(opt, "--output")) a.output = val;
        else if (!strcmp(opt, "--decode")) a.decode = val;
        else if (!strcmp(opt, "--steps")) a.steps = atoi(val);
        else if (!strcmp(opt, "--image-seq-len")) a.image_seq_len = atoll(val);
        else if (!strcmp(opt, "--input") && a.input_count < MAX_INPUTS) a.inputs[a.input_count++] = val;
        else {
            fprintf(stderr, "lorweb component: unknown or repeated option %s\n", opt);
            return 2;
        }
    }
    size_t which = 0;
    while (which < sizeof components / sizeof components[0] && strcmp(components[which].name, a.name)) which++;
    if (which == sizeof components / sizeof components[0]) { /* one line, as every error here */
        fprintf(stderr, "lorweb component: unknown component '%s' (known:", a.name);
        for (size_t i = 0; i < sizeof components / sizeof components[0]; i++) fprintf(stderr, " %s", components[i].name);
        fprintf(stderr, ")\n");
        return 2;
    }
    if (!a.output) {
        fprintf(stderr, "lorweb component: --output FILE is required\n");
        return 2;
    }
    struct lw_error    err = {0};
    enum lw_status     status = LW_OK;
    struct cmp_device *dev = NULL;
    struct outputs    *o = calloc(1, sizeof *o);
    if (!o) status = lw_error_set(&err, LW_ERR_HOST_MEMORY, "out of host memory");
    for (int i = 0; i < a.input_count && status == LW_OK; i++) status = wt_open(a.inputs[i], &a.files[i], &err);
    if (status == LW_OK && components[which].needs_device) status = cmp_device_create(NULL, &dev, &err);
    if (status == LW_OK) status = components[which].run(&a, dev, o, &err);
    if (status == LW_OK) status = wt_write_safetensors(a.output, o->tensors, o->count, NULL, &err);
    for (size_t i = 0; o && i < o->count; i++) free(o->data[i]), free(o->names[i]);
    free(o);
    for (int i = 0; i < a.input_count; i++) wt_close(a.files[i]);
    cmp_device_destroy(dev);
    if (status != LW_OK) {
        fprintf(stderr, "lorweb component %s: %s: %s\n", a.name, lw_status_str(status), err.message);
        return 1;
    }
    return 0;
}
