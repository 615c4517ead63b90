/* The FLUX.1 Kontext transformer and Euler sampler on the engine, with the LoRWeB side path.
 *
 * Mirrors BFL flux `model.py`, `modules/layers.py`, `math.py`, `sampling.py` (spec-flux-kontext.md
 * §1–3) and LoRWeB's AttLoRA delta (spec-lorweb.md §1.2, §1.6). Layout choices that make it cheap:
 * - One residual buffer x (L, D) holds the sequence [txt ; noise ; context]: the text and image
 *   streams of the double blocks are its row slices, so the single blocks need no concatenation.
 *   The q/k/v projections of both streams write row slices of one (L, 3D) buffer; attention writes
 *   the first D columns of the (L, 5D) input of linear2, and the MLP's GELU output the rest.
 * - Everything that depends on the timestep (vec and every modulation Linear, the final adaLN) is
 *   computed for all steps at once (M = steps rows) before sampling and kept on the host; a step
 *   uploads its row, then replays the recorded forward.
 * - LoRWeB: each adapted (sub-)Linear has a stacked down matrix A (R, in), up matrix B (out, R) and a
 *   coefficient row c (R) = strength · c_n repeated per rank, in device memory: new weights need no
 *   re-recording. y[:, rows] += ((x·Aᵀ) ⊙ c)·Bᵀ on the Linear's own output row slice.
 * L = T + N + C tokens, D hidden, H heads, F MLP hidden, S steps. */
#include "flux.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "ops.h"
#include "weights.h"

#define MAX_BLOCKS 128
#define MAX_LORA_PER_LINEAR 4

struct lora_path {
    char             name[200];
    int64_t          in, out, rank_total, row0; /* row0: offset inside the Linear's output */
    struct op_tensor a, b, c;                   /* A (R, in), B (out, R), c (1, R), all f32 */
    float           *projection, *keys;         /* P (K, Q), keys (N, K) on the host */
    int64_t          k_dim, q_dim, basis, rank;
};

struct flux_linear {
    struct op_tensor w, b; /* (out, in), (out) */
    int64_t          in, out;
    int              lora_count;
    int              lora[MAX_LORA_PER_LINEAR];
};

struct double_block {
    struct flux_linear img_mod, txt_mod, img_qkv, txt_qkv, img_proj, txt_proj;
    struct flux_linear img_mlp0, img_mlp2, txt_mlp0, txt_mlp2;
    struct op_tensor   img_q_scale, img_k_scale, txt_q_scale, txt_k_scale;
    int64_t            img_mod_col, txt_mod_col; /* where their 6D outputs sit in a modulation row */
};

struct single_block {
    struct flux_linear mod, lin1_qkv, lin1_mlp, lin2;
    struct op_tensor   q_scale, k_scale;
    int64_t            mod_col;
};

struct flux_model {
    struct cmp_device  *device;
    struct ld_resources res;
    struct cmp_arena   *lora_arena;
    struct flux_config  cfg;
    struct flux_linear  img_in, txt_in, time_in0, time_in1, guid_in0, guid_in1, vec_in0, vec_in1;
    struct flux_linear  final_mod, final_linear;
    int64_t             final_mod_col, mod_cols; /* total modulation columns per step */
    struct double_block doubles[MAX_BLOCKS];
    struct single_block singles[MAX_BLOCKS];
    struct lora_path   *loras;
    int                 lora_count;
};

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        status = (expr);                                                                           \
        if (status != LW_OK) return status;                                                        \
    } while (0)

/* ---------------------------------------------------------------------------------------------- */
/* Loading                                                                                         */

static bool comfy_name(const char *name, char *out, size_t size) {
    snprintf(out, size, "model.diffusion_model.%s", name);
    return true;
}

static void linear_load(struct ld_loader *ld, struct flux_linear *l, const char *name, int64_t out,
                        int64_t in) {
    char w[200], b[200];
    snprintf(w, sizeof w, "%s.weight", name);
    snprintf(b, sizeof b, "%s.bias", name);
    l->w = ld_weight(ld, w, 2, (int64_t[]){out, in});
    l->b = ld_vector(ld, b, out);
    l->in = in;
    l->out = out;
}

/* A Linear that is a row range of a loaded one (the halves of linear1). */
static struct flux_linear linear_rows(const struct flux_linear *l, int64_t row0, int64_t rows) {
    struct flux_linear s = *l;
    if (!op_tensor_absent(&l->w)) {
        s.w = op_tensor_slice(l->w, row0, rows, 0, l->in);
        s.b = op_tensor_slice(l->b, row0, rows, 0, 1);
    }
    s.out = rows;
    return s;
}

