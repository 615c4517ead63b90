/* The LoRWeB basis on the FLUX transformer: which fused BFL Linear (and which rows of its output)
 * each checkpoint module adapts, and the stacked side-path matrices on the device.
 *
 * Mirrors LoRWeB's AttLoRA delta and its module list (spec-lorweb.md §1.1–1.3, §1.6): module m adds
 * strength · Σ_n c_{m,n} (x·A_{m,n})·B_{m,n} to its Linear. Here the N LoRAs of rank r are stacked
 * into A (R, in) and B (out, R), R = N·r, and c is repeated per rank into a (1, R) device vector, so
 * the forward records y[:, rows] += ((x·Aᵀ) ⊙ c)·Bᵀ once and new weights need no re-recording
 * (flux_run.c). The mixing weights themselves come from lorweb.c. A and B keep the checkpoint's
 * 16-bit dtype on the device (the matmul dequantises), halving the basis's footprint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flux_internal.h"

struct flux_linear *flux_lora_target(struct flux_model *m, const char *module, int64_t *row0) {
    int     i;
    int64_t d = m->cfg.hidden;
    char    rest[128];
    *row0 = 0;
    if (sscanf(module, "transformer_blocks.%d.%127s", &i, rest) == 2 && i >= 0 && i < m->cfg.depth) {
        struct flux_double      *b = &m->doubles[i];
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
        struct flux_single *b = &m->singles[i];
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

/* Element (i, j) of the stacked matrix, from the checkpoint's [N, dim, r] tensor (A: dim = in,
 * row k·r + j, column i) or [N, r, dim] (B: row i, column k·r + j). */
static uint64_t source_index(bool is_a, int64_t k, int64_t j, int64_t i, int64_t dim, int64_t r) {
    return is_a ? (uint64_t)((k * dim + i) * r + j) : (uint64_t)((k * r + j) * dim + i);
}

/* Stacks lora_A [N, in, r] into A (R, in) or lora_B [N, r, out] into B (out, R) and uploads it:
 * 16-bit float files keep their dtype, anything else becomes f32. */
static enum lw_status stack_upload(struct flux_model *m, const struct wt_tensor *t, bool is_a, int64_t n,
                                   int64_t r, int64_t dim, struct op_tensor *out, struct lw_error *err) {
    bool          half = t->dtype == LW_DTYPE_F16 || t->dtype == LW_DTYPE_BF16;
    enum lw_dtype dtype = half ? t->dtype : LW_DTYPE_F32;
    int64_t       R = n * r, count = R * dim;
    uint64_t      bytes = (uint64_t)count * (half ? 2 : 4);
    void         *dst = malloc(bytes);
    float        *f32 = NULL;
    enum lw_status status = LW_OK;
    if (!dst) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    if (!half && !(f32 = read_all(t, err, &status))) {
        free(dst);
        return status;
    }
    const uint8_t *s16 = t->data; /* memcpy: the file gives no alignment */
    uint16_t      *d16 = dst;
    float          *d32 = dst;
    for (int64_t k = 0; k < n; k++)
        for (int64_t j = 0; j < r; j++)
            for (int64_t i = 0; i < dim; i++) {
                uint64_t src = source_index(is_a, k, j, i, dim, r);
                uint64_t at = is_a ? (uint64_t)((k * r + j) * dim + i) : (uint64_t)(i * R + k * r + j);
                if (half) memcpy(&d16[at], s16 + 2 * src, 2);
                else d32[at] = f32[src];
            }
    struct cmp_view v;
    if ((status = cmp_arena_alloc(m->lora_arena, bytes, &v, err)) == LW_OK &&
        (status = cmp_view_upload(v, dst, bytes, err)) == LW_OK)
        *out = is_a ? op_tensor_2d(v, dtype, R, dim) : op_tensor_2d(v, dtype, dim, R);
    free(dst);
    free(f32);
    return status;
}

