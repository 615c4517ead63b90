/* The analogy pipeline: a, a′, b → b′ with LoRWeB on FLUX.1 Kontext. The only engine header that
 * plugin/ and cli/ include (style.md §4.2).
 *
 * One context handle (owns the device and the loaded models, kept resident between runs; in
 * low-memory mode CLIP and the autoencoder only for their stage, see pipe_options), one
 * parameter struct with a _defaults() function, one run call. Images are caller-owned float RGBA
 * buffers (non-linear sRGB values in [0, 1], straight alpha); the result is written into a
 * caller-owned buffer. Progress and cancel go through one callback on the context; logging through
 * one log callback. The engine never prints.
 *
 * Threading: one thread at a time per context. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define PIPE_MAX_BASIS 64

struct pipe_context;

/* Where the model files are. Any path may be NULL: `model_dir` is searched for the standard file
 * names (the embedded default model uses this), then explicit paths override. */
struct pipe_model_paths {
    const char *model_dir;     /* a folder holding a whole model set (the embedded default one) */
    const char *flux;          /* FLUX.1 Kontext transformer (safetensors, GGUF or diffusers folder) */
    const char *ae;            /* autoencoder */
    const char *clip_vision;   /* CLIP ViT-L/14 vision tower with projection (query encoder) */
    const char *clip_text;     /* CLIP-L text encoder (pooled vector) */
    const char *t5;            /* T5-XXL encoder */
    const char *tokenizer_dir; /* folder with CLIP vocab.json + merges.txt and T5 spiece.model */
    const char *lorweb;        /* LoRWeB basis checkpoint (safetensors) */
    const char *lorweb_config; /* its config.yaml */
};

enum pipe_log_level { PIPE_LOG_DEBUG = 0, PIPE_LOG_INFO = 1, PIPE_LOG_WARNING = 2 };

enum pipe_stage {
    PIPE_STAGE_LOAD = 0,   /* reading weights */
    PIPE_STAGE_ENCODE = 1, /* CLIP query, text encoders, autoencoder encode */
    PIPE_STAGE_DENOISE = 2,
    PIPE_STAGE_DECODE = 3,
    PIPE_STAGE_DETAIL = 4, /* full-resolution detail transfer */
};

struct pipe_progress {
    enum pipe_stage stage;
    int             step, steps; /* denoising step (1-based) of steps; 0 outside PIPE_STAGE_DENOISE */
    double          fraction;    /* overall progress in [0, 1] */
    /* A small preview of b′ (RGBA float, row-major, no padding), or NULL. Valid during the call only. */
    const float *preview;
    int          preview_width, preview_height;
};

/* Returns false to cancel; the run then stops within one step and returns LW_ERR_CANCELLED. */
typedef bool (*pipe_progress_fn)(void *user, const struct pipe_progress *progress);
typedef void (*pipe_log_fn)(void *user, enum pipe_log_level level, const char *text);

struct pipe_options {
    struct pipe_model_paths paths;
    const char             *device;    /* as cmp_device_options.select; NULL = best / LORWEB_DEVICE */
    const char             *cache_dir; /* pipeline cache; NULL = $XDG_CACHE_HOME/lorweb */
    pipe_progress_fn        progress;
    pipe_log_fn             log;
    void                   *user;
    /* Low memory: CLIP vision and the autoencoder are loaded only for their part of each run and
     * freed before sampling (the encoder) or after use (CLIP, the decoder), so the peak is the
     * transformer and the largest of its, the encoders' or the decoder's working sets; each run
     * reads them again. Also chosen by itself when the device's own memory is smaller than the
     * model files (not on unified memory). The text encoders are always freed after use. */
    bool                    low_memory;
};

/* Creates a context. Models are loaded lazily at the first run and stay resident. */
enum lw_status pipe_context_create(const struct pipe_options *options, struct pipe_context **out,
                                   struct lw_error *err);
void           pipe_context_destroy(struct pipe_context *ctx);

/* A caller-owned image: RGBA float, `stride` floats between rows (≥ 4·width). */
struct pipe_image {
    float *data;
    int    width, height;
    size_t stride;
};

