/* FLUX.1 (Kontext) transformer: hyper-parameters, weight checks and where each weight lives.
 *
 * Mirrors the module tree of BFL flux `model.py` / `modules/layers.py` (spec-flux-kontext.md §1.1,
 * §1.10) and reads it in BFL, ComfyUI (`model.diffusion_model.` prefix) or diffusers naming (§1.11:
 * split q/k/v and proj_mlp rows assembled into the fused BFL Linears, norm_out's halves swapped). The forward, conditioning and sampler are in flux_run.c, the LoRWeB basis in
 * flux_lorweb.c. Loading is two passes over the file's headers: the first checks every tensor's
 * shape and measures the block matrices, the residency plan (flux_internal.h) decides how many
 * leading blocks stay on the device, the second uploads. Modulation and embedding Linears are only
 * checked here; flux_run.c stages them for its conditioning pass. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flux_internal.h"

static uint64_t align256(uint64_t bytes) {
    return (bytes + 255) & ~(uint64_t)255;
}

static bool comfy_name(const char *name, char *out, size_t size) {
    snprintf(out, size, "model.diffusion_model.%s", name);
    return true;
}

/* BFL → diffusers names for the tensors stored whole (names_flux.h holds the one table); the fused
 * ones (q/k/v, linear1, the final adaLN) are assembled from parts by linear_parts. */
static bool diffusers_name(const char *name, char *out, size_t size) {
    char names[WT_MAX_PARTS][WT_NAME_MAX];
    bool swap;
    if (wt_flux_diffusers_names(name, names, &swap) != 1) return false;
    snprintf(out, size, "%s", names[0]);
    return true;
}

struct ld_loader flux_loader(struct flux_model *m, struct cmp_arena *arena, struct lw_error *err) {
    return (struct ld_loader){.device = m->device, .arena = arena, .file = m->file, .path = m->path, .err = err,
                              .translate = m->layout == WT_FLUX_COMFY       ? comfy_name
                                           : m->layout == WT_FLUX_DIFFUSERS ? diffusers_name
                                                                         : NULL};
}

static void linear_init(struct flux_linear *l, int64_t out, int64_t in, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void linear_init(struct flux_linear *l, int64_t out, int64_t in, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->name, sizeof l->name, fmt, ap);
    va_end(ap);
    l->out = out, l->in = in;
}

/* The matmul kernels read f32, f16 and bf16 weights. As loader.h does, fp8 and integer weights are
 * widened to f32 on the way up and GGUF block-quantised ones dequantised to f16. */
static bool widened(const struct wt_tensor *t) {
    return t->dtype != LW_DTYPE_F32 && t->dtype != LW_DTYPE_F16 && t->dtype != LW_DTYPE_BF16;
}

static enum lw_dtype device_dtype(const struct wt_tensor *t) {
    if (!widened(t)) return t->dtype;
    return lw_dtype_info(t->dtype)->block_elems > 1 ? LW_DTYPE_F16 : LW_DTYPE_F32;
}

/* Rows [src, src + rows) of file tensor `name` (file_rows rows) are rows [dst, dst + rows) of a
 * Linear. A BFL or ComfyUI Linear is one part; diffusers splits the fused ones. */
struct part {
    char    name[96]; /* without .weight / .bias; translated by the loader */
    int64_t file_rows, src, rows, dst;
};

static int linear_parts(const struct flux_model *m, const struct flux_linear *l, struct part *p) {
    int64_t d = m->cfg.hidden;
    if (m->layout == WT_FLUX_DIFFUSERS) {
        char bfl[112], names[WT_MAX_PARTS][WT_NAME_MAX];
        bool swap;
        snprintf(bfl, sizeof bfl, "%.96s.weight", l->name);
        int count = wt_flux_diffusers_names(bfl, names, &swap);
        if (swap) { /* final adaLN: diffusers stores scale then shift */
            p[0] = (struct part){"", 2 * d, d, d, 0};
            p[1] = (struct part){"", 2 * d, 0, d, d};
            for (int i = 0; i < 2; i++) snprintf(p[i].name, sizeof p[i].name, "%.*s", (int)(strlen(names[0]) - 7), names[0]);
            return 2;
        }
        if (count > 1) { /* q, k, v (and the single block's MLP input): d rows each, the rest last */
            for (int i = 0; i < count; i++) {
                int64_t rows = i < 3 ? d : l->out - 3 * d;
                p[i] = (struct part){.file_rows = rows, .src = 0, .rows = rows, .dst = i * d};
                snprintf(p[i].name, sizeof p[i].name, "%.*s", (int)(strlen(names[i]) - 7), names[i]);
            }
            return count;
        }
    }
    p[0] = (struct part){.file_rows = l->out, .src = 0, .rows = l->out, .dst = 0};
    snprintf(p[0].name, sizeof p[0].name, "%s", l->name);
    return 1;
}