static enum lw_status lora_load(struct flux_model *m, const struct wt_file *f, const char *path,
                                const char *module, struct flux_lora *l, struct lw_error *err) {
    enum lw_status          status = LW_OK;
    const struct wt_tensor *ta = lora_tensor(f, module, "lora_A"), *tb = lora_tensor(f, module, "lora_B");
    const struct wt_tensor *tk = lora_tensor(f, module, "lora_keys");
    const struct wt_tensor *tq = lora_tensor(f, module, "att_lora_to_q");
    if (!ta || !tb || !tk || !tq)
        return lw_error_set(err, LW_ERR_MISSING, "%s: module %s lacks lora_A, lora_B, lora_keys or "
                            "att_lora_to_q", path, module);
    if (ta->ndim != 3 || tb->ndim != 3 || tk->ndim != 2 || tq->ndim != 2 || tb->shape[0] != ta->shape[0] ||
        tb->shape[1] != ta->shape[2] || tk->shape[0] != ta->shape[0] || tq->shape[0] != tk->shape[1] ||
        ta->shape[0] <= 0 || ta->shape[2] <= 0)
        return lw_error_set(err, LW_ERR_SHAPE, "%s: module %s: inconsistent shapes (lora_A [N, in, r], "
                            "lora_B [N, r, out], keys [N, K], att_lora_to_q [K, Q])", path, module);
    int64_t             n = ta->shape[0], in = ta->shape[1], r = ta->shape[2], out = tb->shape[2];
    int64_t             row0;
    struct flux_linear *target = flux_lora_target(m, module, &row0);
    if (!target)
        return lw_error_set(err, LW_ERR_SHAPE, "%s: module %s is not a Linear of this transformer",
                            path, module);
    if (target->in != in || row0 + out > target->out)
        return lw_error_set(err, LW_ERR_SHAPE, "%s: module %s is %lld → %lld, the transformer's "
                            "Linear is %lld → %lld", path, module, (long long)in, (long long)out,
                            (long long)target->in, (long long)(target->out - row0));
    if (target->lora_count == FLUX_MAX_LORA_PER_LINEAR)
        return lw_error_set(err, LW_ERR_FORMAT, "%s: module %s adapts a Linear twice", path, module);
    if (n * r > 4096) return lw_error_set(err, LW_ERR_UNSUPPORTED, "%s: module %s: basis × rank over 4096",
                                          path, module);
    snprintf(l->name, sizeof l->name, "%s", module);
    l->in = in, l->out = out, l->basis = n, l->rank = r, l->rank_total = n * r, l->row0 = row0;
    l->k_dim = tk->shape[1], l->q_dim = tq->shape[1];
    l->keys = read_all(tk, err, &status);
    l->projection = l->keys ? read_all(tq, err, &status) : NULL;
    if (status == LW_OK) status = stack_upload(m, ta, true, n, r, in, &l->a, err);
    if (status == LW_OK) status = stack_upload(m, tb, false, n, r, out, &l->b, err);
    struct cmp_view vc;
    if (status == LW_OK && (status = cmp_arena_alloc(m->lora_arena, (uint64_t)l->rank_total * 4, &vc, err)) == LW_OK) {
        l->c = op_tensor_2d(vc, LW_DTYPE_F32, 1, l->rank_total);
        float zeros[4096] = {0};
        status = cmp_view_upload(vc, zeros, (uint64_t)l->rank_total * 4, err);
    }
    if (status == LW_OK) target->lora[target->lora_count++] = (int)(l - m->loras);
    return status;
}

void flux_lora_detach(struct flux_model *m) {
    for (int i = 0; i < m->lora_count; i++)
        free(m->loras[i].projection), free(m->loras[i].keys), free(m->loras[i].saved);
    free(m->loras);
    m->loras = NULL;
    m->lora_count = 0;
    cmp_arena_destroy(m->lora_arena);
    m->lora_arena = NULL;
    /* bounded by FLUX_MAX_BLOCKS too: this also runs on a model whose config was rejected */
    for (int64_t i = 0; i < m->cfg.depth && i < FLUX_MAX_BLOCKS; i++) {
        struct flux_double *b = &m->doubles[i];
        struct flux_linear *ls[] = {&b->img_mod,  &b->txt_mod,  &b->img_qkv,  &b->txt_qkv,  &b->img_proj,
                                    &b->txt_proj, &b->img_mlp0, &b->img_mlp2, &b->txt_mlp0, &b->txt_mlp2};
        for (size_t k = 0; k < sizeof ls / sizeof ls[0]; k++) ls[k]->lora_count = 0;
    }
    for (int64_t i = 0; i < m->cfg.depth_single && i < FLUX_MAX_BLOCKS; i++) {
        struct flux_single *b = &m->singles[i];
        b->mod.lora_count = b->lin1_qkv.lora_count = b->lin1_mlp.lora_count = b->lin2.lora_count = 0;
    }
}

