/* The FLUX.1 Kontext forward, recorded once and replayed per Euler step, with the LoRWeB side path;
 * the conditioning pass; the shifted schedule.
 *
 * Mirrors BFL flux `model.py` (Flux.forward), `modules/layers.py` (DoubleStreamBlock,
 * SingleStreamBlock, LastLayer, timestep_embedding), `math.py` (rope, attention) and `sampling.py`
 * (get_schedule, denoise) as spec-flux-kontext.md §1–3 states them. Layout choices:
 * - One residual buffer x (L, D) holds the sequence [txt ; noise ; context]: the text and image
 *   streams of the double blocks are its row slices, so the single blocks need no concatenation.
 *   The q/k/v projections of both streams write row slices of one (L, 3D) buffer; attention writes
 *   columns [0, D) of the (L, D + F) input of linear2 and the MLP's GELU output the rest; the
 *   double blocks' MLP hidden reuses those columns too. Only the N noise rows reach the final layer.
 * - Everything that depends on the timestep (vec, every modulation Linear, the final adaLN) is one
 *   conditioning pass for all steps (M = steps rows) with those weights staged on the device only
 *   for it; a step uploads its row (and its Euler dt) and replays the recorded forward.
 * - LoRWeB: each adapted (sub-)Linear adds y[:, rows] += ((x·Aᵀ) ⊙ c)·Bᵀ on its output row slice
 *   (spec-lorweb.md §1.6), c in device memory so new mixing weights need no re-recording.
 * - Streamed blocks (flux_internal.h): the forward records the copy of block g+1's matrices into
 *   its slot before block g's dispatches.
 * L = T + N + C tokens, D hidden, H heads, F MLP hidden, S steps, R basis × rank. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flux_internal.h"

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        status = (expr);                                                                           \
        if (status != LW_OK) return status;                                                        \
    } while (0)

/* Conditioning weights are staged in chunks of about this size (one submit per chunk). */
#define STAGE_BYTES (256ull << 20)

static uint64_t align256(uint64_t bytes) {
    return (bytes + 255) & ~(uint64_t)255;
}

/* Forward activations, in allocation order (flux_activation_bytes sums the same list). */
enum { A_X, A_A, A_QKV, A_CAT, A_TMP, A_LORA, A_TOKENS, A_TXT, A_ROPE, A_OUT, A_MOD, A_COUNT };

struct flux_run {
    struct op_ctx    ctx;
    int64_t          t, n, c, l; /* text, noise, context, all tokens */
    struct op_tensor x, a, qkv, cat;   /* (L, D) (L, D) (L, 3D) (L, D + F) */
    struct op_tensor tmp, lora_t;      /* LoRWeB only: (L, D) (L, R) */
    struct op_tensor tokens, txt, rope, out; /* (N + C, in) (T, ctx) (L, hd/2·4) (N, out) */
    struct op_tensor mod;              /* (1, mod_cols): the current step's row */
};

static int64_t lora_rank_max(const struct flux_model *m) {
    int64_t r = 0;
    for (int i = 0; i < m->lora_count; i++)
        if (m->loras[i].rank_total > r) r = m->loras[i].rank_total;
    return r;
}

static void forward_shapes(const struct flux_config *c, int64_t t, int64_t n, int64_t ctx, int64_t rank,
                           int64_t s[A_COUNT][2]) {
    int64_t d = c->hidden, l = t + n + ctx;
    int64_t mod_cols = c->depth * 12 * d + c->depth_single * 3 * d + 2 * d + c->in_channels;
    int64_t shapes[A_COUNT][2] = {
        [A_X] = {l, d},         [A_A] = {l, d},           [A_QKV] = {l, 3 * d},
        [A_CAT] = {l, d + c->mlp_hidden},
        [A_TMP] = {rank ? l : 0, d},                      [A_LORA] = {l, rank},
        [A_TOKENS] = {n + ctx, c->in_channels},           [A_TXT] = {t, c->context_in},
        [A_ROPE] = {l, 2 * c->head_dim},                  [A_OUT] = {n, c->out_channels},
        [A_MOD] = {1, mod_cols},
    };
    memcpy(s, shapes, sizeof shapes);
}