enum pipe_noise {
    PIPE_NOISE_ENGINE = 0, /* our own generator: same seed, same b′ on the same device */
    /* torch.randn on a CUDA generator (Philox 4×32-10) in bf16, as diffusers draws the latent, on a
     * GPU whose grid holds the whole latent (philox.h): to compare with the PyTorch reference */
    PIPE_NOISE_TORCH_CUDA,
};

struct pipe_params {
    int         steps;       /* denoising steps; default 28 (the embedded model: its own default) */
    float       guidance;    /* distilled guidance; default 2.5 */
    float       strength;    /* LoRWeB strength s: 0 = plain Kontext, 1 = as trained, up to 2; default 1 */
    uint64_t    seed;        /* default 0 */
    const char *prompt;      /* NULL or "" = the model's default prompt */
    float       keep_detail; /* 0 = pure b′ … 1 = b's high frequencies kept; default 0 */
    int         size;        /* grid long side in pixels; 0 = the nearest Kontext resolution */
    enum pipe_noise noise;
    /* Merge the basis into the transformer's resident weights for this run (flux_lorweb_merge) instead
     * of the side path at every step: faster per step, the same up to rounding the merged weights to
     * their dtype (16-bit weights), and the weights are restored exactly after the run. */
    bool        merge_weights;
    /* Per-basis-element adjustment of the mixing weights, applied to every layer:
     * c'[n] = override[n] if override_set[n], else c[n] + bias[n]; under softmax the overrides
     * keep their value and the other elements are renormalised so that the total stays that of
     * the computed mix (exact rule: mix_controls_apply in lorweb_mix.h). All zero / false = the
     * analogy as computed. */
    float bias[PIPE_MAX_BASIS];
    float override[PIPE_MAX_BASIS];
    bool  override_set[PIPE_MAX_BASIS];
    /* Blending two analogies: a second pair (a2, a2′) with the same b, and the ratio of its mixing
     * weights (0 = only a, a′ … 1 = only a2, a2′; lorweb_mix.h's mix_blend). NULL = no blend. */
    const struct pipe_image *blend_a, *blend_a_prime;
    float                    blend;
    int   preview_every; /* progress previews of b′ every n steps and at the last; 0 = none (preview.h) */
};
void pipe_params_defaults(struct pipe_params *params);

/* Runs the analogy. `out` must be b's size; on any error or cancel its contents are unspecified
 * but nothing else changes. */
enum lw_status pipe_run(struct pipe_context *ctx, const struct pipe_params *params,
                        const struct pipe_image *a, const struct pipe_image *a_prime,
                        const struct pipe_image *b, struct pipe_image *out, struct lw_error *err);

/* The mixing weights the last run (or pipe_encode) computed: mean over layers per basis element into
 * `mean` (count = basis size, returned in *basis). NULL-safe; LW_ERR_ARGUMENT before any encode. */
enum lw_status pipe_basis_weights(struct pipe_context *ctx, float *mean, int max, int *basis,
                                  struct lw_error *err);

/* Encodes a triplet (CLIP query and mixing weights) without denoising, for the dialog's basis panel. */
enum lw_status pipe_encode(struct pipe_context *ctx, const struct pipe_image *a,
                           const struct pipe_image *a_prime, const struct pipe_image *b,
                           struct lw_error *err);

/* The CLIP image embedding (query-encoder space) of one image, for evaluation metrics: up to `max`
 * values, the count in *n. LW_ERR_ARGUMENT when the model has no CLIP vision tower. */
enum lw_status pipe_embed(struct pipe_context *ctx, const struct pipe_image *image, float *embed, int max,
                          int *n, struct lw_error *err);

/* Device memory in use and live Vulkan objects of the context's engine (0, 0 before the first run),
 * for leak checks over long use; with peak_bytes, the most device memory it has held. */
void pipe_device_usage(const struct pipe_context *ctx, uint64_t *device_bytes, uint64_t *objects,
                       uint64_t *peak_bytes);

/* A one-line description of the device and models, for logs and the dialog. */
const char *pipe_describe(struct pipe_context *ctx);