/* Checks a Linear's parts (weights [file_rows, in] of one dtype, biases [file_rows]); returns the
 * weight's device bytes and dtype, or 0 after an error (kept in ld). */
static uint64_t linear_check(struct flux_model *m, struct ld_loader *ld, const struct flux_linear *l,
                             enum lw_dtype *dtype) {
    struct part parts[4];
    int         count = linear_parts(m, l, parts);
    char        n[112];
    for (int i = 0; i < count; i++) {
        snprintf(n, sizeof n, "%.96s.weight", parts[i].name);
        const struct wt_tensor *w = ld_check(ld, n, 2, (int64_t[]){parts[i].file_rows, l->in});
        snprintf(n, sizeof n, "%.96s.bias", parts[i].name);
        ld_check(ld, n, 1, &parts[i].file_rows);
        if (!w) return 0;
        enum lw_dtype t = device_dtype(w);
        if (i && t != *dtype) {
            ld->status = lw_error_set(ld->err, LW_ERR_DTYPE, "%s: tensor %s is %s, the other parts of %s are %s",
                                      ld->path, w->name, lw_dtype_info(w->dtype)->name, l->name,
                                      lw_dtype_info(*dtype)->name);
            return 0;
        }
        *dtype = t;
    }
    return lw_dtype_bytes(*dtype, (uint64_t)(l->out * l->in));
}

/* Writes a Linear's weight (out, in) into `dst` (device or host-visible) from its parts. */
static void weight_fill(struct flux_model *m, struct ld_loader *ld, const struct flux_linear *l,
                        enum lw_dtype dtype, struct cmp_view dst) {
    struct part parts[4];
    int         count = linear_parts(m, l, parts);
    uint64_t    row_bytes = lw_dtype_bytes(dtype, (uint64_t)l->in);
    char        n[112];
    for (int i = 0; i < count && ld->status == LW_OK; i++) {
        snprintf(n, sizeof n, "%.96s.weight", parts[i].name);
        const struct wt_tensor *t = ld_find(ld, n);
        struct cmp_view         at = cmp_view_slice(dst, (uint64_t)parts[i].dst * row_bytes, (uint64_t)parts[i].rows * row_bytes);
        if (!widened(t)) {
            ld->status = cmp_view_upload(at, (const char *)t->data + (uint64_t)parts[i].src * row_bytes, at.bytes, ld->err);
            continue;
        }
        float *f = malloc(wt_elements(t) * sizeof *f);
        if (!f) ld->status = lw_error_set(ld->err, LW_ERR_HOST_MEMORY, "%s: out of host memory for %s", ld->path, n);
        else if ((ld->status = wt_read_f32(t, f, wt_elements(t), ld->err)) == LW_OK) {
            float *rows = f + parts[i].src * l->in;
            if (dtype == LW_DTYPE_F16) { /* in place: each half is written behind what it reads */
                uint16_t *half = (uint16_t *)rows;
                for (uint64_t k = 0; k < (uint64_t)(parts[i].rows * l->in); k++) half[k] = lw_f32_to_f16(rows[k]);
            }
            ld->status = cmp_view_upload(at, rows, at.bytes, ld->err);
        }
        free(f);
    }
}

