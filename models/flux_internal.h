/* What flux.c (loading, weight residency), flux_lorweb.c (the LoRWeB basis) and flux_run.c (the
 * recorded forward, conditioning, sampling) share: the model struct and its Linear layers. Not a
 * public header: only the flux*.c files include it.
 *
 * Weight residency (flux.h, flux_load): every Linear's weight lives in one of three places.
 * - resident: uploaded once to the weights arena (input/output projections, biases, norm scales,
 *   and the block matrices that fit);
 * - streamed: block matrices of blocks g ≥ resident_blocks sit in host-visible memory and the
 *   recorded forward copies block g+1 into one of two device slots while block g runs;
 * - conditioning-only: time_in, guidance_in, vector_in and every modulation Linear are uploaded
 *   to a stage arena for the conditioning pass (all steps at once) and freed after it. */
#pragma once

#include "flux.h"
#include "loader.h"
#include "ops.h"
#include "names_flux.h"
#include "weights.h"

#define FLUX_MAX_BLOCKS 128
#define FLUX_MAX_LORA_PER_LINEAR 4

/* y = x·Wᵀ + b. `w` and `b` are absent while a conditioning-only Linear is not staged. */
struct flux_linear {
    char             name[64]; /* BFL name without `.weight` (the file's name via the loader) */
    struct op_tensor w, b;     /* (out, in) in the file dtype; (out) f32 */
    int64_t          in, out;
    int              lora_count;
    int              lora[FLUX_MAX_LORA_PER_LINEAR]; /* indices into flux_model.loras */
};

/* One LoRWeB side path: y[:, row0 : row0 + out] += ((x·Aᵀ) ⊙ c)·Bᵀ. */
struct flux_lora {
    char             name[200]; /* checkpoint module name (diffusers naming) */
    int64_t          in, out, basis, rank, rank_total, row0;
    struct op_tensor a, b, c;       /* A (R, in), B (out, R) in the file's 16/32-bit dtype; c (1, R) f32 */
    float           *projection;    /* P (K, Q) on the host */
    float           *keys;          /* (N, K) on the host */
    int64_t          k_dim, q_dim;
    /* flux_lorweb_merge: added into its Linear's weight; the bytes it overwrote, from saved_at */
    bool             merged;
    void            *saved;
    struct cmp_view  saved_at;
};

struct flux_double {
    struct flux_linear img_mod, txt_mod; /* conditioning-only */
    struct flux_linear img_qkv, txt_qkv, img_proj, txt_proj, img_mlp0, img_mlp2, txt_mlp0, txt_mlp2;
    struct op_tensor   img_q_scale, img_k_scale, txt_q_scale, txt_k_scale;
    int64_t            img_mod_col, txt_mod_col; /* where their 6D outputs sit in a modulation row */
};

struct flux_single {
    struct flux_linear mod; /* conditioning-only */
    struct flux_linear lin1, lin1_qkv, lin1_mlp, lin2; /* lin1_* are row ranges of lin1 */
    struct op_tensor   q_scale, k_scale;
    int64_t            mod_col;
};

struct flux_model {
    struct cmp_device  *device;
    struct ld_resources res;         /* weights (resident vectors), activations, cmd */
    struct cmp_arena   *matrices;    /* resident weight matrices, one exact buffer each */
    struct cmp_arena   *host_arena;  /* streamed block matrices (host-visible) */
    struct cmp_arena   *slot_arena;  /* the two device slots they are copied into */
    struct cmp_arena   *lora_arena;
    struct cmp_view     slot[2];
    struct wt_file     *file; /* kept open (a memory map): conditioning weights are read per run */
    char               *path;
    enum wt_flux_layout layout; /* the file's naming (names_flux.h; spec §1.10–1.11) */
    struct flux_config  cfg;
    struct flux_linear  img_in, txt_in, final_linear; /* resident */
    struct flux_linear  time_in0, time_in1, guid_in0, guid_in1, vec_in0, vec_in1, final_mod;
    int64_t             final_mod_col, mod_cols; /* total modulation columns per step */
    struct flux_double  doubles[FLUX_MAX_BLOCKS];
    struct flux_single  singles[FLUX_MAX_BLOCKS];
    /* Block g = doubles[0..depth) then singles[0..depth_single). Blocks g ≥ resident_blocks are
     * streamed: block_host[g] holds their matrices laid out as in slot[block_slot[g]]. */
    int                 resident_blocks, blocks;
    struct cmp_view     block_host[2 * FLUX_MAX_BLOCKS];
    int                 block_slot[2 * FLUX_MAX_BLOCKS];
    struct flux_memory  memory;
    uint64_t            activation_block; /* block size res.activations was made with */
    /* During flux_sample's step callback only: the run and the step's σ_next and dt (for previews). */
    struct flux_run    *sampling;
    float               sampling_next, sampling_dt;
    struct flux_lora   *loras;
    int                 lora_count;
};

/* A loader reading this model's file into `arena` (device weights or the stage arena). */
struct ld_loader flux_loader(struct flux_model *m, struct cmp_arena *arena, struct lw_error *err);
/* Uploads a Linear's weight (to `matrices`, or ld's arena when NULL) and bias (to ld's arena),
 * assembling fused BFL Linears from their diffusers parts. Errors are kept in ld (sticky). */
void flux_linear_stage(struct flux_model *m, struct ld_loader *ld, struct cmp_arena *matrices,
                       struct flux_linear *l);
/* The Linears of block g that the sampling forward reads (modulations excluded), at most 8; a single
 * block's lin1 whole or, with `parts`, as its q/k/v and MLP row ranges (which carry the LoRWeB
 * modules). The matrices streamed with a streamed block. Returns the count. */
int flux_block_linears(struct flux_model *m, int g, bool parts, struct flux_linear **out);
/* Every conditioning-only Linear, in the order the conditioning pass uses them; returns the count. */
int flux_conditioning_linears(struct flux_model *m, struct flux_linear **out, int max);

/* The Linear (and the first row of its output) a LoRWeB module in diffusers naming adapts, or NULL. */
struct flux_linear *flux_lora_target(struct flux_model *m, const char *module, int64_t *row0);
void                flux_lora_detach(struct flux_model *m);