enum lw_status flux_lorweb_attach(struct flux_model *m, const char *path, struct lw_error *err) {
    enum lw_status restored = flux_lorweb_unmerge(m, err); /* the old basis leaves the weights as loaded */
    if (restored != LW_OK) return restored;
    flux_lora_detach(m);
    struct wt_file *f = NULL;
    enum lw_status  status = wt_open(path, &f, err);
    if (status != LW_OK) return status;
    size_t   modules = 0;
    uint64_t bytes = 65536; /* an upper bound of the basis on the device: one arena block */
    for (size_t i = 0; i < wt_count(f); i++) {
        const char *name = wt_at(f, i)->name;
        size_t      len = strlen(name);
        if (len > 7 && strcmp(name + len - 7, ".lora_A") == 0) modules++;
        else if (len > 14 && strcmp(name + len - 14, ".lora_A.weight") == 0) modules++;
        if (strstr(name, ".lora_A") || strstr(name, ".lora_B")) bytes += 4 * wt_elements(wt_at(f, i)) + 1024;
    }
    if (modules == 0) {
        wt_close(f);
        return lw_error_set(err, LW_ERR_MISSING, "%s: no LoRWeB modules (no *.lora_A tensors)", path);
    }
    m->loras = calloc(modules, sizeof *m->loras);
    if (!m->loras) status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    if (status == LW_OK)
        status = cmp_arena_create(m->device, CMP_MEMORY_DEVICE, bytes < (256ull << 20) ? bytes : 0,
                                  &m->lora_arena, err);
    for (size_t i = 0; i < wt_count(f) && status == LW_OK; i++) {
        char        module[200];
        const char *name = wt_at(f, i)->name, *end = strstr(name, ".lora_A");
        if (!end || strncmp(name, "transformer.", 12) != 0 || (end[7] && strcmp(end, ".lora_A.weight")))
            continue;
        snprintf(module, sizeof module, "%.*s", (int)(end - name - 12), name + 12);
        status = lora_load(m, f, path, module, &m->loras[m->lora_count], err);
        m->lora_count++; /* counted even on failure: detach frees what it read */
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
    if (status != LW_OK) flux_lora_detach(m);
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
    const struct flux_lora *l = &m->loras[i];
    *projection = l->projection, *keys = l->keys, *k_dim = l->k_dim, *q_dim = l->q_dim;
}

enum lw_status flux_lorweb_set(struct flux_model *m, int i, const float *coeffs, float strength,
                               struct lw_error *err) {
    if (i < 0 || i >= m->lora_count)
        return lw_error_set(err, LW_ERR_ARGUMENT, "LoRWeB module %d out of range", i);
    struct flux_lora *l = &m->loras[i];
    float             c[4096];
    for (int64_t k = 0; k < l->basis; k++)
        for (int64_t j = 0; j < l->rank; j++) c[k * l->rank + j] = strength * coeffs[k];
    return cmp_view_upload(l->c.view, c, (uint64_t)l->rank_total * 4, err);
}

/* The 4-byte-aligned bytes of rows [row0, row0 + rows) of a dense weight: what a merge may write. */
static struct cmp_view rows_view(const struct flux_linear *l, int64_t row0, int64_t rows) {
    uint64_t eb = lw_dtype_bytes(l->w.dtype, 1), view = l->w.view.bytes;
    uint64_t begin = (uint64_t)(row0 * l->in) * eb & ~(uint64_t)3;
    uint64_t end = ((uint64_t)((row0 + rows) * l->in) * eb + 3) & ~(uint64_t)3;
    return cmp_view_slice(l->w.view, begin, (end < view ? end : view) - begin);
}

enum lw_status flux_lorweb_merge(struct flux_model *m, int *merged, struct lw_error *err) {
    enum lw_status status = LW_OK;
    struct cmp_cmd *cmd = NULL;
    int             count = 0;
    if (merged) *merged = 0;
    if ((status = cmp_cmd_create(m->device, &cmd, err))) return status;
    struct op_ctx ctx = {.device = m->device, .cmd = cmd};
    for (int g = 0; g < m->resident_blocks && status == LW_OK; g++) {
        struct flux_linear *ls[8];
        int                 n = flux_block_linears(m, g, true, ls);
        for (int k = 0; k < n && status == LW_OK; k++)
            for (int i = 0; i < ls[k]->lora_count && status == LW_OK; i++) {
                struct flux_lora *p = &m->loras[ls[k]->lora[i]];
                enum lw_dtype     t = ls[k]->w.dtype;
                if (p->merged || (t != LW_DTYPE_F32 && t != LW_DTYPE_F16 && t != LW_DTYPE_BF16)) continue;
                p->saved_at = rows_view(ls[k], p->row0, p->out);
                p->saved = malloc(p->saved_at.bytes);
                if (!p->saved) {
                    status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory saving %s", ls[k]->name);
                    break;
                }
                status = cmp_view_download(p->saved_at, p->saved, p->saved_at.bytes, err);
                if (status == LW_OK)
                    status = op_lora_merge(&ctx, op_tensor_slice(ls[k]->w, p->row0, p->out, 0, ls[k]->in), p->a, p->b,
                                           p->c, err);
                p->merged = status == LW_OK; /* unmerge restores what was saved, also after a failure */
                count += p->merged;
            }
    }
    if (status == LW_OK) status = cmp_cmd_submit(cmd, err);
    cmp_cmd_destroy(cmd);
    if (status != LW_OK) {
        struct lw_error ignored = {0};
        flux_lorweb_unmerge(m, &ignored);
        return status;
    }
    if (merged) *merged = count;
    return LW_OK;
}

enum lw_status flux_lorweb_unmerge(struct flux_model *m, struct lw_error *err) {
    enum lw_status status = LW_OK;
    for (int i = 0; i < m->lora_count && status == LW_OK; i++) {
        struct flux_lora *p = &m->loras[i];
        if (p->merged) status = cmp_view_upload(p->saved_at, p->saved, p->saved_at.bytes, err);
        if (status != LW_OK) break; /* still merged, still saved: a later call may finish */
        p->merged = false;
        free(p->saved);
        p->saved = NULL;
    }
    return status;
}