uint64_t flux_activation_bytes(const struct flux_config *c, int64_t t, int64_t n, int64_t ctx,
                               int64_t lora_rank_total) {
    int64_t  s[A_COUNT][2];
    uint64_t total = 0;
    forward_shapes(c, t, n, ctx, lora_rank_total, s);
    for (int i = 0; i < A_COUNT; i++)
        if (s[i][0] * s[i][1] > 0) total += align256((uint64_t)(s[i][0] * s[i][1]) * 4);
    return total;
}

/* Bytes of the conditioning pass's buffers (conditioning_record's list). */
static uint64_t conditioning_bytes(const struct flux_model *m, int64_t s) {
    const struct flux_config *c = &m->cfg;
    int64_t                   d = c->hidden, rank = lora_rank_max(m);
    int64_t sizes[] = {s * 256, 256, c->vec_in, s * d, s * d, s * d, d, d, s * m->mod_cols, s * rank};
    uint64_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i]) total += align256((uint64_t)sizes[i] * 4);
    return total;
}

/* Makes the activations arena one block of what this run needs (up to 256 MiB blocks), so a small
 * model does not hold a 256 MiB block and a run of the same shape reuses the last one's. */
static enum lw_status activations_fit(struct flux_model *m, uint64_t need, struct lw_error *err) {
    uint64_t block = need < (256ull << 20) ? need : (256ull << 20);
    if (block <= m->activation_block && block * 2 > m->activation_block) return LW_OK;
    cmp_arena_destroy(m->res.activations);
    m->res.activations = NULL;
    m->activation_block = 0;
    enum lw_status status = cmp_arena_create(m->device, CMP_MEMORY_DEVICE, block, &m->res.activations, err);
    if (status == LW_OK) m->activation_block = block;
    return status;
}

static enum lw_status alloc2d(struct flux_model *m, int64_t rows, int64_t cols, struct op_tensor *t,
                              struct lw_error *err) {
    struct cmp_view v;
    enum lw_status  status = cmp_arena_alloc(m->res.activations, (uint64_t)(rows * cols) * 4, &v, err);
    if (status == LW_OK) *t = op_tensor_2d(v, LW_DTYPE_F32, rows, cols);
    return status;
}

/* ---------------------------------------------------------------------------------------------- */
/* Recording                                                                                        */

/* y (M, out) ⟵ mode/act/gate applied to x·Wᵀ + b + Σ LoRWeB deltas on their row slices. */
static enum lw_status linear(struct flux_model *m, struct flux_run *r, const struct flux_linear *l,
                             struct op_tensor x, struct op_tensor y, enum op_act act,
                             enum op_matmul_mode mode, struct op_tensor gate, struct lw_error *err) {
    enum lw_status        status;
    struct op_matmul_args mm = {.x = x, .w = l->w, .bias = l->b, .y = y, .act = act, .mode = mode, .gate = gate};
    int                   side_paths = 0; /* modules not merged into the weight (flux_lorweb_merge) */
    for (int i = 0; i < l->lora_count; i++) side_paths += !m->loras[l->lora[i]].merged;
    if (side_paths == 0) return op_matmul(&r->ctx, &mm, err);
    /* With a basis the activation and residual must come after the deltas. */
    struct op_tensor dst = y;
    if (mode == OP_ACCUMULATE) dst = op_tensor_slice(r->tmp, 0, x.rows, 0, l->out);
    mm = (struct op_matmul_args){.x = x, .w = l->w, .bias = l->b, .y = dst};
    TRY(op_matmul(&r->ctx, &mm, err));
    for (int i = 0; i < l->lora_count; i++) {
        const struct flux_lora *p = &m->loras[l->lora[i]];
        if (p->merged) continue;
        struct op_tensor        t = op_tensor_slice(r->lora_t, 0, x.rows, 0, p->rank_total);
        mm = (struct op_matmul_args){.x = x, .w = p->a, .y = t};
        TRY(op_matmul(&r->ctx, &mm, err));
        TRY(op_binary(&r->ctx, OP_MUL, t, p->c, t, err));
        mm = (struct op_matmul_args){.x = t, .w = p->b, .y = op_tensor_slice(dst, 0, x.rows, p->row0, p->out),
                                     .mode = OP_ACCUMULATE};
        TRY(op_matmul(&r->ctx, &mm, err));
    }
    if (act != OP_ACT_NONE) TRY(op_act(&r->ctx, act, dst, dst, err));
    if (mode == OP_ACCUMULATE) {
        if (!op_tensor_absent(&gate)) TRY(op_binary(&r->ctx, OP_MUL, dst, gate, dst, err));
        TRY(op_binary(&r->ctx, OP_ADD, y, dst, y, err));
    }
    return LW_OK;
}

