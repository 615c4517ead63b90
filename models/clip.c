/* CLIP vision and text towers on the engine (spec-lorweb.md §3.2, §4.1; Hugging Face
 * `modeling_clip.py` CLIPVisionModelWithProjection and CLIPTextModel).
 *
 * Both towers are the same pre-LN transformer: h += out_proj(MHA(LN1(h))); h += fc2(quick_gelu(fc1(
 * LN2(h)))), q/k/v with bias, scale 1/√(head dim). Vision: 14×14 stride-14 patch conv (no bias),
 * class token, learned positions, pre_layrnorm, post_layernorm on the class token only, projection
 * without bias. Text: token + position embeddings, causal mask, final LayerNorm, pooled at the first
 * end-of-text id. Not here: preprocessing (models/resize.c) and tokenisation. N tokens, D hidden. */
#include "clip.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "ops.h"
#include "weights.h"

#define MAX_LAYERS 64
#define CLIP_EOS 49407

struct clip_layer {
    struct op_tensor ln1_w, ln1_b, q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b;
    struct op_tensor ln2_w, ln2_b, fc1_w, fc1_b, fc2_w, fc2_b;
};

struct clip_model {
    enum clip_kind     kind;
    struct cmp_device *device;
    struct ld_resources res;
    struct wt_file    *file; /* kept open for the text tower's token-embedding rows */
    const struct wt_tensor *token_embedding;
    struct clip_config cfg;
    struct clip_layer  layers[MAX_LAYERS];
    /* vision */
    struct op_tensor patch_w, class_emb, positions, pre_ln_w, pre_ln_b, post_ln_w, post_ln_b, proj_w;
    /* text */
    struct op_tensor final_ln_w, final_ln_b;
    struct op_tensor text_positions;
};

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        status = (expr);                                                                           \
        if (status != LW_OK) return status;                                                        \
    } while (0)

static void layer_load(struct ld_loader *ld, struct clip_layer *l, const char *p, int64_t d,
                       int64_t f) {
    l->ln1_w = ld_vectorf(ld, d, "%s.layer_norm1.weight", p);
    l->ln1_b = ld_vectorf(ld, d, "%s.layer_norm1.bias", p);
    l->q_w = ld_weightf(ld, 2, (int64_t[]){d, d}, "%s.self_attn.q_proj.weight", p);
    l->q_b = ld_vectorf(ld, d, "%s.self_attn.q_proj.bias", p);
    l->k_w = ld_weightf(ld, 2, (int64_t[]){d, d}, "%s.self_attn.k_proj.weight", p);
    l->k_b = ld_vectorf(ld, d, "%s.self_attn.k_proj.bias", p);
    l->v_w = ld_weightf(ld, 2, (int64_t[]){d, d}, "%s.self_attn.v_proj.weight", p);
    l->v_b = ld_vectorf(ld, d, "%s.self_attn.v_proj.bias", p);
    l->o_w = ld_weightf(ld, 2, (int64_t[]){d, d}, "%s.self_attn.out_proj.weight", p);
    l->o_b = ld_vectorf(ld, d, "%s.self_attn.out_proj.bias", p);
    l->ln2_w = ld_vectorf(ld, d, "%s.layer_norm2.weight", p);
    l->ln2_b = ld_vectorf(ld, d, "%s.layer_norm2.bias", p);
    l->fc1_w = ld_weightf(ld, 2, (int64_t[]){f, d}, "%s.mlp.fc1.weight", p);
    l->fc1_b = ld_vectorf(ld, f, "%s.mlp.fc1.bias", p);
    l->fc2_w = ld_weightf(ld, 2, (int64_t[]){d, f}, "%s.mlp.fc2.weight", p);
    l->fc2_b = ld_vectorf(ld, d, "%s.mlp.fc2.bias", p);
}

static int64_t count_layers(struct ld_loader *ld, const char *tower) {
    char name[160];
    for (int64_t l = 0; l < MAX_LAYERS; l++) {
        snprintf(name, sizeof name, "%s.encoder.layers.%lld.mlp.fc1.weight", tower, (long long)l);
        if (!ld_find(ld, name)) return l;
    }
    return MAX_LAYERS;
}