static enum lw_status config_read(struct ld_loader *ld, struct flux_config *c, struct lw_error *err) {
    const struct wt_tensor *img_in = ld_find(ld, "img_in.weight");
    const struct wt_tensor *txt_in = ld_find(ld, "txt_in.weight");
    const struct wt_tensor *vec_in = ld_find(ld, "vector_in.in_layer.weight");
    const struct wt_tensor *q = ld_find(ld, "double_blocks.0.img_attn.norm.query_norm.scale");
    if (!img_in || img_in->ndim != 2 || !txt_in || txt_in->ndim != 2 || !vec_in || vec_in->ndim != 2)
        return lw_error_set(err, LW_ERR_MISSING,
                            "%s: not a FLUX transformer in BFL naming (img_in, txt_in or vector_in "
                            "missing)", ld->path);
    c->hidden = ld_meta_int(ld, "flux.hidden_size", img_in->shape[0]);
    int64_t head_dim = q && q->ndim == 1 ? q->shape[0] : 128;
    c->heads = ld_meta_int(ld, "flux.num_heads", c->hidden / head_dim);
    c->head_dim = c->heads ? c->hidden / c->heads : 0;
    c->in_channels = ld_meta_int(ld, "flux.in_channels", img_in->shape[1]);
    c->context_in = ld_meta_int(ld, "flux.context_in_dim", txt_in->shape[1]);
    c->vec_in = ld_meta_int(ld, "flux.vec_in_dim", vec_in->shape[1]);
    const struct wt_tensor *fin = ld_find(ld, "final_layer.linear.weight");
    c->out_channels = ld_meta_int(ld, "flux.out_channels", fin && fin->ndim == 2 ? fin->shape[0] : 64);
    int64_t depth = 0, single = 0;
    char    name[128];
    for (; depth < MAX_BLOCKS; depth++) {
        snprintf(name, sizeof name, "double_blocks.%lld.img_attn.qkv.weight", (long long)depth);
        if (!ld_find(ld, name)) break;
    }
    for (; single < MAX_BLOCKS; single++) {
        snprintf(name, sizeof name, "single_blocks.%lld.linear1.weight", (long long)single);
        if (!ld_find(ld, name)) break;
    }
    c->depth = ld_meta_int(ld, "flux.depth", depth);
    c->depth_single = ld_meta_int(ld, "flux.depth_single_blocks", single);
    const char *ge = wt_metadata(ld->file, "flux.guidance_embed");
    c->guidance_embed = ge ? (strcmp(ge, "true") == 0 || strcmp(ge, "1") == 0 || strcmp(ge, "True") == 0)
                           : ld_find(ld, "guidance_in.in_layer.weight") != NULL;
    c->theta = ld_meta_float(ld, "flux.theta", 10000);
    int n = ld_meta_int_list(ld, "flux.axes_dim", c->axes_dim, 3);
    if (n != 3) {
        /* FLUX.1's split scaled to the head dim: 16 / 56 / 56 of 128 */
        c->axes_dim[0] = c->head_dim / 8;
        c->axes_dim[1] = c->axes_dim[2] = (c->head_dim - c->axes_dim[0]) / 2;
    }
    const struct wt_tensor *mlp = ld_find(ld, "double_blocks.0.img_mlp.0.weight");
    c->mlp_hidden = mlp && mlp->ndim == 2 ? mlp->shape[0] : 4 * c->hidden;
    if (c->hidden <= 0 || c->heads <= 0 || c->hidden % c->heads || c->head_dim % 2 ||
        c->axes_dim[0] + c->axes_dim[1] + c->axes_dim[2] != c->head_dim || c->depth > MAX_BLOCKS ||
        c->depth_single > MAX_BLOCKS || c->depth + c->depth_single == 0 ||
        c->axes_dim[0] % 2 || c->axes_dim[1] % 2 || c->axes_dim[2] % 2)
        return lw_error_set(err, LW_ERR_FORMAT,
                            "%s: implausible FLUX hyper-parameters (hidden %lld, heads %lld, axes "
                            "%lld/%lld/%lld, depth %lld + %lld)",
                            ld->path, (long long)c->hidden, (long long)c->heads,
                            (long long)c->axes_dim[0], (long long)c->axes_dim[1],
                            (long long)c->axes_dim[2], (long long)c->depth, (long long)c->depth_single);
    return LW_OK;
}

