/* The T5 v1.1 encoder on the engine (spec-lorweb.md §4.3; Hugging Face `modeling_t5.py`, encoder).
 *
 * Per layer: h += O(Attn(RMSNorm(h))) with scores q·kᵀ (no 1/√d scaling) plus a relative position
 * bias computed once from layer 0's table and shared by every layer; then h += Wo(gelu_tanh(Wi0 n) ⊙
 * (Wi1 n)) with n = RMSNorm(h). No biases anywhere, no mask, no √d embedding scale. The bias table
 * (heads·N, N) is built on the CPU (bucketing is integer work) and uploaded per sequence length.
 * GGUF names (llama.cpp style) are translated to HF names. N tokens, D d_model, F d_ff. */
#include "t5.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "ops.h"
#include "weights.h"

#define MAX_LAYERS 64

struct t5_layer {
    struct op_tensor attn_norm, q, k, v, o, ffn_norm, wi0, wi1, wo;
};

struct t5_model {
    struct cmp_device      *device;
    struct ld_resources     res;
    struct wt_file         *file; /* kept open for embedding rows */
    const struct wt_tensor *shared;
    float                  *bias_table; /* (buckets, heads) */
    struct t5_config        cfg;
    struct t5_layer         layers[MAX_LAYERS];
    struct op_tensor        final_norm;
    bool                    gguf_names;
};

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        status = (expr);                                                                           \
        if (status != LW_OK) return status;                                                        \
    } while (0)

int64_t t5_bucket(int64_t rel, int64_t buckets, int64_t max_distance) {
    int64_t half = buckets / 2, exact = half / 2;
    int64_t base = rel > 0 ? half : 0;
    int64_t a = rel < 0 ? -rel : rel;
    if (a < exact) return base + a;
    /* HF computes this in float32: log(a / exact) / log(max_distance / exact) · (half − exact). */
    float   v = logf((float)a / (float)exact) / (float)log((double)max_distance / (double)exact) *
              (float)(half - exact);
    int64_t large = exact + (int64_t)v;
    if (large > half - 1) large = half - 1;
    return base + large;
}