static enum lw_status config_read(struct ld_loader *ld, enum clip_kind kind, struct clip_config *c,
                                  struct lw_error *err) {
    const char *tower = kind == CLIP_VISION ? "vision_model" : "text_model";
    const char *meta = kind == CLIP_VISION ? "clip_vision" : "clip_text";
    char        key[96], name[160];
    memset(c, 0, sizeof *c);
    snprintf(name, sizeof name, "%s.encoder.layers.0.mlp.fc1.weight", tower);
    const struct wt_tensor *fc1 = ld_find(ld, name);
    if (!fc1 || fc1->ndim != 2)
        return lw_error_set(err, LW_ERR_MISSING, "%s: no CLIP %s tower (tensor %s missing)",
                            ld->path, kind == CLIP_VISION ? "vision" : "text", name);
    c->hidden = fc1->shape[1];
    c->mlp = fc1->shape[0];
#define META(field, suffix, fallback)                                                              \
    snprintf(key, sizeof key, "%s." suffix, meta);                                                 \
    c->field = ld_meta_int(ld, key, fallback)
    META(hidden, "hidden_size", c->hidden);
    META(heads, "num_heads", c->hidden / 64 > 0 ? c->hidden / 64 : 1);
    META(layers, "num_layers", count_layers(ld, tower));
    if (kind == CLIP_VISION) {
        const struct wt_tensor *patch = ld_find(ld, "vision_model.embeddings.patch_embedding.weight");
        const struct wt_tensor *pos = ld_find(ld, "vision_model.embeddings.position_embedding.weight");
        const struct wt_tensor *proj = ld_find(ld, "visual_projection.weight");
        int64_t patch_size = patch && patch->ndim == 4 ? patch->shape[2] : 14;
        int64_t grid = pos && pos->ndim == 2 ? (int64_t)llround(sqrt((double)(pos->shape[0] - 1))) : 16;
        META(patch, "patch_size", patch_size);
        META(image_size, "image_size", grid * c->patch);
        META(projection, "projection_dim", proj && proj->ndim == 2 ? proj->shape[0] : 768);
    } else {
        const struct wt_tensor *tok = ld_find(ld, "text_model.embeddings.token_embedding.weight");
        const struct wt_tensor *pos = ld_find(ld, "text_model.embeddings.position_embedding.weight");
        META(vocab, "vocab_size", tok && tok->ndim == 2 ? tok->shape[0] : 49408);
        META(positions, "max_position_embeddings", pos && pos->ndim == 2 ? pos->shape[0] : 77);
    }
#undef META
    snprintf(key, sizeof key, "%s.layer_norm_eps", meta);
    c->eps = ld_meta_float(ld, key, 1e-5);
    if (c->hidden <= 0 || c->heads <= 0 || c->hidden % c->heads || c->layers <= 0 ||
        c->layers > MAX_LAYERS || (kind == CLIP_VISION && (c->patch <= 0 || c->image_size % c->patch)))
        return lw_error_set(err, LW_ERR_FORMAT,
                            "%s: implausible CLIP hyper-parameters (hidden %lld, heads %lld, layers "
                            "%lld, patch %lld, image %lld)",
                            ld->path, (long long)c->hidden, (long long)c->heads,
                            (long long)c->layers, (long long)c->patch, (long long)c->image_size);
    return LW_OK;
}