static struct op_tensor mod_chunk(struct flux_run *r, int64_t col, int64_t chunk, int64_t d) {
    return op_tensor_slice(r->mod, 0, 1, col + chunk * d, d);
}

/* y = LayerNorm(x) (no affine, eps 1e-6) · (1 + scale) + shift. */
static enum lw_status modulate(struct flux_run *r, struct op_tensor x, struct op_tensor y,
                               struct op_tensor shift, struct op_tensor scale, struct lw_error *err) {
    struct op_norm_args a = {.x = x, .shift = shift, .scale = scale, .y = y, .eps = 1e-6f};
    return op_norm(&r->ctx, &a, err);
}

/* QK RMSNorm and RoPE in place on rows [row0, row0 + rows) of the q and k columns of qkv. */
static enum lw_status qk(struct flux_run *r, const struct flux_config *c, int64_t row0, int64_t rows,
                         struct op_tensor q_scale, struct op_tensor k_scale, struct lw_error *err) {
    int64_t           d = c->hidden;
    struct op_qk_args a = {
        .q = op_tensor_slice(r->qkv, row0, rows, 0, d),
        .k = op_tensor_slice(r->qkv, row0, rows, d, d),
        .q_scale = q_scale, .k_scale = k_scale,
        .rope = op_tensor_slice(r->rope, row0, rows, 0, r->rope.cols),
        .heads = c->heads, .head_dim = c->head_dim, .eps = 1e-6f,
    };
    return op_qk_norm_rope(&r->ctx, &a, err);
}

/* Joint attention over all L tokens into columns [0, D) of cat. */
static enum lw_status attention(struct flux_run *r, const struct flux_config *c, struct lw_error *err) {
    int64_t                  d = c->hidden;
    struct op_attention_args a = {
        .q = op_tensor_slice(r->qkv, 0, r->l, 0, d), .k = op_tensor_slice(r->qkv, 0, r->l, d, d),
        .v = op_tensor_slice(r->qkv, 0, r->l, 2 * d, d), .out = op_tensor_slice(r->cat, 0, r->l, 0, d),
        .heads = c->heads, .head_dim = c->head_dim, .scale = (float)(1.0 / sqrt((double)c->head_dim)),
    };
    return op_attention(&r->ctx, &a, err);
}

/* One stream of a double block: rows [row0, row0 + rows) of x. */
struct stream {
    int64_t                   row0, rows, mod_col;
    const struct flux_linear *qkv, *proj, *mlp0, *mlp2;
    struct op_tensor          q_scale, k_scale;
};

/* DoubleStreamBlock (spec §1.6): per stream x += gate1 · proj(attn(qkv(mod1(x)))), then
 * x += gate2 · mlp(mod2(x)); attention is joint over both streams. */
static enum lw_status double_block(struct flux_model *m, struct flux_run *r, const struct flux_double *b,
                                   struct lw_error *err) {
    const struct flux_config *c = &m->cfg;
    enum lw_status            status;
    int64_t                   d = c->hidden, f = c->mlp_hidden;
    struct stream             s[2] = {
        {0, r->t, b->txt_mod_col, &b->txt_qkv, &b->txt_proj, &b->txt_mlp0, &b->txt_mlp2, b->txt_q_scale,
         b->txt_k_scale},
        {r->t, r->n + r->c, b->img_mod_col, &b->img_qkv, &b->img_proj, &b->img_mlp0, &b->img_mlp2,
         b->img_q_scale, b->img_k_scale},
    };
    for (int i = 0; i < 2; i++) {
        if (s[i].rows == 0) continue;
        struct op_tensor x = op_tensor_slice(r->x, s[i].row0, s[i].rows, 0, d);
        struct op_tensor a = op_tensor_slice(r->a, s[i].row0, s[i].rows, 0, d);
        TRY(modulate(r, x, a, mod_chunk(r, s[i].mod_col, 0, d), mod_chunk(r, s[i].mod_col, 1, d), err));
        TRY(linear(m, r, s[i].qkv, a, op_tensor_slice(r->qkv, s[i].row0, s[i].rows, 0, 3 * d), OP_ACT_NONE,
                   OP_STORE, (struct op_tensor){0}, err));
        TRY(qk(r, c, s[i].row0, s[i].rows, s[i].q_scale, s[i].k_scale, err));
    }
    TRY(attention(r, c, err));
    for (int i = 0; i < 2; i++) {
        if (s[i].rows == 0) continue;
        int64_t          col = s[i].mod_col;
        struct op_tensor x = op_tensor_slice(r->x, s[i].row0, s[i].rows, 0, d);
        struct op_tensor a = op_tensor_slice(r->a, s[i].row0, s[i].rows, 0, d);
        struct op_tensor h = op_tensor_slice(r->cat, s[i].row0, s[i].rows, d, f); /* (rows, F) */
        TRY(linear(m, r, s[i].proj, op_tensor_slice(r->cat, s[i].row0, s[i].rows, 0, d), x, OP_ACT_NONE,
                   OP_ACCUMULATE, mod_chunk(r, col, 2, d), err));
        TRY(modulate(r, x, a, mod_chunk(r, col, 3, d), mod_chunk(r, col, 4, d), err));
        TRY(linear(m, r, s[i].mlp0, a, h, OP_ACT_GELU_TANH, OP_STORE, (struct op_tensor){0}, err));
        TRY(linear(m, r, s[i].mlp2, h, x, OP_ACT_NONE, OP_ACCUMULATE, mod_chunk(r, col, 5, d), err));
    }
    return LW_OK;
}

