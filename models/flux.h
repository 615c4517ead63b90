/* The FLUX.1 (Kontext) transformer and its flow-matching sampler, with an optional LoRWeB basis.
 *
 * Memory (spec-flux-kontext.md §6.4): the modulation Linears (27 % of the real model's weights) are
 * on the device only during the conditioning pass that computes every step's modulation vectors up
 * front. Block weights that do not fit the device stay in host-visible memory and are copied into
 * two device slots as the forward reaches them (see flux_load_options). Activations at 8,704 tokens
 * of the real model are ≈ 1.2 GB (flux_activation_bytes).
 *
 * Threading: one thread at a time per model. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "compute.h"

struct flux_model;

struct flux_config {
    int64_t hidden, heads, head_dim, depth, depth_single;
    int64_t axes_dim[3];
    double  theta;
    int64_t vec_in, context_in, in_channels, out_channels, mlp_hidden;
    bool    guidance_embed;
};

/* Where the weights go. Zero-initialised = decide from the device: everything resident on
 * unified-memory devices or when it fits, else as many leading blocks as fit in device_bytes less
 * activation_bytes and the two slots, the rest streamed from host-visible memory every step. */
struct flux_load_options {
    uint64_t device_bytes;     /* device memory the model may use; 0 = the device's local heaps */
    uint64_t activation_bytes; /* kept free for activations; 0 = FLUX_ACTIVATION_RESERVE */
    int      stream_blocks;    /* > 0: stream the last n blocks whatever the memory (tests) */
};
#define FLUX_ACTIVATION_RESERVE (2048ull << 20)

/* Loads a BFL-named transformer (ComfyUI's `model.diffusion_model.` prefix accepted). Hyper-parameters
 * from `flux.*` metadata, else shapes, else FLUX.1's. Every tensor is checked for shape (errors name
 * the file and tensor). LW_ERR_DEVICE_MEMORY when not even the streaming plan fits. The file stays
 * open (memory-mapped) until flux_destroy. flux_load = flux_load_with(…, NULL, …). */
enum lw_status flux_load(struct cmp_device *device, const char *path, struct flux_model **out,
                         struct lw_error *err);
enum lw_status flux_load_with(struct cmp_device *device, const char *path,
                              const struct flux_load_options *options, struct flux_model **out,
                              struct lw_error *err);
void           flux_destroy(struct flux_model *model);
const struct flux_config *flux_config(const struct flux_model *model);

/* Where the model's bytes are (device unless said otherwise). */
struct flux_memory {
    uint64_t resident;      /* weights on the device for the model's lifetime (LoRWeB basis apart) */
    uint64_t streamed;      /* block weights in host-visible memory, copied in every step */
    uint64_t slots;         /* the two device slots streamed blocks are copied into */
    uint64_t conditioning;  /* modulation and embedding weights, staged only for conditioning */
    uint64_t lorweb;        /* the attached basis */
    uint64_t activations;   /* the last run's forward activations */
    int      streamed_blocks, blocks;
};
void flux_memory_get(const struct flux_model *model, struct flux_memory *out);

/* Activation bytes of one forward: t text, n noise and c context tokens, a LoRWeB basis of
 * basis × rank (0 without). The run allocates exactly this (256-byte aligned buffers). */
uint64_t flux_activation_bytes(const struct flux_config *config, int64_t t, int64_t n, int64_t c,
                               int64_t lora_rank_total);

/* Attaches a LoRWeB basis (checkpoint in its own diffusers-module naming). Returns LW_ERR_SHAPE when a
 * module does not fit the transformer. */
enum lw_status flux_lorweb_attach(struct flux_model *model, const char *path, struct lw_error *err);
int            flux_lorweb_modules(const struct flux_model *model);
int            flux_lorweb_basis(const struct flux_model *model); /* N, 0 without a basis */
/* Module i's checkpoint name (the part before `.lora_A`). */
const char *flux_lorweb_module_name(const struct flux_model *model, int module);
/* Sets module i's mixing weights c (N values); the side path adds strength · Σ c_n (x·A_n)·B_n. */
enum lw_status flux_lorweb_set(struct flux_model *model, int module, const float *coeffs,
                               float strength, struct lw_error *err);
/* Merging, for unquantised weights and many steps: every module whose Linear stays on the device while
 * sampling (the resident blocks' Linears; not the modulations, computed up front, nor streamed
 * blocks) is added into its weight with the current mixing weights and strength, and the forward
 * recorded afterwards skips its side path. The rows it overwrites are saved in host memory first;
 * flux_lorweb_unmerge writes them back bit for bit (a no-op when nothing is merged). 16-bit weights
 * round the merged sum to their dtype. *merged (optional) counts the modules merged. When unmerge
 * fails, the modules not yet restored stay merged (and saved): the model is not fit for another run
 * with other mixing weights until a later unmerge succeeds (or it is loaded again). */
enum lw_status flux_lorweb_merge(struct flux_model *model, int *merged, struct lw_error *err);
enum lw_status flux_lorweb_unmerge(struct flux_model *model, struct lw_error *err);
/* Query-side parameters of module i: P (K, Q) and keys (N, K) as f32 (borrowed, valid until destroy). */
void flux_lorweb_query_params(const struct flux_model *model, int module, const float **projection,
                              const float **keys, int64_t *k_dim, int64_t *q_dim);

/* One sequence: text (T, context_in) with its pooled vector y (vec_in); noise tokens on an h×w token
 * grid (index 0) and context tokens on a ch×cw grid (index 1), 64 features each (packed latents). */
struct flux_inputs {
    const float *txt;
    int64_t      t_tokens;
    const float *y;
    int64_t      grid_h, grid_w;         /* noise tokens N = grid_h · grid_w */
    const float *context;                /* (C, in_channels) or NULL */
    int64_t      ctx_grid_h, ctx_grid_w; /* C = ctx_grid_h · ctx_grid_w */
    const float *txt_ids, *img_ids, *ctx_ids; /* optional explicit ids (T|N|C, 3); NULL = standard */
    float        guidance;
};

typedef bool (*flux_step_fn)(void *user, int step, int steps);

/* One model evaluation at time t: noise tokens x (N, in) → velocity (N, out). */
enum lw_status flux_forward(struct flux_model *model, const struct flux_inputs *in, const float *x,
                            float t, float *velocity, struct lw_error *err);

/* Euler flow matching over `sigmas` (steps + 1 values from 1 to 0) from `noise` (N, in) to the clean
 * packed latent (N, in). The step callback (may be NULL) is called with step 0 once conditioning and
 * recording are done, then after each step, and may cancel (LW_ERR_CANCELLED). */
/* Inside flux_sample's step callback (steps ≥ 1): the current prediction of the clean latent,
 * x0 = x − σ·v, as packed tokens (N, in) — what a progress preview shows. LW_ERR_ARGUMENT elsewhere. */
enum lw_status flux_sample_x0(struct flux_model *model, float *x0, struct lw_error *err);

enum lw_status flux_sample(struct flux_model *model, const struct flux_inputs *in, const float *noise,
                           const float *sigmas, int steps, flux_step_fn on_step, void *user,
                           float *latent, struct lw_error *err);