enum lw_status flux_load(struct cmp_device *device, const char *path, struct flux_model **out,
                         struct lw_error *err) {
    *out = NULL;
    struct flux_model *m = calloc(1, sizeof *m);
    if (!m) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    m->device = device;
    struct wt_file *file = NULL;
    enum lw_status  status = wt_open(path, &file, err);
    if (status == LW_OK) status = ld_resources_create(device, &m->res, err);
    if (status != LW_OK) goto cleanup;
    struct ld_loader ld = {.device = device, .arena = m->res.weights, .file = file, .path = path, .err = err};
    if (!wt_find(file, "img_in.weight") && wt_find(file, "model.diffusion_model.img_in.weight"))
        ld.translate = comfy_name;
    if ((status = config_read(&ld, &m->cfg, err)) != LW_OK) goto cleanup;
    const struct flux_config *c = &m->cfg;
    int64_t                   d = c->hidden, f = c->mlp_hidden, hd = c->head_dim;
    linear_load(&ld, &m->img_in, "img_in", d, c->in_channels);
    linear_load(&ld, &m->txt_in, "txt_in", d, c->context_in);
    linear_load(&ld, &m->time_in0, "time_in.in_layer", d, 256);
    linear_load(&ld, &m->time_in1, "time_in.out_layer", d, d);
    if (c->guidance_embed) {
        linear_load(&ld, &m->guid_in0, "guidance_in.in_layer", d, 256);
        linear_load(&ld, &m->guid_in1, "guidance_in.out_layer", d, d);
    }
    linear_load(&ld, &m->vec_in0, "vector_in.in_layer", d, c->vec_in);
    linear_load(&ld, &m->vec_in1, "vector_in.out_layer", d, d);
    char    p[160];
    int64_t col = 0;
    for (int64_t i = 0; i < c->depth; i++) {
        struct double_block *b = &m->doubles[i];
        snprintf(p, sizeof p, "double_blocks.%lld", (long long)i);
        char n[200];
#define LIN(field, suffix, o, in_)                                                                 \
    snprintf(n, sizeof n, "%s." suffix, p);                                                        \
    linear_load(&ld, &b->field, n, o, in_)
        LIN(img_mod, "img_mod.lin", 6 * d, d);
        LIN(txt_mod, "txt_mod.lin", 6 * d, d);
        LIN(img_qkv, "img_attn.qkv", 3 * d, d);
        LIN(txt_qkv, "txt_attn.qkv", 3 * d, d);
        LIN(img_proj, "img_attn.proj", d, d);
        LIN(txt_proj, "txt_attn.proj", d, d);
        LIN(img_mlp0, "img_mlp.0", f, d);
        LIN(img_mlp2, "img_mlp.2", d, f);
        LIN(txt_mlp0, "txt_mlp.0", f, d);
        LIN(txt_mlp2, "txt_mlp.2", d, f);
#undef LIN
        b->img_q_scale = ld_vectorf(&ld, hd, "%s.img_attn.norm.query_norm.scale", p);
        b->img_k_scale = ld_vectorf(&ld, hd, "%s.img_attn.norm.key_norm.scale", p);
        b->txt_q_scale = ld_vectorf(&ld, hd, "%s.txt_attn.norm.query_norm.scale", p);
        b->txt_k_scale = ld_vectorf(&ld, hd, "%s.txt_attn.norm.key_norm.scale", p);
        b->img_mod_col = col, col += 6 * d;
        b->txt_mod_col = col, col += 6 * d;
    }
    for (int64_t i = 0; i < c->depth_single; i++) {
        struct single_block *b = &m->singles[i];
        struct flux_linear   lin1 = {0};
        snprintf(p, sizeof p, "single_blocks.%lld", (long long)i);
        char n[200];
        snprintf(n, sizeof n, "%s.modulation.lin", p);
        linear_load(&ld, &b->mod, n, 3 * d, d);
        snprintf(n, sizeof n, "%s.linear1", p);
        linear_load(&ld, &lin1, n, 3 * d + f, d);
        snprintf(n, sizeof n, "%s.linear2", p);
        linear_load(&ld, &b->lin2, n, d, d + f);
        b->q_scale = ld_vectorf(&ld, hd, "%s.norm.query_norm.scale", p);
        b->k_scale = ld_vectorf(&ld, hd, "%s.norm.key_norm.scale", p);
        if (ld.status == LW_OK) {
            b->lin1_qkv = linear_rows(&lin1, 0, 3 * d);
            b->lin1_mlp = linear_rows(&lin1, 3 * d, f);
        }
        b->mod_col = col, col += 3 * d;
    }
    linear_load(&ld, &m->final_mod, "final_layer.adaLN_modulation.1", 2 * d, d);
    linear_load(&ld, &m->final_linear, "final_layer.linear", c->out_channels, d);
    m->final_mod_col = col, col += 2 * d;
    m->mod_cols = col + c->in_channels; /* the step's Euler dt, broadcast over a token row, last */
    status = ld.status;
cleanup:
    wt_close(file);
    if (status != LW_OK) {
        flux_destroy(m);
        return status;
    }
    *out = m;
    return LW_OK;
}

static void lora_detach(struct flux_model *m);

void flux_destroy(struct flux_model *m) {
    if (!m) return;
    lora_detach(m);
    ld_resources_destroy(&m->res);
    free(m);
}

const struct flux_config *flux_config(const struct flux_model *m) {
    return &m->cfg;
}

/* ---------------------------------------------------------------------------------------------- */
/* LoRWeB basis                                                                                     */

/* The Linear and output row offset a LoRWeB module (diffusers naming) adapts (spec-lorweb §1.2). */
static struct flux_linear *lora_target(struct flux_model *m, const char *module, int64_t *row0) {
    int     i, n = 0;
    int64_t d = m->cfg.hidden;
    char    rest[128];
    *row0 = 0;
    if (sscanf(module, "transformer_blocks.%d.%127s%n", &i, rest, &n) == 2 && i >= 0 && i < m->cfg.depth) {
        struct double_block *b = &m->doubles[i];
        static const char *const names[] = {"norm1.linear", "norm1_context.linear", "attn.to_q",
                                            "attn.to_k", "attn.to_v", "attn.add_q_proj",
                                            "attn.add_k_proj", "attn.add_v_proj", "attn.to_out.0",
                                            "attn.to_add_out", "ff.net.0.proj", "ff.net.2",
                                            "ff_context.net.0.proj", "ff_context.net.2"};
        struct flux_linear *targets[] = {&b->img_mod,  &b->txt_mod,  &b->img_qkv,  &b->img_qkv,
                                         &b->img_qkv,  &b->txt_qkv,  &b->txt_qkv,  &b->txt_qkv,
                                         &b->img_proj, &b->txt_proj, &b->img_mlp0, &b->img_mlp2,
                                         &b->txt_mlp0, &b->txt_mlp2};
        const int64_t rows[] = {0, 0, 0, d, 2 * d, 0, d, 2 * d, 0, 0, 0, 0, 0, 0};
        for (int k = 0; k < 14; k++)
            if (strcmp(rest, names[k]) == 0) {
                *row0 = rows[k];
                return targets[k];
            }
    } else if (sscanf(module, "single_transformer_blocks.%d.%127s", &i, rest) == 2 && i >= 0 &&
               i < m->cfg.depth_single) {
        struct single_block *b = &m->singles[i];
        if (!strcmp(rest, "norm.linear")) return &b->mod;
        if (!strcmp(rest, "attn.to_q")) return &b->lin1_qkv;
        if (!strcmp(rest, "attn.to_k")) return *row0 = d, &b->lin1_qkv;
        if (!strcmp(rest, "attn.to_v")) return *row0 = 2 * d, &b->lin1_qkv;
        if (!strcmp(rest, "proj_mlp")) return &b->lin1_mlp;
        if (!strcmp(rest, "proj_out")) return &b->lin2;
    }
    return NULL;
}