/* The bias (out) as f32 in ld's arena, assembled from its parts. */
static struct op_tensor bias_load(struct flux_model *m, struct ld_loader *ld, const struct flux_linear *l) {
    struct part      parts[4];
    int              count = linear_parts(m, l, parts);
    struct op_tensor out = {0};
    struct cmp_view  v;
    float           *b = malloc((size_t)(2 * l->out) * sizeof *b), *part; /* a part has ≤ out rows */
    char             n[112];
    if (ld->status != LW_OK) goto done;
    if (!b) {
        ld->status = lw_error_set(ld->err, LW_ERR_HOST_MEMORY, "%s: out of host memory", ld->path);
        goto done;
    }
    part = b + l->out;
    for (int i = 0; i < count && ld->status == LW_OK; i++) {
        snprintf(n, sizeof n, "%.96s.bias", parts[i].name);
        float *dst = count == 1 ? b : part; /* fused parts: the file tensor first, then its rows */
        if ((ld->status = wt_read_f32(ld_find(ld, n), dst, (uint64_t)parts[i].file_rows, ld->err)) == LW_OK && count > 1)
            memcpy(b + parts[i].dst, part + parts[i].src, (size_t)parts[i].rows * sizeof *b);
    }
    if (ld->status == LW_OK && (ld->status = cmp_arena_alloc(ld->arena, (uint64_t)l->out * 4, &v, ld->err)) == LW_OK &&
        (ld->status = cmp_view_upload(v, b, (uint64_t)l->out * 4, ld->err)) == LW_OK)
        out = op_tensor_2d(v, LW_DTYPE_F32, l->out, 1);
done:
    free(b);
    return out;
}

void flux_linear_stage(struct flux_model *m, struct ld_loader *ld, struct cmp_arena *matrices,
                       struct flux_linear *l) {
    enum lw_dtype   dtype = LW_DTYPE_F32;
    uint64_t        bytes = linear_check(m, ld, l, &dtype);
    struct cmp_view v;
    if (ld->status != LW_OK) return;
    if ((ld->status = cmp_arena_alloc(matrices ? matrices : ld->arena, bytes, &v, ld->err)) != LW_OK) {
        lw_error_prefix(ld->err, "%s: uploading %s: ", ld->path, l->name);
        return;
    }
    weight_fill(m, ld, l, dtype, v);
    if (ld->status == LW_OK) l->w = op_tensor_2d(v, dtype, l->out, l->in);
    l->b = bias_load(m, ld, l);
}

/* Rows [row0, row0 + rows) of a Linear (the q/k/v and MLP parts of a single block's linear1). */
static struct flux_linear linear_rows(const struct flux_linear *l, int64_t row0, int64_t rows) {
    struct flux_linear s = *l;
    if (!op_tensor_absent(&l->w)) {
        uint64_t row_bytes = lw_dtype_bytes(l->w.dtype, (uint64_t)l->in);
        s.w = op_tensor_2d(cmp_view_slice(l->w.view, (uint64_t)row0 * row_bytes, (uint64_t)rows * row_bytes),
                           l->w.dtype, rows, l->in);
        s.b = op_tensor_slice(l->b, row0, rows, 0, 1);
    }
    s.out = rows;
    return s;
}

int flux_block_linears(struct flux_model *m, int g, bool parts, struct flux_linear **out) {
    if (g < m->cfg.depth) {
        struct flux_double *b = &m->doubles[g];
        struct flux_linear *ls[] = {&b->img_qkv, &b->txt_qkv,  &b->img_proj, &b->txt_proj,
                                    &b->img_mlp0, &b->img_mlp2, &b->txt_mlp0, &b->txt_mlp2};
        memcpy(out, ls, sizeof ls);
        return 8;
    }
    struct flux_single *b = &m->singles[g - m->cfg.depth];
    if (!parts) {
        out[0] = &b->lin1, out[1] = &b->lin2;
        return 2;
    }
    out[0] = &b->lin1_qkv, out[1] = &b->lin1_mlp, out[2] = &b->lin2;
    return 3;
}

int flux_conditioning_linears(struct flux_model *m, struct flux_linear **out, int max) {
    int n = 0;
#define PUT(l) (n < max ? (void)(out[n++] = (l)) : (void)0)
    PUT(&m->time_in0), PUT(&m->time_in1);
    if (m->cfg.guidance_embed) PUT(&m->guid_in0), PUT(&m->guid_in1);
    PUT(&m->vec_in0), PUT(&m->vec_in1);
    for (int64_t i = 0; i < m->cfg.depth; i++) PUT(&m->doubles[i].img_mod), PUT(&m->doubles[i].txt_mod);
    for (int64_t i = 0; i < m->cfg.depth_single; i++) PUT(&m->singles[i].mod);
    PUT(&m->final_mod);
#undef PUT
    return n;
}

/* ---------------------------------------------------------------------------------------------- */
/* Hyper-parameters and the module tree                                                            */