enum lw_status clip_load(struct cmp_device *device, const char *path, enum clip_kind kind,
                         struct clip_model **out, struct lw_error *err) {
    *out = NULL;
    struct clip_model *m = calloc(1, sizeof *m);
    if (!m) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    m->kind = kind;
    m->device = device;
    enum lw_status status = wt_open(path, &m->file, err);
    if (status == LW_OK) status = ld_resources_create(device, &m->res, err);
    struct ld_loader ld = {.device = device, .arena = m->res.weights, .file = m->file, .path = path, .err = err};
    if (status == LW_OK) status = config_read(&ld, kind, &m->cfg, err);
    if (status != LW_OK) goto cleanup;
    const struct clip_config *c = &m->cfg;
    int64_t                   d = c->hidden;
    const char               *tower = kind == CLIP_VISION ? "vision_model" : "text_model";
    char                      p[160];
    for (int64_t l = 0; l < c->layers; l++) {
        snprintf(p, sizeof p, "%s.encoder.layers.%lld", tower, (long long)l);
        layer_load(&ld, &m->layers[l], p, d, c->mlp);
    }
    if (kind == CLIP_VISION) {
        int64_t n = (c->image_size / c->patch) * (c->image_size / c->patch) + 1;
        m->patch_w = ld_weight(&ld, "vision_model.embeddings.patch_embedding.weight", 4,
                               (int64_t[]){d, 3, c->patch, c->patch});
        m->class_emb = ld_vector(&ld, "vision_model.embeddings.class_embedding", d);
        m->positions = ld_weight_f32(&ld, "vision_model.embeddings.position_embedding.weight", 2,
                                     (int64_t[]){n, d});
        m->pre_ln_w = ld_vector(&ld, "vision_model.pre_layrnorm.weight", d);
        m->pre_ln_b = ld_vector(&ld, "vision_model.pre_layrnorm.bias", d);
        m->post_ln_w = ld_vector(&ld, "vision_model.post_layernorm.weight", d);
        m->post_ln_b = ld_vector(&ld, "vision_model.post_layernorm.bias", d);
        m->proj_w = ld_weight(&ld, "visual_projection.weight", 2, (int64_t[]){c->projection, d});
    } else {
        m->token_embedding = ld_find(&ld, "text_model.embeddings.token_embedding.weight");
        if (!m->token_embedding || m->token_embedding->ndim != 2 ||
            m->token_embedding->shape[1] != d) {
            status = lw_error_set(err, LW_ERR_MISSING,
                                  "%s: text_model.embeddings.token_embedding.weight missing or not "
                                  "[vocab, %lld]", path, (long long)d);
            goto cleanup;
        }
        m->text_positions = ld_weight_f32(&ld, "text_model.embeddings.position_embedding.weight", 2,
                                          (int64_t[]){c->positions, d});
        m->final_ln_w = ld_vector(&ld, "text_model.final_layer_norm.weight", d);
        m->final_ln_b = ld_vector(&ld, "text_model.final_layer_norm.bias", d);
    }
    status = ld.status;
cleanup:
    if (status != LW_OK) {
        clip_destroy(m);
        return status;
    }
    if (kind == CLIP_VISION) { /* the text tower keeps the file for embedding rows */
        wt_close(m->file);
        m->file = NULL;
    }
    *out = m;
    return LW_OK;
}

void clip_destroy(struct clip_model *m) {
    if (!m) return;
    ld_resources_destroy(&m->res);
    wt_close(m->file);
    free(m);
}

const struct clip_config *clip_config(const struct clip_model *m) {
    return &m->cfg;
}

/* Activations of one forward: h (N, D) the residual stream, t (N, D) normed, q/k/v/att (N, D),
 * u (N, F) the MLP hidden. */
struct clip_run {
    struct op_ctx    ctx;
    struct op_tensor h, t, q, k, v, att, u;
};

static enum lw_status run_begin(struct clip_model *m, struct clip_run *r, int64_t n,
                                struct lw_error *err) {
    int64_t         d = m->cfg.hidden, f = m->cfg.mlp;
    struct cmp_view view;
    enum lw_status  status;
    cmp_cmd_reset(m->res.cmd);
    cmp_arena_reset(m->res.activations);
    r->ctx = (struct op_ctx){.device = m->device, .cmd = m->res.cmd};
    struct op_tensor *square[] = {&r->h, &r->t, &r->q, &r->k, &r->v, &r->att};
    for (size_t i = 0; i < sizeof square / sizeof square[0]; i++) {
        TRY(cmp_arena_alloc(m->res.activations, (uint64_t)(n * d) * 4, &view, err));
        *square[i] = op_tensor_2d(view, LW_DTYPE_F32, n, d);
    }
    TRY(cmp_arena_alloc(m->res.activations, (uint64_t)(n * f) * 4, &view, err));
    r->u = op_tensor_2d(view, LW_DTYPE_F32, n, f);
    return LW_OK;
}