/* SingleStreamBlock (spec §1.7): x += gate · linear2([attn(qkv) | GELU(mlp)]) with linear1 split
 * into its q/k/v rows and its MLP rows, both reading mod(x). */
static enum lw_status single_block(struct flux_model *m, struct flux_run *r, const struct flux_single *b,
                                   struct lw_error *err) {
    const struct flux_config *c = &m->cfg;
    enum lw_status            status;
    int64_t                   d = c->hidden, f = c->mlp_hidden;
    TRY(modulate(r, r->x, r->a, mod_chunk(r, b->mod_col, 0, d), mod_chunk(r, b->mod_col, 1, d), err));
    TRY(linear(m, r, &b->lin1_qkv, r->a, r->qkv, OP_ACT_NONE, OP_STORE, (struct op_tensor){0}, err));
    TRY(qk(r, c, 0, r->l, b->q_scale, b->k_scale, err));
    TRY(attention(r, c, err));
    TRY(linear(m, r, &b->lin1_mlp, r->a, op_tensor_slice(r->cat, 0, r->l, d, f), OP_ACT_GELU_TANH,
               OP_STORE, (struct op_tensor){0}, err));
    return linear(m, r, &b->lin2, r->cat, r->x, OP_ACT_NONE, OP_ACCUMULATE, mod_chunk(r, b->mod_col, 2, d),
                  err);
}

/* Streamed block g: copy its matrices from host-visible memory into its slot. */
static void block_fetch(struct flux_model *m, struct flux_run *r, int g) {
    if (g >= m->resident_blocks && g < m->blocks) {
        struct cmp_view host = m->block_host[g];
        cmp_cmd_copy(r->ctx.cmd, host, cmp_view_slice(m->slot[m->block_slot[g]], 0, host.bytes));
    }
}

/* Records one model evaluation reading r->tokens and r->mod, writing r->out (N, out); with
 * `update`, also the Euler step tokens[:N] += dt · out. */