static const struct wt_tensor *lora_tensor(const struct wt_file *f, const char *module, const char *what) {
    char name[256];
    snprintf(name, sizeof name, "transformer.%s.%s", module, what);
    const struct wt_tensor *t = wt_find(f, name);
    if (!t) {
        snprintf(name, sizeof name, "transformer.%s.%s.weight", module, what);
        t = wt_find(f, name);
    }
    return t;
}

static float *read_all(const struct wt_tensor *t, struct lw_error *err, enum lw_status *status) {
    uint64_t n = wt_elements(t);
    float   *out = malloc((n ? n : 1) * sizeof *out);
    if (!out) {
        *status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
        return NULL;
    }
    *status = wt_read_f32(t, out, n, err);
    if (*status != LW_OK) {
        free(out);
        return NULL;
    }
    return out;
}

static enum lw_status lora_load(struct flux_model *m, const struct wt_file *f, const char *path,
                                const char *module, struct lora_path *l, struct lw_error *err) {
    enum lw_status          status = LW_OK;
    const struct wt_tensor *ta = lora_tensor(f, module, "lora_A"), *tb = lora_tensor(f, module, "lora_B");
    const struct wt_tensor *tk = lora_tensor(f, module, "lora_keys");
    const struct wt_tensor *tq = lora_tensor(f, module, "att_lora_to_q");
    if (!ta || !tb || !tk || !tq)
        return lw_error_set(err, LW_ERR_MISSING, "%s: module %s lacks lora_A, lora_B, lora_keys or "
                            "att_lora_to_q", path, module);
    if (ta->ndim != 3 || tb->ndim != 3 || tk->ndim != 2 || tq->ndim != 2 || tb->shape[0] != ta->shape[0] ||
        tb->shape[1] != ta->shape[2] || tk->shape[0] != ta->shape[0] || tq->shape[0] != tk->shape[1])
        return lw_error_set(err, LW_ERR_SHAPE, "%s: module %s: inconsistent shapes (lora_A [N, in, r], "
                            "lora_B [N, r, out], keys [N, K], att_lora_to_q [K, Q])", path, module);
    int64_t             n = ta->shape[0], in = ta->shape[1], r = ta->shape[2], out = tb->shape[2];
    int64_t             row0;
    struct flux_linear *target = lora_target(m, module, &row0);
    if (!target)
        return lw_error_set(err, LW_ERR_SHAPE, "%s: module %s is not a Linear of this transformer",
                            path, module);
    if (target->in != in || row0 + out > target->out)
        return lw_error_set(err, LW_ERR_SHAPE, "%s: module %s is %lld → %lld, the transformer's "
                            "Linear is %lld → %lld", path, module, (long long)in, (long long)out,
                            (long long)target->in, (long long)(target->out - row0));
    if (target->lora_count == MAX_LORA_PER_LINEAR)
        return lw_error_set(err, LW_ERR_FORMAT, "%s: module %s adapts a Linear twice", path, module);
    snprintf(l->name, sizeof l->name, "%s", module);
    l->in = in, l->out = out, l->basis = n, l->rank = r, l->rank_total = n * r, l->row0 = row0;
    l->k_dim = tk->shape[1], l->q_dim = tq->shape[1];
    float *a = read_all(ta, err, &status), *b = a ? read_all(tb, err, &status) : NULL;
    l->keys = b ? read_all(tk, err, &status) : NULL;
    l->projection = l->keys ? read_all(tq, err, &status) : NULL;
    int64_t R = n * r;
    float  *as = NULL, *bs = NULL;
    if (status == LW_OK) {
        as = malloc((size_t)(R * in) * sizeof *as);
        bs = malloc((size_t)(out * R) * sizeof *bs);
        if (!as || !bs) status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    }
    if (status == LW_OK) {
        for (int64_t k = 0; k < n; k++) /* A (R, in): row k·r + j = A[k][·][j]; B (out, R) likewise */
            for (int64_t j = 0; j < r; j++) {
                for (int64_t i = 0; i < in; i++) as[(k * r + j) * in + i] = a[(k * in + i) * r + j];
                for (int64_t o = 0; o < out; o++) bs[o * R + k * r + j] = b[(k * r + j) * out + o];
            }
        struct cmp_view va, vb, vc;
        if ((status = cmp_arena_alloc(m->lora_arena, (uint64_t)(R * in) * 4, &va, err)) == LW_OK &&
            (status = cmp_arena_alloc(m->lora_arena, (uint64_t)(out * R) * 4, &vb, err)) == LW_OK &&
            (status = cmp_arena_alloc(m->lora_arena, (uint64_t)R * 4, &vc, err)) == LW_OK &&
            (status = cmp_view_upload(va, as, (uint64_t)(R * in) * 4, err)) == LW_OK &&
            (status = cmp_view_upload(vb, bs, (uint64_t)(out * R) * 4, err)) == LW_OK) {
            l->a = op_tensor_2d(va, LW_DTYPE_F32, R, in);
            l->b = op_tensor_2d(vb, LW_DTYPE_F32, out, R);
            l->c = op_tensor_2d(vc, LW_DTYPE_F32, 1, R);
            float *zeros = calloc((size_t)R, sizeof *zeros);
            status = zeros ? cmp_view_upload(vc, zeros, (uint64_t)R * 4, err)
                           : lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
            free(zeros);
        }
    }
    free(a), free(b), free(as), free(bs);
    if (status == LW_OK) target->lora[target->lora_count++] = (int)(l - m->loras);
    return status;
}