static enum lw_status linear(struct clip_run *r, struct op_tensor x, struct op_tensor w,
                             struct op_tensor b, struct op_tensor y, enum op_act a,
                             enum op_matmul_mode mode, struct lw_error *err) {
    struct op_matmul_args args = {.x = x, .w = w, .bias = b, .y = y, .act = a, .mode = mode};
    return op_matmul(&r->ctx, &args, err);
}

static enum lw_status layer_norm(struct clip_run *r, struct op_tensor x, struct op_tensor w,
                                 struct op_tensor b, struct op_tensor y, double eps,
                                 struct lw_error *err) {
    struct op_norm_args args = {.x = x, .weight = w, .bias = b, .y = y, .eps = (float)eps};
    return op_norm(&r->ctx, &args, err);
}

static enum lw_status encoder(struct clip_model *m, struct clip_run *r, bool causal,
                              struct lw_error *err) {
    const struct clip_config *c = &m->cfg;
    enum lw_status            status;
    for (int64_t i = 0; i < c->layers; i++) {
        const struct clip_layer *l = &m->layers[i];
        TRY(layer_norm(r, r->h, l->ln1_w, l->ln1_b, r->t, c->eps, err));
        TRY(linear(r, r->t, l->q_w, l->q_b, r->q, OP_ACT_NONE, OP_STORE, err));
        TRY(linear(r, r->t, l->k_w, l->k_b, r->k, OP_ACT_NONE, OP_STORE, err));
        TRY(linear(r, r->t, l->v_w, l->v_b, r->v, OP_ACT_NONE, OP_STORE, err));
        struct op_attention_args at = {.q = r->q, .k = r->k, .v = r->v, .out = r->att,
                                       .heads = c->heads, .head_dim = c->hidden / c->heads,
                                       .scale = (float)(1.0 / sqrt((double)(c->hidden / c->heads))),
                                       .causal = causal};
        TRY(op_attention(&r->ctx, &at, err));
        TRY(linear(r, r->att, l->o_w, l->o_b, r->h, OP_ACT_NONE, OP_ACCUMULATE, err));
        TRY(layer_norm(r, r->h, l->ln2_w, l->ln2_b, r->t, c->eps, err));
        TRY(linear(r, r->t, l->fc1_w, l->fc1_b, r->u, OP_ACT_QUICK_GELU, OP_STORE, err));
        TRY(linear(r, r->u, l->fc2_w, l->fc2_b, r->h, OP_ACT_NONE, OP_ACCUMULATE, err));
    }
    return LW_OK;
}

enum lw_status clip_vision_forward(struct clip_model *m, const float *pixel_values,
                                   float *image_embeds, float *last_hidden, struct lw_error *err) {
    const struct clip_config *c = &m->cfg;
    if (m->kind != CLIP_VISION)
        return lw_error_set(err, LW_ERR_ARGUMENT, "clip_vision_forward on a text tower");
    int64_t        s = c->image_size, g = s / c->patch, n = g * g + 1, d = c->hidden;
    struct clip_run r;
    enum lw_status  status;
    TRY(run_begin(m, &r, n, err));
    struct cmp_view image_view, embeds_view;
    TRY(cmp_arena_alloc(m->res.activations, (uint64_t)(3 * s * s) * 4, &image_view, err));
    TRY(cmp_arena_alloc(m->res.activations, (uint64_t)c->projection * 4, &embeds_view, err));
    TRY(cmp_view_upload(image_view, pixel_values, (uint64_t)(3 * s * s) * 4, err));
    struct op_tensor image = op_tensor_chw(image_view, 3, s, s);
    struct op_tensor patches = op_tensor_chw(r.att.view, d, g, g); // (D, g, g)
    struct op_conv2d_args pc = {.x = image, .w = m->patch_w, .y = patches, .stride = (int32_t)c->patch};
    TRY(op_conv2d(&r.ctx, &pc, err));
    TRY(op_transpose(&r.ctx, patches, op_tensor_slice(r.h, 1, n - 1, 0, d), err)); // rows 1..n−1
    struct op_tensor class_row = op_tensor_2d(m->class_emb.view, LW_DTYPE_F32, 1, d);
    TRY(op_copy(&r.ctx, class_row, op_tensor_slice(r.h, 0, 1, 0, d), err));
    TRY(op_binary(&r.ctx, OP_ADD, r.h, m->positions, r.h, err));
    TRY(layer_norm(&r, r.h, m->pre_ln_w, m->pre_ln_b, r.h, c->eps, err));
    TRY(encoder(m, &r, false, err));
    struct op_tensor pooled = op_tensor_slice(r.t, 0, 1, 0, d);
    TRY(layer_norm(&r, op_tensor_slice(r.h, 0, 1, 0, d), m->post_ln_w, m->post_ln_b, pooled, c->eps, err));
    struct op_tensor embeds = op_tensor_2d(embeds_view, LW_DTYPE_F32, 1, c->projection);
    TRY(linear(&r, pooled, m->proj_w, (struct op_tensor){0}, embeds, OP_ACT_NONE, OP_STORE, err));
    TRY(cmp_cmd_submit(m->res.cmd, err));
    TRY(cmp_view_download(embeds.view, image_embeds, (uint64_t)c->projection * 4, err));
    if (last_hidden) TRY(cmp_view_download(r.h.view, last_hidden, (uint64_t)(n * d) * 4, err));
    return LW_OK;
}