static enum lw_status record_forward(struct flux_model *m, struct flux_run *r, bool update,
                                     struct lw_error *err) {
    const struct flux_config *c = &m->cfg;
    enum lw_status            status;
    int64_t                   d = c->hidden;
    block_fetch(m, r, 0);
    TRY(linear(m, r, &m->img_in, r->tokens, op_tensor_slice(r->x, r->t, r->n + r->c, 0, d), OP_ACT_NONE,
               OP_STORE, (struct op_tensor){0}, err));
    if (r->t) TRY(linear(m, r, &m->txt_in, r->txt, op_tensor_slice(r->x, 0, r->t, 0, d), OP_ACT_NONE,
                         OP_STORE, (struct op_tensor){0}, err));
    for (int g = 0; g < m->blocks; g++) {
        block_fetch(m, r, g + 1); /* the slot it fills is not block g's */
        if (g < c->depth) TRY(double_block(m, r, &m->doubles[g], err));
        else TRY(single_block(m, r, &m->singles[g - c->depth], err));
    }
    struct op_tensor xn = op_tensor_slice(r->x, r->t, r->n, 0, d), an = op_tensor_slice(r->a, r->t, r->n, 0, d);
    TRY(modulate(r, xn, an, mod_chunk(r, m->final_mod_col, 0, d), mod_chunk(r, m->final_mod_col, 1, d), err));
    TRY(linear(m, r, &m->final_linear, an, r->out, OP_ACT_NONE, OP_STORE, (struct op_tensor){0}, err));
    if (update) {
        struct op_tensor dt = op_tensor_slice(r->mod, 0, 1, m->mod_cols - c->in_channels, c->in_channels);
        struct op_tensor x = op_tensor_slice(r->tokens, 0, r->n, 0, c->in_channels);
        TRY(op_binary(&r->ctx, OP_MUL, r->out, dt, r->out, err));
        TRY(op_binary(&r->ctx, OP_ADD, x, r->out, x, err));
    }
    return LW_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Conditioning, ids, RoPE                                                                          */

/* Sinusoidal embedding of 1000·s, cosines first (BFL timestep_embedding, fp32 throughout). */
static void timestep_embedding(float s, float *out) {
    float a = 1000.0f * s;
    for (int k = 0; k < 128; k++) {
        float freq = expf(-logf(10000.0f) * (float)k / 128.0f);
        out[k] = cosf(a * freq);
        out[128 + k] = sinf(a * freq);
    }
}

/* RoPE table (L, head_dim/2, 2, 2) from ids (L, 3): frequencies in double as BFL's rope(). */
static void rope_table(const struct flux_config *c, const float *ids, int64_t l, float *out) {
    int64_t pairs = c->head_dim / 2;
    for (int64_t t = 0; t < l; t++) {
        int64_t p = 0;
        for (int axis = 0; axis < 3; axis++) {
            int64_t dim = c->axes_dim[axis];
            for (int64_t k = 0; k < dim / 2; k++, p++) {
                double omega = 1.0 / pow(c->theta, (double)(2 * k) / (double)dim);
                double phi = (double)ids[t * 3 + axis] * omega;
                float *r = out + (t * pairs + p) * 4;
                r[0] = (float)cos(phi), r[1] = (float)-sin(phi), r[2] = (float)sin(phi), r[3] = (float)cos(phi);
            }
        }
    }
}

/* Ids of the whole sequence [txt ; noise ; context], explicit or standard (spec §2.3): text zero,
 * noise (0, row, col) on its grid, context (1, row, col) on its own grid. */
static void sequence_ids(const struct flux_inputs *in, int64_t n, int64_t cn, float *ids) {
    int64_t t = in->t_tokens;
    memset(ids, 0, (size_t)(t + n + cn) * 3 * sizeof *ids);
    if (in->txt_ids) memcpy(ids, in->txt_ids, (size_t)t * 3 * sizeof *ids);
    float *img = ids + t * 3, *ctx = ids + (t + n) * 3;
    if (in->img_ids) memcpy(img, in->img_ids, (size_t)n * 3 * sizeof *ids);
    else
        for (int64_t i = 0; i < n; i++) img[i * 3 + 1] = (float)(i / in->grid_w), img[i * 3 + 2] = (float)(i % in->grid_w);
    if (in->ctx_ids) memcpy(ctx, in->ctx_ids, (size_t)cn * 3 * sizeof *ids);
    else
        for (int64_t i = 0; i < cn; i++)
            ctx[i * 3] = 1, ctx[i * 3 + 1] = (float)(i / in->ctx_grid_w), ctx[i * 3 + 2] = (float)(i % in->ctx_grid_w);
}

/* Uploads a conditioning-only Linear into the stage arena, first running what is recorded and
 * emptying the arena when the chunk is full. */
static enum lw_status stage(struct flux_model *m, struct flux_run *r, struct cmp_arena *arena,
                            struct ld_loader *ld, struct flux_linear *l, struct lw_error *err) {
    enum lw_status          status;
    char                    name[96];
    snprintf(name, sizeof name, "%s.weight", l->name);
    const struct wt_tensor *w = ld_find(ld, name); /* NULL for fused diffusers parts: an estimate */
    uint64_t need = (w ? w->bytes : (uint64_t)(l->out * l->in) * 2) + (uint64_t)l->out * 4 + 512;
    if (cmp_arena_used_bytes(arena) > 0 && cmp_arena_used_bytes(arena) + need > STAGE_BYTES) {
        TRY(cmp_cmd_submit(m->res.cmd, err));
        cmp_cmd_reset(m->res.cmd);
        cmp_arena_reset(arena);
    }
    flux_linear_stage(m, ld, NULL, l);
    return ld->status;
}

/* Every step's modulation row for the `s` times in `times` (s, mod_cols) on the host, each with its
 * Euler dt (next[i] − times[i]) in the last in_channels columns. Buffers: sinusoids (S, 256) and
 * (1, 256), y (1, vec), the time MLP's hidden (S, D), vec (S, D), SiLU(vec) (S, D), one row for the
 * guidance and vector MLPs (1, D) ×2, LoRWeB scratch (S, R), the rows (S, mod_cols). */
static enum lw_status conditioning_record(struct flux_model *m, struct flux_run *r, struct cmp_arena *arena,
                                          const struct flux_inputs *in, const float *times, int64_t s,
                                          struct op_tensor *mod_all, struct lw_error *err) {
    const struct flux_config *c = &m->cfg;
    enum lw_status            status;
    int64_t                   d = c->hidden, rank = lora_rank_max(m);
    struct op_tensor          emb_t, emb_g, y, hid, vec, sv, row, vrow, none = {0};
    TRY(alloc2d(m, s, 256, &emb_t, err));
    TRY(alloc2d(m, 1, 256, &emb_g, err));
    TRY(alloc2d(m, 1, c->vec_in, &y, err));
    TRY(alloc2d(m, s, d, &hid, err));
    TRY(alloc2d(m, s, d, &vec, err));
    TRY(alloc2d(m, s, d, &sv, err));
    TRY(alloc2d(m, 1, d, &row, err));
    TRY(alloc2d(m, 1, d, &vrow, err));
    TRY(alloc2d(m, s, m->mod_cols, mod_all, err));
    if (rank) TRY(alloc2d(m, s, rank, &r->lora_t, err));
    float *emb = malloc((size_t)s * 256 * sizeof *emb);
    if (!emb) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    for (int64_t i = 0; i < s; i++) timestep_embedding(times[i], emb + i * 256);
    status = cmp_view_upload(emb_t.view, emb, (uint64_t)s * 256 * 4, err);
    timestep_embedding(in->guidance, emb);
    if (status == LW_OK) status = cmp_view_upload(emb_g.view, emb, 256 * 4, err);
    free(emb);
    if (status == LW_OK) status = cmp_view_upload(y.view, in->y, (uint64_t)c->vec_in * 4, err);
    if (status != LW_OK) return status;
    struct ld_loader ld = flux_loader(m, arena, err);
#define LINEAR(l, x_, y_, act)                                                                     \
    do {                                                                                           \
        TRY(stage(m, r, arena, &ld, (l), err));                                                    \
        TRY(linear(m, r, (l), (x_), (y_), (act), OP_STORE, none, err));                            \
    } while (0)
    LINEAR(&m->time_in0, emb_t, hid, OP_ACT_SILU);
    LINEAR(&m->time_in1, hid, vec, OP_ACT_NONE);
    if (c->guidance_embed) {
        LINEAR(&m->guid_in0, emb_g, row, OP_ACT_SILU);
        LINEAR(&m->guid_in1, row, vrow, OP_ACT_NONE);
        TRY(op_binary(&r->ctx, OP_ADD, vec, vrow, vec, err));
    }
    LINEAR(&m->vec_in0, y, row, OP_ACT_SILU);
    LINEAR(&m->vec_in1, row, vrow, OP_ACT_NONE);
    TRY(op_binary(&r->ctx, OP_ADD, vec, vrow, vec, err));
    TRY(op_act(&r->ctx, OP_ACT_SILU, vec, sv, err));
    for (int64_t i = 0; i < c->depth; i++) {
        struct flux_double *b = &m->doubles[i];
        LINEAR(&b->img_mod, sv, op_tensor_slice(*mod_all, 0, s, b->img_mod_col, 6 * d), OP_ACT_NONE);
        LINEAR(&b->txt_mod, sv, op_tensor_slice(*mod_all, 0, s, b->txt_mod_col, 6 * d), OP_ACT_NONE);
    }
    for (int64_t i = 0; i < c->depth_single; i++) {
        struct flux_single *b = &m->singles[i];
        LINEAR(&b->mod, sv, op_tensor_slice(*mod_all, 0, s, b->mod_col, 3 * d), OP_ACT_NONE);
    }
    LINEAR(&m->final_mod, sv, op_tensor_slice(*mod_all, 0, s, m->final_mod_col, 2 * d), OP_ACT_NONE);
#undef LINEAR
    return cmp_cmd_submit(m->res.cmd, err);
}

static enum lw_status conditioning(struct flux_model *m, const struct flux_inputs *in, const float *times,
                                   const float *next, int64_t s, float **out, struct lw_error *err) {
    struct flux_run   r = {.ctx = {.device = m->device, .cmd = m->res.cmd}};
    struct op_tensor  mod_all = {0};
    struct cmp_arena *arena = NULL;
    float            *host = NULL;
    cmp_cmd_reset(m->res.cmd);
    cmp_arena_reset(m->res.activations);
    uint64_t       block = m->memory.conditioning + 65536 < STAGE_BYTES ? m->memory.conditioning + 65536 : STAGE_BYTES;
    enum lw_status status = cmp_arena_create(m->device, CMP_MEMORY_DEVICE, block, &arena, err);
    if (status == LW_OK) status = conditioning_record(m, &r, arena, in, times, s, &mod_all, err);
    cmp_cmd_reset(m->res.cmd);
    /* the staged weights are gone with the arena */
    struct flux_linear *ls[2 * FLUX_MAX_BLOCKS + 8];
    int                 count = flux_conditioning_linears(m, ls, (int)(sizeof ls / sizeof ls[0]));
    for (int i = 0; i < count; i++) ls[i]->w = ls[i]->b = (struct op_tensor){0};
    cmp_arena_destroy(arena);
    if (status == LW_OK && !(host = malloc((size_t)(s * m->mod_cols) * sizeof *host)))
        status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    if (status == LW_OK)
        status = cmp_view_download(mod_all.view, host, (uint64_t)(s * m->mod_cols) * 4, err);
    if (status != LW_OK) {
        free(host);
        return status;
    }
    int64_t in_ch = m->cfg.in_channels;
    for (int64_t i = 0; i < s; i++)
        for (int64_t k = m->mod_cols - in_ch; k < m->mod_cols; k++)
            host[i * m->mod_cols + k] = next ? next[i] - times[i] : 0.0f;
    *out = host;
    return LW_OK;
}

/* Sizes the forward activations for this sequence and uploads the step-independent inputs. */
static enum lw_status forward_begin(struct flux_model *m, struct flux_run *r, const struct flux_inputs *in,
                                    struct lw_error *err) {
    const struct flux_config *c = &m->cfg;
    enum lw_status            status;
    int64_t                   shapes[A_COUNT][2];
    struct op_tensor *fields[A_COUNT] = {&r->x,      &r->a,      &r->qkv,  &r->cat,  &r->tmp, &r->lora_t,
                                         &r->tokens, &r->txt,    &r->rope, &r->out,  &r->mod};
    cmp_cmd_reset(m->res.cmd);
    cmp_arena_reset(m->res.activations);
    *r = (struct flux_run){.ctx = {.device = m->device, .cmd = m->res.cmd}, .t = in->t_tokens,
                           .n = in->grid_h * in->grid_w, .c = in->context ? in->ctx_grid_h * in->ctx_grid_w : 0};
    r->l = r->t + r->n + r->c;
    forward_shapes(c, r->t, r->n, r->c, lora_rank_max(m), shapes);
    for (int i = 0; i < A_COUNT; i++)
        if (shapes[i][0] * shapes[i][1] > 0) TRY(alloc2d(m, shapes[i][0], shapes[i][1], fields[i], err));
    m->memory.activations = cmp_arena_used_bytes(m->res.activations);
    if (r->t) TRY(cmp_view_upload(r->txt.view, in->txt, (uint64_t)(r->t * c->context_in) * 4, err));
    if (r->c)
        TRY(cmp_view_upload(cmp_view_slice(r->tokens.view, (uint64_t)(r->n * c->in_channels) * 4,
                                           (uint64_t)(r->c * c->in_channels) * 4),
                            in->context, (uint64_t)(r->c * c->in_channels) * 4, err));
    float *ids = malloc((size_t)r->l * 3 * sizeof *ids);
    float *rope = malloc((size_t)(r->l * c->head_dim * 2) * sizeof *rope);
    if (!ids || !rope) status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    else {
        sequence_ids(in, r->n, r->c, ids);
        rope_table(c, ids, r->l, rope);
        status = cmp_view_upload(r->rope.view, rope, (uint64_t)(r->l * c->head_dim * 2) * 4, err);
    }
    free(ids);
    free(rope);
    return status;
}

/* ---------------------------------------------------------------------------------------------- */
/* Evaluation and sampling                                                                          */

static enum lw_status evaluate(struct flux_model *m, const struct flux_inputs *in, const float *x,
                               const float *times, const float *next, int steps, flux_step_fn on_step,
                               void *user, float *result, bool velocity, struct lw_error *err) {
    const struct flux_config *c = &m->cfg;
    int64_t n = in->grid_h * in->grid_w, cn = in->context ? in->ctx_grid_h * in->ctx_grid_w : 0;
    if (n <= 0 || in->t_tokens < 0 || cn < 0 || steps <= 0 || (in->t_tokens && !in->txt) || !in->y || !x)
        return lw_error_set(err, LW_ERR_ARGUMENT, "flux: bad inputs (%lld text, %lld noise, %lld context "
                            "tokens, %d steps)", (long long)in->t_tokens, (long long)n, (long long)cn, steps);
    struct flux_run r;
    float          *mods = NULL;
    uint64_t        need = flux_activation_bytes(c, in->t_tokens, n, cn, lora_rank_max(m));
    if (conditioning_bytes(m, steps) > need) need = conditioning_bytes(m, steps);
    enum lw_status status = activations_fit(m, need, err);
    if (status == LW_OK) status = conditioning(m, in, times, next, steps, &mods, err);
    if (status == LW_OK) status = forward_begin(m, &r, in, err);
    if (status == LW_OK)
        status = cmp_view_upload(r.tokens.view, x, (uint64_t)(r.n * c->in_channels) * 4, err);
    if (status == LW_OK) status = record_forward(m, &r, !velocity, err);
    if (status == LW_OK && on_step && !on_step(user, 0, steps))
        status = lw_error_set(err, LW_ERR_CANCELLED, "cancelled before the first step");
    for (int s = 0; s < steps && status == LW_OK; s++) {
        status = cmp_view_upload(r.mod.view, mods + (int64_t)s * m->mod_cols, (uint64_t)m->mod_cols * 4, err);
        if (status == LW_OK) status = cmp_cmd_submit(m->res.cmd, err);
        if (next) m->sampling = &r, m->sampling_next = next[s], m->sampling_dt = next[s] - times[s];
        if (status == LW_OK && on_step && !on_step(user, s + 1, steps))
            status = lw_error_set(err, LW_ERR_CANCELLED, "cancelled after step %d of %d", s + 1, steps);
        m->sampling = NULL;
    }
    if (status == LW_OK)
        status = velocity ? cmp_view_download(r.out.view, result, (uint64_t)(r.n * c->out_channels) * 4, err)
                          : cmp_view_download(r.tokens.view, result, (uint64_t)(r.n * c->in_channels) * 4, err);
    cmp_cmd_reset(m->res.cmd);
    free(mods);
    return status;
}

enum lw_status flux_sample_x0(struct flux_model *m, float *x0, struct lw_error *err) {
    struct flux_run *r = m->sampling;
    if (!r) return lw_error_set(err, LW_ERR_ARGUMENT, "flux: no sampling step to preview");
    int64_t  in = m->cfg.in_channels, count = r->n * in;
    float   *v = malloc((size_t)count * sizeof *v);
    if (!v) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    enum lw_status status = cmp_view_download(r->tokens.view, x0, (uint64_t)count * 4, err);
    if (status == LW_OK) status = cmp_view_download(r->out.view, v, (uint64_t)count * 4, err);
    /* out holds dt·v after the step; x0 = x_next − σ_next·v */
    for (int64_t i = 0; status == LW_OK && i < count; i++) x0[i] -= m->sampling_next * v[i] / m->sampling_dt;
    free(v);
    return status;
}

enum lw_status flux_forward(struct flux_model *m, const struct flux_inputs *in, const float *x, float t,
                            float *velocity, struct lw_error *err) {
    return evaluate(m, in, x, &t, NULL, 1, NULL, NULL, velocity, true, err);
}

enum lw_status flux_sample(struct flux_model *m, const struct flux_inputs *in, const float *noise,
                           const float *sigmas, int steps, flux_step_fn on_step, void *user,
                           float *latent, struct lw_error *err) {
    if (steps <= 0 || steps > 1000)
        return lw_error_set(err, LW_ERR_ARGUMENT, "flux: %d steps (1 … 1000 allowed)", steps);
    return evaluate(m, in, noise, sigmas, sigmas + 1, steps, on_step, user, latent, false, err);
}