static void lora_detach(struct flux_model *m) {
    for (int i = 0; i < m->lora_count; i++) free(m->loras[i].projection), free(m->loras[i].keys);
    free(m->loras);
    m->loras = NULL;
    m->lora_count = 0;
    cmp_arena_destroy(m->lora_arena);
    m->lora_arena = NULL;
    /* bounded by MAX_BLOCKS too: this also runs on a model whose config was rejected */
    for (int64_t i = 0; i < m->cfg.depth && i < MAX_BLOCKS; i++) {
        struct double_block *b = &m->doubles[i];
        struct flux_linear  *ls[] = {&b->img_mod,  &b->txt_mod,  &b->img_qkv,  &b->txt_qkv,  &b->img_proj,
                                     &b->txt_proj, &b->img_mlp0, &b->img_mlp2, &b->txt_mlp0, &b->txt_mlp2};
        for (size_t k = 0; k < sizeof ls / sizeof ls[0]; k++) ls[k]->lora_count = 0;
    }
    for (int64_t i = 0; i < m->cfg.depth_single && i < MAX_BLOCKS; i++) {
        struct single_block *b = &m->singles[i];
        b->mod.lora_count = b->lin1_qkv.lora_count = b->lin1_mlp.lora_count = b->lin2.lora_count = 0;
    }
}

enum lw_status flux_lorweb_attach(struct flux_model *m, const char *path, struct lw_error *err) {
    lora_detach(m);
    struct wt_file *f = NULL;
    enum lw_status  status = wt_open(path, &f, err);
    if (status != LW_OK) return status;
    size_t modules = 0;
    for (size_t i = 0; i < wt_count(f); i++) {
        const char *name = wt_at(f, i)->name;
        size_t      len = strlen(name);
        if (len > 7 && strcmp(name + len - 7, ".lora_A") == 0) modules++;
        else if (len > 14 && strcmp(name + len - 14, ".lora_A.weight") == 0) modules++;
    }
    if (modules == 0) {
        wt_close(f);
        return lw_error_set(err, LW_ERR_MISSING, "%s: no LoRWeB modules (no *.lora_A tensors)", path);
    }
    m->loras = calloc(modules, sizeof *m->loras);
    if (!m->loras) status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    if (status == LW_OK) status = cmp_arena_create(m->device, CMP_MEMORY_DEVICE, 0, &m->lora_arena, err);
    for (size_t i = 0; i < wt_count(f) && status == LW_OK; i++) {
        char        module[200];
        const char *name = wt_at(f, i)->name, *end = strstr(name, ".lora_A");
        if (!end || strncmp(name, "transformer.", 12) != 0 || (end[7] && strcmp(end, ".lora_A.weight")))
            continue;
        snprintf(module, sizeof module, "%.*s", (int)(end - name - 12), name + 12);
        status = lora_load(m, f, path, module, &m->loras[m->lora_count], err);
        if (status == LW_OK) m->lora_count++;
    }
    wt_close(f);
    /* Every module must share N and the query size: one query mixes them all. */
    for (int i = 1; i < m->lora_count && status == LW_OK; i++)
        if (m->loras[i].basis != m->loras[0].basis || m->loras[i].q_dim != m->loras[0].q_dim)
            status = lw_error_set(err, LW_ERR_SHAPE, "%s: module %s has %lld basis elements and query "
                                  "%lld; %s has %lld and %lld", path, m->loras[i].name,
                                  (long long)m->loras[i].basis, (long long)m->loras[i].q_dim,
                                  m->loras[0].name, (long long)m->loras[0].basis,
                                  (long long)m->loras[0].q_dim);
    if (status != LW_OK) lora_detach(m);
    return status;
}

int flux_lorweb_modules(const struct flux_model *m) {
    return m->lora_count;
}

int flux_lorweb_basis(const struct flux_model *m) {
    return m->lora_count ? (int)m->loras[0].basis : 0;
}

const char *flux_lorweb_module_name(const struct flux_model *m, int i) {
    return i >= 0 && i < m->lora_count ? m->loras[i].name : NULL;
}