/* HF names → GGUF names (spec §4.3 table) for files that use the latter. */
static bool gguf_name(const char *hf, char *out, size_t size) {
    int  l;
    char rest[160];
    if (strcmp(hf, "shared.weight") == 0) return snprintf(out, size, "token_embd.weight"), true;
    if (strcmp(hf, "encoder.final_layer_norm.weight") == 0)
        return snprintf(out, size, "enc.output_norm.weight"), true;
    if (sscanf(hf, "encoder.block.%d.%159s", &l, rest) != 2) return false;
    static const char *const pairs[][2] = {
        {"layer.0.SelfAttention.q.weight", "attn_q.weight"},
        {"layer.0.SelfAttention.k.weight", "attn_k.weight"},
        {"layer.0.SelfAttention.v.weight", "attn_v.weight"},
        {"layer.0.SelfAttention.o.weight", "attn_o.weight"},
        {"layer.0.SelfAttention.relative_attention_bias.weight", "attn_rel_b.weight"},
        {"layer.0.layer_norm.weight", "attn_norm.weight"},
        {"layer.1.DenseReluDense.wi_0.weight", "ffn_gate.weight"},
        {"layer.1.DenseReluDense.wi_1.weight", "ffn_up.weight"},
        {"layer.1.DenseReluDense.wo.weight", "ffn_down.weight"},
        {"layer.1.layer_norm.weight", "ffn_norm.weight"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        if (strcmp(rest, pairs[i][0]) == 0) {
            snprintf(out, size, "enc.blk.%d.%s", l, pairs[i][1]);
            return true;
        }
    return false;
}

static enum lw_status config_read(struct ld_loader *ld, struct t5_config *c, struct lw_error *err) {
    const struct wt_tensor *q = ld_find(ld, "encoder.block.0.layer.0.SelfAttention.q.weight");
    const struct wt_tensor *wi = ld_find(ld, "encoder.block.0.layer.1.DenseReluDense.wi_0.weight");
    const struct wt_tensor *rel =
        ld_find(ld, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight");
    const struct wt_tensor *shared = ld_find(ld, "shared.weight");
    if (!q || q->ndim != 2 || !wi || wi->ndim != 2 || !rel || rel->ndim != 2 || !shared)
        return lw_error_set(err, LW_ERR_MISSING,
                            "%s: not a T5 encoder (block 0 attention, feed-forward, relative bias or "
                            "shared.weight missing)", ld->path);
    /* GGUF stores shapes innermost-first reversed already by the reader: [out, in] as HF. */
    c->d_model = ld_meta_int(ld, "t5.d_model", q->shape[1]);
    c->d_ff = ld_meta_int(ld, "t5.d_ff", wi->shape[0]);
    c->heads = ld_meta_int(ld, "t5.num_heads", rel->shape[1]);
    c->d_kv = ld_meta_int(ld, "t5.d_kv", c->heads ? q->shape[0] / c->heads : 64);
    c->buckets = ld_meta_int(ld, "t5.relative_attention_num_buckets", rel->shape[0]);
    c->max_distance = ld_meta_int(ld, "t5.relative_attention_max_distance", 128);
    c->vocab = shared->shape[0];
    c->eps = ld_meta_float(ld, "t5.layer_norm_epsilon", 1e-6);
    int64_t layers = 0;
    char    name[128];
    while (layers < MAX_LAYERS) {
        snprintf(name, sizeof name, "encoder.block.%lld.layer.0.SelfAttention.q.weight", (long long)layers);
        if (!ld_find(ld, name)) break;
        layers++;
    }
    c->layers = ld_meta_int(ld, "t5.num_layers", layers);
    if (c->heads <= 0 || c->d_kv <= 0 || c->heads * c->d_kv != q->shape[0] || c->layers <= 0 ||
        c->layers > MAX_LAYERS || c->buckets < 4 || c->max_distance <= c->buckets / 4)
        return lw_error_set(err, LW_ERR_FORMAT,
                            "%s: implausible T5 hyper-parameters (d_model %lld, heads %lld × %lld, "
                            "%lld layers, %lld buckets)",
                            ld->path, (long long)c->d_model, (long long)c->heads,
                            (long long)c->d_kv, (long long)c->layers, (long long)c->buckets);
    return LW_OK;
}

enum lw_status t5_load(struct cmp_device *device, const char *path, struct t5_model **out,
                       struct lw_error *err) {
    *out = NULL;
    struct t5_model *m = calloc(1, sizeof *m);
    if (!m) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    m->device = device;
    enum lw_status status = wt_open(path, &m->file, err);
    if (status == LW_OK) status = ld_resources_create(device, &m->res, err);
    if (status != LW_OK) goto cleanup;
    struct ld_loader ld = {.device = device, .arena = m->res.weights, .file = m->file, .path = path, .err = err};
    if (!wt_find(m->file, "shared.weight") && wt_find(m->file, "token_embd.weight"))
        ld.translate = gguf_name;
    status = config_read(&ld, &m->cfg, err);
    if (status != LW_OK) goto cleanup;
    const struct t5_config *c = &m->cfg;
    int64_t                 d = c->d_model, inner = c->heads * c->d_kv, f = c->d_ff;
    char                    p[96];
    for (int64_t l = 0; l < c->layers; l++) {
        struct t5_layer *y = &m->layers[l];
        snprintf(p, sizeof p, "encoder.block.%lld.layer", (long long)l);
        y->attn_norm = ld_vectorf(&ld, d, "%s.0.layer_norm.weight", p);
        y->q = ld_weightf(&ld, 2, (int64_t[]){inner, d}, "%s.0.SelfAttention.q.weight", p);
        y->k = ld_weightf(&ld, 2, (int64_t[]){inner, d}, "%s.0.SelfAttention.k.weight", p);
        y->v = ld_weightf(&ld, 2, (int64_t[]){inner, d}, "%s.0.SelfAttention.v.weight", p);
        y->o = ld_weightf(&ld, 2, (int64_t[]){d, inner}, "%s.0.SelfAttention.o.weight", p);
        y->ffn_norm = ld_vectorf(&ld, d, "%s.1.layer_norm.weight", p);
        y->wi0 = ld_weightf(&ld, 2, (int64_t[]){f, d}, "%s.1.DenseReluDense.wi_0.weight", p);
        y->wi1 = ld_weightf(&ld, 2, (int64_t[]){f, d}, "%s.1.DenseReluDense.wi_1.weight", p);
        y->wo = ld_weightf(&ld, 2, (int64_t[]){d, f}, "%s.1.DenseReluDense.wo.weight", p);
    }
    m->final_norm = ld_vector(&ld, "encoder.final_layer_norm.weight", d);
    m->shared = ld_find(&ld, "shared.weight");
    m->bias_table = malloc((size_t)(c->buckets * c->heads) * sizeof *m->bias_table);
    if (!m->bias_table) {
        status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
        goto cleanup;
    }
    ld_read_host(&ld, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                 m->bias_table, (uint64_t)(c->buckets * c->heads));
    status = ld.status;
    if (status == LW_OK && (m->shared->ndim != 2 || m->shared->shape[1] != d))
        status = lw_error_set(err, LW_ERR_SHAPE, "%s: shared.weight is not [vocab, %lld]", path,
                              (long long)d);
cleanup:
    if (status != LW_OK) {
        t5_destroy(m);
        return status;
    }
    *out = m;
    return LW_OK;
}

void t5_destroy(struct t5_model *m) {
    if (!m) return;
    ld_resources_destroy(&m->res);
    wt_close(m->file);
    free(m->bias_table);
    free(m);
}

const struct t5_config *t5_config(const struct t5_model *m) {
    return &m->cfg;
}

/* Gathers embedding rows on the CPU (any dtype the reader converts) into `out` (n, D). */
static enum lw_status embed(struct t5_model *m, const int32_t *ids, int64_t n, float *out,
                            struct lw_error *err) {
    const struct wt_tensor *t = m->shared;
    int64_t                 d = m->cfg.d_model;
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->shape[0])
            return lw_error_set(err, LW_ERR_ARGUMENT, "T5: token id %d outside the vocabulary (%lld)",
                                ids[i], (long long)t->shape[0]);
        struct wt_tensor row = *t; /* a one-row view of the mapped table */
        uint64_t         row_bytes = lw_dtype_bytes(t->dtype, (uint64_t)d);
        row.data = (const uint8_t *)t->data + row_bytes * (uint64_t)ids[i];
        row.bytes = row_bytes;
        row.ndim = 2;
        row.shape[0] = 1;
        enum lw_status status = wt_read_f32(&row, out + i * d, (uint64_t)d, err);
        if (status != LW_OK) return status;
    }
    return LW_OK;
}

enum lw_status t5_forward(struct t5_model *m, const int32_t *ids, int64_t n, float *hidden,
                          struct lw_error *err) {
    const struct t5_config *c = &m->cfg;
    int64_t                 d = c->d_model, inner = c->heads * c->d_kv, f = c->d_ff, h = c->heads;
    enum lw_status          status;
    if (n <= 0 || n > 4096)
        return lw_error_set(err, LW_ERR_ARGUMENT, "T5: %lld tokens (1 … 4096 allowed)", (long long)n);
    cmp_cmd_reset(m->res.cmd);
    cmp_arena_reset(m->res.activations);
    struct op_ctx   ctx = {.device = m->device, .cmd = m->res.cmd};
    struct cmp_view vx, vt, vq, vk, vv, va, vg, vb;
    TRY(cmp_arena_alloc(m->res.activations, (uint64_t)(n * d) * 4, &vx, err));
    TRY(cmp_arena_alloc(m->res.activations, (uint64_t)(n * d) * 4, &vt, err));
    TRY(cmp_arena_alloc(m->res.activations, (uint64_t)(n * inner) * 4, &vq, err));
    TRY(cmp_arena_alloc(m->res.activations, (uint64_t)(n * inner) * 4, &vk, err));
    TRY(cmp_arena_alloc(m->res.activations, (uint64_t)(n * inner) * 4, &vv, err));
    TRY(cmp_arena_alloc(m->res.activations, (uint64_t)(n * inner) * 4, &va, err));
    TRY(cmp_arena_alloc(m->res.activations, (uint64_t)(n * f) * 4, &vg, err));
    TRY(cmp_arena_alloc(m->res.activations, (uint64_t)(h * n * n) * 4, &vb, err));
    struct op_tensor x = op_tensor_2d(vx, LW_DTYPE_F32, n, d), t = op_tensor_2d(vt, LW_DTYPE_F32, n, d);
    struct op_tensor q = op_tensor_2d(vq, LW_DTYPE_F32, n, inner), k = op_tensor_2d(vk, LW_DTYPE_F32, n, inner);
    struct op_tensor v = op_tensor_2d(vv, LW_DTYPE_F32, n, inner), a = op_tensor_2d(va, LW_DTYPE_F32, n, inner);
    struct op_tensor g = op_tensor_2d(vg, LW_DTYPE_F32, n, f); // (N, F) gated hidden
    struct op_tensor bias = op_tensor_2d(vb, LW_DTYPE_F32, h * n, n); // (H·N, N)

    /* Host work: embeddings and the position bias, bias[h][i][j] = table[bucket(j − i)][h]. */
    size_t host_floats = (size_t)(n * d) > (size_t)(h * n * n) ? (size_t)(n * d) : (size_t)(h * n * n);
    float *host = malloc(host_floats * sizeof *host);
    if (!host) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    status = embed(m, ids, n, host, err);
    if (status == LW_OK) status = cmp_view_upload(vx, host, (uint64_t)(n * d) * 4, err);
    if (status == LW_OK) {
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) {
                int64_t bucket = t5_bucket(j - i, c->buckets, c->max_distance);
                for (int64_t hh = 0; hh < h; hh++)
                    host[(hh * n + i) * n + j] = m->bias_table[bucket * h + hh];
            }
        status = cmp_view_upload(vb, host, (uint64_t)(h * n * n) * 4, err);
    }
    free(host);
    if (status != LW_OK) return status;

    for (int64_t l = 0; l < c->layers; l++) {
        const struct t5_layer *y = &m->layers[l];
        struct op_norm_args    norm = {.x = x, .weight = y->attn_norm, .y = t, .eps = (float)c->eps, .rms = true};
        TRY(op_norm(&ctx, &norm, err));
        struct op_matmul_args mm = {.x = t, .w = y->q, .y = q};
        TRY(op_matmul(&ctx, &mm, err));
        mm.w = y->k, mm.y = k;
        TRY(op_matmul(&ctx, &mm, err));
        mm.w = y->v, mm.y = v;
        TRY(op_matmul(&ctx, &mm, err));
        struct op_attention_args at = {.q = q, .k = k, .v = v, .bias = bias, .out = a,
                                       .heads = h, .head_dim = c->d_kv, .scale = 1.0f};
        TRY(op_attention(&ctx, &at, err));
        mm = (struct op_matmul_args){.x = a, .w = y->o, .y = x, .mode = OP_ACCUMULATE};
        TRY(op_matmul(&ctx, &mm, err));
        norm.weight = y->ffn_norm;
        TRY(op_norm(&ctx, &norm, err));
        mm = (struct op_matmul_args){.x = t, .w = y->wi0, .y = g, .act = OP_ACT_GELU_TANH};
        TRY(op_matmul(&ctx, &mm, err));
        mm = (struct op_matmul_args){.x = t, .w = y->wi1, .y = g, .mode = OP_MULTIPLY};
        TRY(op_matmul(&ctx, &mm, err));
        mm = (struct op_matmul_args){.x = g, .w = y->wo, .y = x, .mode = OP_ACCUMULATE};
        TRY(op_matmul(&ctx, &mm, err));
    }
    struct op_norm_args final = {.x = x, .weight = m->final_norm, .y = t, .eps = (float)c->eps, .rms = true};
    TRY(op_norm(&ctx, &final, err));
    TRY(cmp_cmd_submit(m->res.cmd, err));
    return cmp_view_download(vt, hidden, (uint64_t)(n * d) * 4, err);
}