static enum lw_status config_read(struct ld_loader *ld, struct flux_config *c, struct lw_error *err) {
    const struct wt_tensor *img_in = ld_find(ld, "img_in.weight");
    const struct wt_tensor *txt_in = ld_find(ld, "txt_in.weight");
    const struct wt_tensor *vec_in = ld_find(ld, "vector_in.in_layer.weight");
    const struct wt_tensor *q = ld_find(ld, "double_blocks.0.img_attn.norm.query_norm.scale");
    if (!q) q = ld_find(ld, "single_blocks.0.norm.query_norm.scale");
    if (!img_in || img_in->ndim != 2 || !txt_in || txt_in->ndim != 2 || !vec_in || vec_in->ndim != 2)
        return lw_error_set(err, LW_ERR_MISSING,
                            "%s: not a FLUX transformer in BFL, ComfyUI or diffusers naming "
                            "(img_in / x_embedder, txt_in or vector_in missing)", ld->path);
    c->hidden = ld_meta_int(ld, "flux.hidden_size", img_in->shape[0]);
    int64_t head_dim = q && q->ndim == 1 ? q->shape[0] : 128;
    c->heads = ld_meta_int(ld, "flux.num_heads", head_dim > 0 ? c->hidden / head_dim : 0);
    c->head_dim = c->heads > 0 ? c->hidden / c->heads : 0;
    c->in_channels = ld_meta_int(ld, "flux.in_channels", img_in->shape[1]);
    c->context_in = ld_meta_int(ld, "flux.context_in_dim", txt_in->shape[1]);
    c->vec_in = ld_meta_int(ld, "flux.vec_in_dim", vec_in->shape[1]);
    const struct wt_tensor *fin = ld_find(ld, "final_layer.linear.weight");
    c->out_channels = ld_meta_int(ld, "flux.out_channels", fin && fin->ndim == 2 ? fin->shape[0] : 64);
    int64_t depth = 0, single = 0;
    char    name[128];
    for (; depth < FLUX_MAX_BLOCKS; depth++) {
        snprintf(name, sizeof name, "double_blocks.%lld.img_mlp.0.weight", (long long)depth); /* 1:1 in every naming */
        if (!ld_find(ld, name)) break;
    }
    for (; single < FLUX_MAX_BLOCKS; single++) {
        snprintf(name, sizeof name, "single_blocks.%lld.linear2.weight", (long long)single);
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
    if (!mlp) mlp = ld_find(ld, "single_blocks.0.linear2.weight");
    c->mlp_hidden = !mlp || mlp->ndim != 2 ? 4 * c->hidden
                    : c->depth ? mlp->shape[0] : mlp->shape[1] - c->hidden;
    if (c->hidden <= 0 || c->heads <= 0 || c->hidden % c->heads || c->head_dim % 2 || c->mlp_hidden <= 0 ||
        c->axes_dim[0] + c->axes_dim[1] + c->axes_dim[2] != c->head_dim || c->depth < 0 ||
        c->depth_single < 0 || c->depth > FLUX_MAX_BLOCKS || c->depth_single > FLUX_MAX_BLOCKS ||
        c->depth + c->depth_single == 0 || c->axes_dim[0] % 2 || c->axes_dim[1] % 2 || c->axes_dim[2] % 2 ||
        c->in_channels <= 0 || c->out_channels <= 0 || c->vec_in <= 0 || c->context_in <= 0)
        return lw_error_set(err, LW_ERR_FORMAT,
                            "%s: implausible FLUX hyper-parameters (hidden %lld, heads %lld, axes "
                            "%lld/%lld/%lld, depth %lld + %lld)",
                            ld->path, (long long)c->hidden, (long long)c->heads,
                            (long long)c->axes_dim[0], (long long)c->axes_dim[1],
                            (long long)c->axes_dim[2], (long long)c->depth, (long long)c->depth_single);
    return LW_OK;
}

/* Names and shapes of every Linear, and the column of each modulation in a step's row. */
static void modules_init(struct flux_model *m) {
    const struct flux_config *c = &m->cfg;
    int64_t                   d = c->hidden, f = c->mlp_hidden, col = 0;
    linear_init(&m->img_in, d, c->in_channels, "img_in");
    linear_init(&m->txt_in, d, c->context_in, "txt_in");
    linear_init(&m->time_in0, d, 256, "time_in.in_layer");
    linear_init(&m->time_in1, d, d, "time_in.out_layer");
    linear_init(&m->guid_in0, d, 256, "guidance_in.in_layer");
    linear_init(&m->guid_in1, d, d, "guidance_in.out_layer");
    linear_init(&m->vec_in0, d, c->vec_in, "vector_in.in_layer");
    linear_init(&m->vec_in1, d, d, "vector_in.out_layer");
    for (int64_t i = 0; i < c->depth; i++) {
        struct flux_double *b = &m->doubles[i];
        const char         *p = "double_blocks";
        long long           k = (long long)i;
        linear_init(&b->img_mod, 6 * d, d, "%s.%lld.img_mod.lin", p, k);
        linear_init(&b->txt_mod, 6 * d, d, "%s.%lld.txt_mod.lin", p, k);
        linear_init(&b->img_qkv, 3 * d, d, "%s.%lld.img_attn.qkv", p, k);
        linear_init(&b->txt_qkv, 3 * d, d, "%s.%lld.txt_attn.qkv", p, k);
        linear_init(&b->img_proj, d, d, "%s.%lld.img_attn.proj", p, k);
        linear_init(&b->txt_proj, d, d, "%s.%lld.txt_attn.proj", p, k);
        linear_init(&b->img_mlp0, f, d, "%s.%lld.img_mlp.0", p, k);
        linear_init(&b->img_mlp2, d, f, "%s.%lld.img_mlp.2", p, k);
        linear_init(&b->txt_mlp0, f, d, "%s.%lld.txt_mlp.0", p, k);
        linear_init(&b->txt_mlp2, d, f, "%s.%lld.txt_mlp.2", p, k);
        b->img_mod_col = col, col += 6 * d;
        b->txt_mod_col = col, col += 6 * d;
    }
    for (int64_t i = 0; i < c->depth_single; i++) {
        struct flux_single *b = &m->singles[i];
        linear_init(&b->mod, 3 * d, d, "single_blocks.%lld.modulation.lin", (long long)i);
        linear_init(&b->lin1, 3 * d + f, d, "single_blocks.%lld.linear1", (long long)i);
        linear_init(&b->lin2, d, d + f, "single_blocks.%lld.linear2", (long long)i);
        b->mod_col = col, col += 3 * d;
    }
    linear_init(&m->final_mod, 2 * d, d, "final_layer.adaLN_modulation.1");
    linear_init(&m->final_linear, c->out_channels, d, "final_layer.linear");
    m->final_mod_col = col, col += 2 * d;
    m->mod_cols = col + c->in_channels; /* the step's Euler dt, broadcast over a token row, last */
    m->blocks = (int)(c->depth + c->depth_single);
}

/* ---------------------------------------------------------------------------------------------- */
/* Residency                                                                                        */

/* Decides how many leading blocks stay on the device (flux_load_options) and the slot size. */
static enum lw_status residency_plan(struct flux_model *m, const struct flux_load_options *o,
                                     const uint64_t *block_bytes, uint64_t fixed, uint64_t *slot_bytes,
                                     struct lw_error *err) {
    int      n = m->blocks, k = n;
    uint64_t total = 0, largest = 0;
    for (int g = 0; g < n; g++) {
        total += block_bytes[g];
        if (block_bytes[g] > largest) largest = block_bytes[g];
    }
    if (o && o->stream_blocks > 0) {
        k = n > o->stream_blocks ? n - o->stream_blocks : 0;
    } else {
        const struct cmp_device_info *info = cmp_device_info(m->device);
        /* unified memory: a copy from host-visible to device-local memory would gain nothing */
        uint64_t limit = o && o->device_bytes ? o->device_bytes
                         : info->unified_memory ? 0 : info->device_local_bytes;
        uint64_t reserve = o && o->activation_bytes ? o->activation_bytes : FLUX_ACTIVATION_RESERVE;
        if (limit && fixed + total + reserve > limit) {
            const double mib = 1048576.0;
            if (fixed + reserve + 2 * largest > limit)
                return lw_error_set(err, LW_ERR_DEVICE_MEMORY,
                                    "%s: the transformer needs %.1f MiB of device memory even with "
                                    "its blocks streamed (%.1f MiB resident, 2 × %.1f MiB slots, "
                                    "%.1f MiB for activations); %.1f MiB available", m->path,
                                    (fixed + reserve + 2 * largest) / mib, fixed / mib, largest / mib,
                                    reserve / mib, limit / mib);
            uint64_t avail = limit - fixed - reserve - 2 * largest, used = 0;
            for (k = 0; k < n && used + block_bytes[k] <= avail; k++) used += block_bytes[k];
        }
    }
    m->resident_blocks = k;
    *slot_bytes = 0;
    for (int g = k; g < n; g++) {
        m->block_slot[g] = (g - k) % 2;
        if (block_bytes[g] > *slot_bytes) *slot_bytes = block_bytes[g];
    }
    return LW_OK;
}

/* Places block g's matrix l for streaming: its bytes at *offset of the block's host copy, its
 * weight tensor at the same offset of the block's device slot. The bias stays resident. */
static void linear_stream(struct flux_model *m, struct ld_loader *ld, int g, struct flux_linear *l,
                          uint64_t *offset) {
    enum lw_dtype dtype = LW_DTYPE_F32;
    uint64_t      bytes = linear_check(m, ld, l, &dtype);
    if (ld->status != LW_OK) return;
    weight_fill(m, ld, l, dtype, cmp_view_slice(m->block_host[g], *offset, bytes));
    if (ld->status != LW_OK) return;
    l->w = op_tensor_2d(cmp_view_slice(m->slot[m->block_slot[g]], *offset, bytes), dtype, l->out, l->in);
    *offset += align256(bytes);
    l->b = bias_load(m, ld, l);
}

static void block_load(struct flux_model *m, struct ld_loader *ld, int g) {
    struct flux_linear *ls[8];
    int                 count = flux_block_linears(m, g, false, ls);
    uint64_t            offset = 0;
    for (int i = 0; i < count; i++) {
        if (g < m->resident_blocks) flux_linear_stage(m, ld, m->matrices, ls[i]);
        else linear_stream(m, ld, g, ls[i], &offset);
    }
    int64_t hd = m->cfg.head_dim, d = m->cfg.hidden;
    if (g < m->cfg.depth) {
        struct flux_double *b = &m->doubles[g];
        const char         *p = "double_blocks";
        b->img_q_scale = ld_vectorf(ld, hd, "%s.%d.img_attn.norm.query_norm.scale", p, g);
        b->img_k_scale = ld_vectorf(ld, hd, "%s.%d.img_attn.norm.key_norm.scale", p, g);
        b->txt_q_scale = ld_vectorf(ld, hd, "%s.%d.txt_attn.norm.query_norm.scale", p, g);
        b->txt_k_scale = ld_vectorf(ld, hd, "%s.%d.txt_attn.norm.key_norm.scale", p, g);
    } else {
        struct flux_single *b = &m->singles[g - m->cfg.depth];
        int                 i = g - (int)m->cfg.depth;
        b->q_scale = ld_vectorf(ld, hd, "single_blocks.%d.norm.query_norm.scale", i);
        b->k_scale = ld_vectorf(ld, hd, "single_blocks.%d.norm.key_norm.scale", i);
        if (ld->status == LW_OK) {
            b->lin1_qkv = linear_rows(&b->lin1, 0, 3 * d);
            b->lin1_mlp = linear_rows(&b->lin1, 3 * d, m->cfg.mlp_hidden);
        }
    }
}

enum lw_status flux_load(struct cmp_device *device, const char *path, struct flux_model **out,
                         struct lw_error *err) {
    return flux_load_with(device, path, NULL, out, err);
}

enum lw_status flux_load_with(struct cmp_device *device, const char *path,
                              const struct flux_load_options *options, struct flux_model **out,
                              struct lw_error *err) {
    *out = NULL;
    struct flux_model *m = calloc(1, sizeof *m);
    if (!m || !(m->path = strdup(path))) {
        free(m);
        return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    }
    m->device = device;
    enum lw_status status = wt_open(path, &m->file, err);
    if (status == LW_OK) status = ld_resources_create(device, &m->res, err);
    if (status != LW_OK) goto done;
    m->layout = wt_flux_layout(m->file);
    struct ld_loader ld = flux_loader(m, m->res.weights, err);
    if ((status = config_read(&ld, &m->cfg, err)) != LW_OK) goto done;
    modules_init(m);
    const struct flux_config *c = &m->cfg;
    /* pass 1: every tensor's shape; sizes of what stays, what streams and what is staged */
    uint64_t block_bytes[2 * FLUX_MAX_BLOCKS] = {0}, fixed = 0, vec = 4 * align256((uint64_t)c->head_dim * 4);
    struct flux_linear *ls[2 * FLUX_MAX_BLOCKS + 8];
    int                 count = flux_conditioning_linears(m, ls, (int)(sizeof ls / sizeof ls[0]));
    enum lw_dtype dtype;
    for (int i = 0; i < count; i++) m->memory.conditioning += align256(linear_check(m, &ld, ls[i], &dtype));
    struct flux_linear *globals[] = {&m->img_in, &m->txt_in, &m->final_linear};
    uint64_t vectors = 0; /* biases and norm scales (f32), never streamed */
    for (int i = 0; i < 3; i++)
        fixed += align256(linear_check(m, &ld, globals[i], &dtype)), vectors += align256((uint64_t)globals[i]->out * 4);
    for (int g = 0; g < m->blocks; g++) {
        int n = flux_block_linears(m, g, false, ls);
        for (int i = 0; i < n; i++) {
            block_bytes[g] += align256(linear_check(m, &ld, ls[i], &dtype));
            vectors += align256((uint64_t)ls[i]->out * 4);
        }
        vectors += vec;
    }
    fixed += vectors;
    uint64_t slot_bytes = 0;
    if ((status = ld.status) != LW_OK ||
        (status = residency_plan(m, options, block_bytes, fixed, &slot_bytes, err)) != LW_OK)
        goto done;
    /* pass 2: uploads */
    if (m->resident_blocks < m->blocks) {
        if ((status = cmp_arena_create(device, CMP_MEMORY_HOST, 0, &m->host_arena, err)) ||
            (status = cmp_arena_create(device, CMP_MEMORY_DEVICE, slot_bytes, &m->slot_arena, err)) ||
            (status = cmp_arena_alloc(m->slot_arena, slot_bytes, &m->slot[0], err)) ||
            (status = cmp_arena_alloc(m->slot_arena, slot_bytes, &m->slot[1], err)))
            goto done;
        for (int g = m->resident_blocks; g < m->blocks && status == LW_OK; g++)
            status = cmp_arena_alloc(m->host_arena, block_bytes[g], &m->block_host[g], err);
        if (status != LW_OK) {
            lw_error_prefix(err, "%s: streaming %d blocks: ", path, m->blocks - m->resident_blocks);
            goto done;
        }
    }
    /* An arena's blocks would leave the tail of a block unused whenever the next matrix does not fit
     * (up to a third of the weights at FLUX's sizes): matrices get buffers of their own. */
    if ((status = cmp_arena_create(device, CMP_MEMORY_DEVICE, 4096, &m->matrices, err)) != LW_OK) goto done;
    cmp_arena_destroy(m->res.weights); /* empty: remade at the size of the vectors */
    m->res.weights = NULL;
    if ((status = cmp_arena_create(device, CMP_MEMORY_DEVICE, vectors < (255ull << 20) ? vectors + 65536 : 0,
                                   &m->res.weights, err)) != LW_OK)
        goto done;
    ld.arena = m->res.weights;
    for (int i = 0; i < 3; i++) flux_linear_stage(m, &ld, m->matrices, globals[i]);
    for (int g = 0; g < m->blocks; g++) block_load(m, &ld, g);
    if ((status = ld.status) != LW_OK) goto done;
    m->memory.resident = cmp_arena_used_bytes(m->res.weights) + cmp_arena_used_bytes(m->matrices);
    m->memory.streamed = m->host_arena ? cmp_arena_used_bytes(m->host_arena) : 0;
    m->memory.slots = m->slot_arena ? cmp_arena_used_bytes(m->slot_arena) : 0;
    m->memory.blocks = m->blocks;
    m->memory.streamed_blocks = m->blocks - m->resident_blocks;
done:
    if (status != LW_OK) {
        flux_destroy(m);
        return status;
    }
    *out = m;
    return LW_OK;
}

void flux_destroy(struct flux_model *m) {
    if (!m) return;
    flux_lora_detach(m);
    cmp_arena_destroy(m->slot_arena);
    cmp_arena_destroy(m->host_arena);
    cmp_arena_destroy(m->matrices);
    ld_resources_destroy(&m->res);
    wt_close(m->file);
    free(m->path);
    free(m);
}

const struct flux_config *flux_config(const struct flux_model *m) {
    return &m->cfg;
}

void flux_memory_get(const struct flux_model *m, struct flux_memory *out) {
    *out = m->memory;
    out->lorweb = m->lora_arena ? cmp_arena_used_bytes(m->lora_arena) : 0;
}