void flux_lorweb_query_params(const struct flux_model *m, int i, const float **projection,
                              const float **keys, int64_t *k_dim, int64_t *q_dim) {
    const struct lora_path *l = &m->loras[i];
    *projection = l->projection, *keys = l->keys, *k_dim = l->k_dim, *q_dim = l->q_dim;
}

enum lw_status flux_lorweb_set(struct flux_model *m, int i, const float *coeffs, float strength,
                               struct lw_error *err) {
    if (i < 0 || i >= m->lora_count)
        return lw_error_set(err, LW_ERR_ARGUMENT, "LoRWeB module %d out of range", i);
    struct lora_path *l = &m->loras[i];
    float             c[4096];
    if (l->rank_total > 4096) return lw_error_set(err, LW_ERR_UNSUPPORTED, "basis × rank over 4096");
    for (int64_t k = 0; k < l->basis; k++)
        for (int64_t j = 0; j < l->rank; j++) c[k * l->rank + j] = strength * coeffs[k];
    return cmp_view_upload(l->c.view, c, (uint64_t)l->rank_total * 4, err);
}

/* ---------------------------------------------------------------------------------------------- */
/* Forward recording                                                                                */

struct flux_run {
    struct op_ctx    ctx;
    int64_t          t, n, c, l, s; /* text, noise, context, all tokens; modulation rows */
    struct op_tensor x, a, qkv, cat, h, tmp, lora_t; /* (L,D) (L,D) (L,3D) (L,D+F) (L,F) (L,W) (L,R) */
    struct op_tensor tokens, txt, rope, out;         /* (N+C, in) (T, ctx) (L, hd) (N, out) */
    struct op_tensor mod;                            /* (1, mod_cols): the current step's row */
    struct op_tensor mod_all, vec, sv, emb_t, emb_g, hid, y;
};