/* One token-embedding row as f32: a one-row view of the mapped table, converted by the reader. */
static enum lw_status embedding_row(const struct wt_tensor *t, int64_t row, float *out,
                                    struct lw_error *err) {
    if (row < 0 || row >= t->shape[0])
        return lw_error_set(err, LW_ERR_ARGUMENT, "token id %lld outside the vocabulary (%lld)",
                            (long long)row, (long long)t->shape[0]);
    struct wt_tensor one = *t;
    uint64_t         row_bytes = lw_dtype_bytes(t->dtype, (uint64_t)t->shape[1]);
    one.data = (const uint8_t *)t->data + row_bytes * (uint64_t)row;
    one.bytes = row_bytes;
    one.shape[0] = 1;
    return wt_read_f32(&one, out, (uint64_t)t->shape[1], err);
}

enum lw_status clip_text_forward(struct clip_model *m, const int32_t *ids, int64_t n, float *pooled,
                                 float *last_hidden, struct lw_error *err) {
    const struct clip_config *c = &m->cfg;
    if (m->kind != CLIP_TEXT)
        return lw_error_set(err, LW_ERR_ARGUMENT, "clip_text_forward on a vision tower");
    if (n <= 0 || n > c->positions)
        return lw_error_set(err, LW_ERR_ARGUMENT, "CLIP text: %lld tokens (1 … %lld allowed)",
                            (long long)n, (long long)c->positions);
    int64_t         d = c->hidden;
    struct clip_run r;
    enum lw_status  status;
    TRY(run_begin(m, &r, n, err));
    float *rows = malloc((size_t)(n * d) * sizeof *rows);
    if (!rows) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    for (int64_t i = 0; i < n && status == LW_OK; i++)
        status = embedding_row(m->token_embedding, ids[i], rows + i * d, err);
    if (status == LW_OK) status = cmp_view_upload(r.h.view, rows, (uint64_t)(n * d) * 4, err);
    free(rows);
    if (status != LW_OK) return status;
    TRY(op_binary(&r.ctx, OP_ADD, r.h, op_tensor_slice(m->text_positions, 0, n, 0, d), r.h, err));
    TRY(encoder(m, &r, true, err));
    TRY(layer_norm(&r, r.h, m->final_ln_w, m->final_ln_b, r.t, c->eps, err));
    TRY(cmp_cmd_submit(m->res.cmd, err));
    int64_t eos = n - 1;
    for (int64_t i = 0; i < n; i++)
        if (ids[i] == CLIP_EOS) {
            eos = i;
            break;
        }
    TRY(cmp_view_download(cmp_view_slice(r.t.view, (uint64_t)(eos * d) * 4, (uint64_t)d * 4), pooled,
                          (uint64_t)d * 4, err));
    if (last_hidden) TRY(cmp_view_download(r.t.view, last_hidden, (uint64_t)(n * d) * 4, err));
    return LW_OK;
}