/* y (M, out) ⟵ mode/act/gate applied to x·Wᵀ + b + Σ LoRWeB deltas on their row slices. */
static enum lw_status linear(struct flux_model *m, struct flux_run *r, const struct flux_linear *l,
                             struct op_tensor x, struct op_tensor y, enum op_act act,
                             enum op_matmul_mode mode, struct op_tensor gate, struct lw_error *err) {
    enum lw_status        status;
    struct op_matmul_args mm = {.x = x, .w = l->w, .bias = l->b, .y = y, .act = act, .mode = mode, .gate = gate};
    if (l->lora_count == 0) return op_matmul(&r->ctx, &mm, err);
    /* With a basis the activation and residual must come after the deltas. */
    struct op_tensor dst = y;
    if (mode == OP_ACCUMULATE) dst = op_tensor_slice(r->tmp, 0, x.rows, 0, l->out);
    mm = (struct op_matmul_args){.x = x, .w = l->w, .bias = l->b, .y = dst};
    TRY(op_matmul(&r->ctx, &mm, err));
    for (int i = 0; i < l->lora_count; i++) {
        const struct lora_path *p = &m->loras[l->lora[i]];
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

static enum lw_status modulate(struct flux_run *r, struct op_tensor x, struct op_tensor y,
                               struct op_tensor shift, struct op_tensor scale, struct lw_error *err) {
    struct op_norm_args a = {.x = x, .shift = shift, .scale = scale, .y = y, .eps = 1e-6f};
    return op_norm(&r->ctx, &a, err);
}

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
    const struct flux_linear *qkv, *proj, *mlp0, *mlp2, *mod;
    struct op_tensor          q_scale, k_scale;
};

static enum lw_status double_block(struct flux_model *m, struct flux_run *r, const struct double_block *b,
                                   struct lw_error *err) {
    const struct flux_config *c = &m->cfg;
    enum lw_status            status;
    int64_t                   d = c->hidden, f = c->mlp_hidden;
    struct stream             s[2] = {
        {0, r->t, b->txt_mod_col, &b->txt_qkv, &b->txt_proj, &b->txt_mlp0, &b->txt_mlp2, &b->txt_mod,
         b->txt_q_scale, b->txt_k_scale},
        {r->t, r->n + r->c, b->img_mod_col, &b->img_qkv, &b->img_proj, &b->img_mlp0, &b->img_mlp2,
         &b->img_mod, b->img_q_scale, b->img_k_scale},
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
        struct op_tensor h = op_tensor_slice(r->h, s[i].row0, s[i].rows, 0, f);
        TRY(linear(m, r, s[i].proj, op_tensor_slice(r->cat, s[i].row0, s[i].rows, 0, d), x, OP_ACT_NONE,
                   OP_ACCUMULATE, mod_chunk(r, col, 2, d), err));
        TRY(modulate(r, x, a, mod_chunk(r, col, 3, d), mod_chunk(r, col, 4, d), err));
        TRY(linear(m, r, s[i].mlp0, a, h, OP_ACT_GELU_TANH, OP_STORE, (struct op_tensor){0}, err));
        TRY(linear(m, r, s[i].mlp2, h, x, OP_ACT_NONE, OP_ACCUMULATE, mod_chunk(r, col, 5, d), err));
    }
    return LW_OK;
}

static enum lw_status single_block(struct flux_model *m, struct flux_run *r, const struct single_block *b,
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

/* Records one model evaluation reading r->tokens and r->mod, writing r->out (N, out); with
 * `update`, also the Euler step tokens[:N] += dt · out. */
static enum lw_status record_forward(struct flux_model *m, struct flux_run *r, bool update,
                                     struct lw_error *err) {
    const struct flux_config *c = &m->cfg;
    enum lw_status            status;
    int64_t                   d = c->hidden;
    TRY(linear(m, r, &m->img_in, r->tokens, op_tensor_slice(r->x, r->t, r->n + r->c, 0, d), OP_ACT_NONE,
               OP_STORE, (struct op_tensor){0}, err));
    if (r->t) TRY(linear(m, r, &m->txt_in, r->txt, op_tensor_slice(r->x, 0, r->t, 0, d), OP_ACT_NONE,
                         OP_STORE, (struct op_tensor){0}, err));
    for (int64_t i = 0; i < c->depth; i++) TRY(double_block(m, r, &m->doubles[i], err));
    for (int64_t i = 0; i < c->depth_single; i++) TRY(single_block(m, r, &m->singles[i], err));
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

/* Ids of the whole sequence [txt ; noise ; context], explicit or standard (spec §2.3). */
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

static enum lw_status alloc2d(struct flux_model *m, int64_t rows, int64_t cols, struct op_tensor *t,
                              struct lw_error *err) {
    struct cmp_view v;
    enum lw_status  status = cmp_arena_alloc(m->res.activations, (uint64_t)(rows * cols) * 4, &v, err);
    if (status == LW_OK) *t = op_tensor_2d(v, LW_DTYPE_F32, rows, cols);
    return status;
}

/* Sizes the activations for this sequence and uploads the step-independent inputs. */
static enum lw_status run_begin(struct flux_model *m, struct flux_run *r, const struct flux_inputs *in,
                                int64_t steps, struct lw_error *err) {
    const struct flux_config *c = &m->cfg;
    enum lw_status            status;
    memset(r, 0, sizeof *r);
    r->t = in->t_tokens, r->n = in->grid_h * in->grid_w;
    r->c = in->context ? in->ctx_grid_h * in->ctx_grid_w : 0;
    r->l = r->t + r->n + r->c, r->s = steps;
    if (r->n <= 0 || r->t < 0 || r->c < 0 || steps <= 0 || (r->t && !in->txt) || !in->y)
        return lw_error_set(err, LW_ERR_ARGUMENT, "flux: bad inputs (%lld text, %lld noise, %lld context "
                            "tokens, %lld steps)", (long long)r->t, (long long)r->n, (long long)r->c,
                            (long long)steps);
    int64_t d = c->hidden, f = c->mlp_hidden, rmax = 1, wide = 3 * d > f ? 3 * d : f;
    for (int i = 0; i < m->lora_count; i++)
        if (m->loras[i].rank_total > rmax) rmax = m->loras[i].rank_total;
    int64_t rows = r->l > steps ? r->l : steps, tmp_cols = wide > 6 * d ? wide : 6 * d;
    cmp_cmd_reset(m->res.cmd);
    cmp_arena_reset(m->res.activations);
    r->ctx = (struct op_ctx){.device = m->device, .cmd = m->res.cmd};
    TRY(alloc2d(m, r->l, d, &r->x, err));
    TRY(alloc2d(m, r->l, d, &r->a, err));
    TRY(alloc2d(m, r->l, 3 * d, &r->qkv, err));
    TRY(alloc2d(m, r->l, d + f, &r->cat, err));
    TRY(alloc2d(m, r->l, f, &r->h, err));
    TRY(alloc2d(m, rows, tmp_cols, &r->tmp, err));
    TRY(alloc2d(m, rows, rmax, &r->lora_t, err));
    TRY(alloc2d(m, r->n + r->c, c->in_channels, &r->tokens, err));
    TRY(alloc2d(m, r->t ? r->t : 1, c->context_in, &r->txt, err));
    TRY(alloc2d(m, r->l, c->head_dim * 2, &r->rope, err));
    TRY(alloc2d(m, r->n, c->out_channels, &r->out, err));
    TRY(alloc2d(m, 1, m->mod_cols, &r->mod, err));
    TRY(alloc2d(m, steps, m->mod_cols, &r->mod_all, err));
    TRY(alloc2d(m, steps, d, &r->vec, err));
    TRY(alloc2d(m, steps, d, &r->sv, err));
    TRY(alloc2d(m, steps, d, &r->hid, err));
    TRY(alloc2d(m, steps, 256, &r->emb_t, err));
    TRY(alloc2d(m, 1, 256, &r->emb_g, err));
    TRY(alloc2d(m, 1, c->vec_in, &r->y, err));
    if (r->t) TRY(cmp_view_upload(r->txt.view, in->txt, (uint64_t)(r->t * c->context_in) * 4, err));
    TRY(cmp_view_upload(r->y.view, in->y, (uint64_t)c->vec_in * 4, err));
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

/* Computes every modulation row for the `s` times in `times` on the device and returns them on the
 * host (s, mod_cols), with each row's Euler dt (times[i+1] − times[i]) in its last columns. */
static enum lw_status modulations(struct flux_model *m, struct flux_run *r, const float *times,
                                  const float *next, float guidance, float **out, struct lw_error *err) {
    const struct flux_config *c = &m->cfg;
    enum lw_status            status;
    int64_t                   s = r->s, d = c->hidden;
    struct op_tensor          none = {0};
    float                    *emb = malloc((size_t)s * 256 * sizeof *emb);
    if (!emb) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    for (int64_t i = 0; i < s; i++) timestep_embedding(times[i], emb + i * 256);
    status = cmp_view_upload(r->emb_t.view, emb, (uint64_t)s * 256 * 4, err);
    timestep_embedding(guidance, emb);
    if (status == LW_OK) status = cmp_view_upload(r->emb_g.view, emb, 256 * 4, err);
    free(emb);
    if (status != LW_OK) return status;
    struct op_tensor row = op_tensor_slice(r->hid, 0, 1, 0, d), vrow = op_tensor_slice(r->sv, 0, 1, 0, d);
    TRY(linear(m, r, &m->time_in0, r->emb_t, r->hid, OP_ACT_SILU, OP_STORE, none, err));
    TRY(linear(m, r, &m->time_in1, r->hid, r->vec, OP_ACT_NONE, OP_STORE, none, err));
    if (c->guidance_embed) {
        TRY(linear(m, r, &m->guid_in0, r->emb_g, row, OP_ACT_SILU, OP_STORE, none, err));
        TRY(linear(m, r, &m->guid_in1, row, vrow, OP_ACT_NONE, OP_STORE, none, err));
        TRY(op_binary(&r->ctx, OP_ADD, r->vec, vrow, r->vec, err));
    }
    TRY(linear(m, r, &m->vec_in0, r->y, row, OP_ACT_SILU, OP_STORE, none, err));
    TRY(linear(m, r, &m->vec_in1, row, vrow, OP_ACT_NONE, OP_STORE, none, err));
    TRY(op_binary(&r->ctx, OP_ADD, r->vec, vrow, r->vec, err));
    TRY(op_act(&r->ctx, OP_ACT_SILU, r->vec, r->sv, err));
    for (int64_t i = 0; i < c->depth; i++) {
        const struct double_block *b = &m->doubles[i];
        TRY(linear(m, r, &b->img_mod, r->sv, op_tensor_slice(r->mod_all, 0, s, b->img_mod_col, 6 * d),
                   OP_ACT_NONE, OP_STORE, none, err));
        TRY(linear(m, r, &b->txt_mod, r->sv, op_tensor_slice(r->mod_all, 0, s, b->txt_mod_col, 6 * d),
                   OP_ACT_NONE, OP_STORE, none, err));
    }
    for (int64_t i = 0; i < c->depth_single; i++) {
        const struct single_block *b = &m->singles[i];
        TRY(linear(m, r, &b->mod, r->sv, op_tensor_slice(r->mod_all, 0, s, b->mod_col, 3 * d), OP_ACT_NONE,
                   OP_STORE, none, err));
    }
    TRY(linear(m, r, &m->final_mod, r->sv, op_tensor_slice(r->mod_all, 0, s, m->final_mod_col, 2 * d),
               OP_ACT_NONE, OP_STORE, none, err));
    TRY(cmp_cmd_submit(m->res.cmd, err));
    cmp_cmd_reset(m->res.cmd);
    float *host = malloc((size_t)(s * m->mod_cols) * sizeof *host);
    if (!host) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    status = cmp_view_download(r->mod_all.view, host, (uint64_t)(s * m->mod_cols) * 4, err);
    for (int64_t i = 0; i < s; i++)
        for (int64_t k = m->mod_cols - c->in_channels; k < m->mod_cols; k++)
            host[i * m->mod_cols + k] = next ? next[i] - times[i] : 0.0f;
    if (status != LW_OK) {
        free(host);
        return status;
    }
    *out = host;
    return LW_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Evaluation and sampling                                                                          */

static enum lw_status evaluate(struct flux_model *m, const struct flux_inputs *in, const float *x,
                               const float *times, const float *next, int steps, flux_step_fn on_step,
                               void *user, float *result, bool velocity, struct lw_error *err) {
    const struct flux_config *c = &m->cfg;
    struct flux_run           r;
    float                    *mods = NULL;
    enum lw_status            status = run_begin(m, &r, in, steps, err);
    if (status == LW_OK) status = modulations(m, &r, times, next, in->guidance, &mods, err);
    if (status == LW_OK)
        status = cmp_view_upload(r.tokens.view, x, (uint64_t)(r.n * c->in_channels) * 4, err);
    if (status == LW_OK) status = record_forward(m, &r, !velocity, err);
    for (int s = 0; s < steps && status == LW_OK; s++) {
        status = cmp_view_upload(r.mod.view, mods + (int64_t)s * m->mod_cols, (uint64_t)m->mod_cols * 4, err);
        if (status == LW_OK) status = cmp_cmd_submit(m->res.cmd, err);
        if (status == LW_OK && on_step && !on_step(user, s + 1, steps))
            status = lw_error_set(err, LW_ERR_CANCELLED, "cancelled after step %d of %d", s + 1, steps);
    }
    if (status == LW_OK)
        status = velocity ? cmp_view_download(r.out.view, result, (uint64_t)(r.n * c->out_channels) * 4, err)
                          : cmp_view_download(r.tokens.view, result, (uint64_t)(r.n * c->in_channels) * 4, err);
    free(mods);
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
