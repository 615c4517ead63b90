/* FLUX names: a tiny random BFL transformer written in BFL, ComfyUI, diffusers (sharded, with an
 * index; q/k/v and linear1 split, norm_out halves swapped) and GGUF (Q8_0) form reads back through
 * wt_flux_resolve as the same BFL tensors; missing or mismatched parts are clear errors; LoRWeB
 * keys map to the right rows of the fused weights (checked against the shared fixtures too). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "names_flux.h"
#include "quantize.h"

#define H 32  /* hidden */
#define F 64  /* mlp hidden */
#define HD 16 /* head dim */
#define MAX_T 64

static char dir[] = "/tmp/lorweb-names-XXXXXX";

struct model {
    struct wt_tensor t[MAX_T];
    char             names[MAX_T][WT_NAME_MAX];
    float           *values[MAX_T]; /* as stored (bf16-rounded) */
    uint16_t        *bf16[MAX_T];
    int              count;
};

static void add(struct model *m, struct th_rng *rng, const char *name, int64_t rows, int64_t cols) {
    int     i = m->count++;
    int64_t n = rows * (cols ? cols : 1);
    snprintf(m->names[i], WT_NAME_MAX, "%s", name);
    m->values[i] = malloc((size_t)n * sizeof(float));
    m->bf16[i] = malloc((size_t)n * 2);
    for (int64_t k = 0; k < n; k++) {
        m->bf16[i][k] = th_f32_to_bf16(th_rng_uniform(rng, -1, 1));
        m->values[i][k] = th_bf16_to_f32(m->bf16[i][k]);
    }
    m->t[i] = (struct wt_tensor){.name = m->names[i],
                                 .dtype = LW_DTYPE_BF16,
                                 .ndim = cols ? 2 : 1,
                                 .shape = {rows, cols},
                                 .data = m->bf16[i],
                                 .bytes = (uint64_t)n * 2};
}

static void linear(struct model *m, struct th_rng *rng, const char *name, int64_t out, int64_t in) {
    char n[WT_NAME_MAX];
    snprintf(n, sizeof n, "%s.weight", name);
    add(m, rng, n, out, in);
    snprintf(n, sizeof n, "%s.bias", name);
    add(m, rng, n, out, 0);
}

static void make_bfl(struct model *m, struct th_rng *rng) {
    linear(m, rng, "img_in", H, 64);
    linear(m, rng, "txt_in", H, 32);
    linear(m, rng, "time_in.in_layer", H, 256);
    linear(m, rng, "time_in.out_layer", H, H);
    linear(m, rng, "guidance_in.in_layer", H, 256);
    linear(m, rng, "guidance_in.out_layer", H, H);
    linear(m, rng, "vector_in.in_layer", H, 32);
    linear(m, rng, "vector_in.out_layer", H, H);
    linear(m, rng, "final_layer.linear", 64, H);
    linear(m, rng, "final_layer.adaLN_modulation.1", 2 * H, H);
    const char *streams[] = {"img", "txt"};
    for (int s = 0; s < 2; s++) {
        char p[WT_NAME_MAX];
        snprintf(p, sizeof p, "double_blocks.0.%s_mod.lin", streams[s]),
            linear(m, rng, p, 6 * H, H);
        snprintf(p, sizeof p, "double_blocks.0.%s_attn.qkv", streams[s]),
            linear(m, rng, p, 3 * H, H);
        snprintf(p, sizeof p, "double_blocks.0.%s_attn.norm.query_norm.scale", streams[s]),
            add(m, rng, p, HD, 0);
        snprintf(p, sizeof p, "double_blocks.0.%s_attn.norm.key_norm.scale", streams[s]),
            add(m, rng, p, HD, 0);
        snprintf(p, sizeof p, "double_blocks.0.%s_attn.proj", streams[s]), linear(m, rng, p, H, H);
        snprintf(p, sizeof p, "double_blocks.0.%s_mlp.0", streams[s]), linear(m, rng, p, F, H);
        snprintf(p, sizeof p, "double_blocks.0.%s_mlp.2", streams[s]), linear(m, rng, p, H, F);
    }
    linear(m, rng, "single_blocks.0.linear1", 3 * H + F, H);
    linear(m, rng, "single_blocks.0.linear2", H, H + F);
    add(m, rng, "single_blocks.0.norm.query_norm.scale", HD, 0);
    add(m, rng, "single_blocks.0.norm.key_norm.scale", HD, 0);
    linear(m, rng, "single_blocks.0.modulation.lin", 3 * H, H);
}

/* The diffusers form of the model: fused weights split by rows, norm_out halves swapped. */
static int to_diffusers(const struct model *m, struct wt_tensor *out, char (*names)[WT_NAME_MAX],
                        uint8_t **owned) {
    int n = 0;
    for (int i = 0; i < m->count; i++) {
        char parts[WT_MAX_PARTS][WT_NAME_MAX];
        bool swap;
        int  k = wt_flux_diffusers_names(m->names[i], parts, &swap);
        th_check(k > 0, "%s has a diffusers name", m->names[i]);
        const struct wt_tensor *t = &m->t[i];
        int64_t                 cols = t->ndim == 2 ? t->shape[1] : 1, row0 = 0;
        for (int p = 0; p < k; p++) {
            int64_t rows = k == 1 ? t->shape[0] : p < 3 ? H : t->shape[0] - 3 * H;
            size_t  bytes = (size_t)(rows * cols * 2);
            owned[n] = malloc(bytes);
            memcpy(owned[n], (const uint8_t *)t->data + row0 * cols * 2, bytes);
            if (swap) { /* exchange the halves */
                memcpy(owned[n], (const uint8_t *)t->data + bytes / 2, bytes / 2);
                memcpy(owned[n] + bytes / 2, t->data, bytes / 2);
            }
            snprintf(names[n], WT_NAME_MAX, "%s", parts[p]);
            out[n] = *t;
            out[n].name = names[n], out[n].shape[0] = rows, out[n].data = owned[n],
            out[n].bytes = bytes;
            n++, row0 += rows;
        }
    }
    return n;
}

static void check_model(const char *what, const char *path, enum wt_flux_layout want_layout,
                        const struct model *m, bool exact) {
    struct wt_file *f = NULL;
    struct lw_error err = {0};
    if (!th_check(wt_open(path, &f, &err) == LW_OK, "%s: open: %s", what, err.message)) return;
    th_check(wt_flux_layout(f) == want_layout, "%s: layout %s", what,
             wt_flux_layout_name(wt_flux_layout(f)));
    int good = 0;
    for (int i = 0; i < m->count; i++) {
        struct wt_parts p;
        uint64_t        n = m->t[i].ndim == 2 ? (uint64_t)(m->t[i].shape[0] * m->t[i].shape[1])
                                              : (uint64_t)m->t[i].shape[0];
        if (!th_check(wt_flux_resolve(f, m->names[i], &p, &err) == LW_OK, "%s: %s: %s", what,
                      m->names[i], err.message))
            continue;
        bool ok = p.ndim == m->t[i].ndim && p.shape[0] == m->t[i].shape[0] &&
                  (p.ndim == 1 || p.shape[1] == m->t[i].shape[1]);
        float *got = malloc(n * sizeof *got);
        ok = ok && wt_parts_read_f32(&p, got, n, &err) == LW_OK;
        if (exact) {
            ok = ok && !memcmp(got, m->values[i], n * 4);
            uint8_t *bytes = malloc(p.bytes);
            ok = ok && wt_parts_copy(&p, bytes, p.bytes, &err) == LW_OK &&
                 !memcmp(bytes, m->bf16[i], n * 2);
            free(bytes);
        } else {
            ok = ok && th_rel_l2(got, m->values[i], n) < 0.01;
        }
        good += th_check(ok, "%s: %s reads back (%d parts%s)", what, m->names[i], p.count,
                         p.swap_halves ? ", swapped" : "");
        free(got);
    }
    printf("%-28s %d of %d BFL tensors resolved\n", what, good, m->count);
    struct wt_parts p;
    th_check(wt_flux_resolve(f, "double_blocks.7.img_attn.qkv.weight", &p, &err) ==
                     LW_ERR_MISSING &&
                 strstr(err.message, "blocks.7") && strstr(err.message, dir),
             "%s: a missing tensor is named with its file: %s", what, err.message);
    wt_close(f);
}

static void lorweb_keys(void) {
    struct {
        const char *key, *bfl, *part;
        int64_t     row0, rows;
    } cases[] = {
        {"transformer.transformer_blocks.3.attn.to_k.lora_A", "double_blocks.3.img_attn.qkv.weight",
         "lora_A", 96, 96},
        {"transformer.transformer_blocks.0.attn.add_v_proj.lora_B",
         "double_blocks.0.txt_attn.qkv.weight", "lora_B", 192, 96},
        {"transformer.transformer_blocks.18.norm1_context.linear.lora_keys",
         "double_blocks.18.txt_mod.lin.weight", "lora_keys", 0, -1},
        {"transformer.transformer_blocks.2.ff_context.net.2.att_lora_to_q.weight",
         "double_blocks.2.txt_mlp.2.weight", "att_lora_to_q", 0, -1},
        {"transformer.transformer_blocks.2.attn.to_out.0.lora_A.weight",
         "double_blocks.2.img_attn.proj.weight", "lora_A", 0, -1},
        {"transformer.single_transformer_blocks.37.proj_mlp.lora_A",
         "single_blocks.37.linear1.weight", "lora_A", 288, -1},
        {"transformer.single_transformer_blocks.1.attn.to_v.lora_B",
         "single_blocks.1.linear1.weight", "lora_B", 192, 96},
        {"transformer.single_transformer_blocks.5.proj_out.lora_B",
         "single_blocks.5.linear2.weight", "lora_B", 0, -1},
        {"single_transformer_blocks.5.norm.linear", "single_blocks.5.modulation.lin.weight", "", 0,
         -1},
    };
    struct lw_error err = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct wt_lorweb_target t;
        enum lw_status          st = wt_lorweb_target(cases[i].key, 96, &t, &err);
        th_check(st == LW_OK && !strcmp(t.bfl, cases[i].bfl) && !strcmp(t.part, cases[i].part) &&
                     t.row0 == cases[i].row0 && t.rows == cases[i].rows,
                 "LoRWeB %s → %s rows %lld+%lld part %s (got %s %lld+%lld %s)", cases[i].key,
                 cases[i].bfl, (long long)cases[i].row0, (long long)cases[i].rows, cases[i].part,
                 t.bfl, (long long)t.row0, (long long)t.rows, t.part);
    }
    const char *bad[] = {"transformer.x_embedder.lora_A",
                         "transformer.norm_out.linear.lora_A",
                         "transformer.transformer_blocks.3.attn.norm_q.lora_A",
                         "transformer.transformer_blocks.03.attn.to_q.lora_A",
                         "transformer.transformer_blocks.attn.to_q",
                         "transformer.proj_out.lora_B",
                         "nonsense"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct wt_lorweb_target t;
        th_check(wt_lorweb_target(bad[i], 96, &t, &err) == LW_ERR_FORMAT &&
                     strstr(err.message, bad[i]),
                 "LoRWeB key %s refused: %s", bad[i], err.message);
    }
}

/* Every module of the fixture checkpoint maps onto a weight of the fixture transformer whose rows
 * and columns fit its lora_B / lora_A. */
static void lorweb_fixture(const char *fx) {
    char            path[4200];
    struct wt_file *flux = NULL, *lw = NULL;
    struct lw_error err = {0};
    snprintf(path, sizeof path, "%s/flux_weights.safetensors", fx);
    wt_open(path, &flux, &err);
    snprintf(path, sizeof path, "%s/lorweb_weights.safetensors", fx);
    wt_open(path, &lw, &err);
    if (!th_check(flux && lw, "fixtures open: %s", err.message)) return;
    int64_t hidden = wt_find(flux, "img_in.weight")->shape[0];
    int     modules = 0, good = 0;
    for (size_t i = 0; i < wt_count(lw); i++) {
        const struct wt_tensor *b = wt_at(lw, i);
        struct wt_lorweb_target t;
        if (!strstr(b->name, ".lora_B")) continue;
        modules++;
        if (!th_check(wt_lorweb_target(b->name, hidden, &t, &err) == LW_OK, "%s: %s", b->name,
                      err.message))
            continue;
        char a_name[WT_NAME_MAX + 32];
        snprintf(a_name, sizeof a_name, "transformer.%s.lora_A", t.module);
        const struct wt_tensor *w = wt_find(flux, t.bfl), *a = wt_find(lw, a_name);
        int64_t                 rows = w ? (t.rows < 0 ? w->shape[0] - t.row0 : t.rows) : -1;
        good += th_check(w && a && b->ndim == 3 && b->shape[2] == rows &&
                             a->shape[1] == w->shape[1] && t.row0 + rows <= w->shape[0],
                         "%s → %s rows %lld+%lld fits", t.module, t.bfl, (long long)t.row0,
                         (long long)rows);
    }
    printf("LoRWeB fixture: %d of %d modules map onto the transformer\n", good, modules);
    th_check(modules == 40, "40 modules in the fixture checkpoint (%d)", modules);
    wt_close(flux);
    wt_close(lw);
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    struct th_rng rng;
    th_rng_seed(&rng, 11);
    printf("seed 11\n");
    struct model m = {0};
    make_bfl(&m, &rng);
    struct lw_error err = {0};
    char            path[512];

    snprintf(path, sizeof path, "%s/bfl.safetensors", dir);
    wt_write_safetensors(path, m.t, (size_t)m.count, NULL, &err);
    check_model("BFL safetensors", path, WT_FLUX_BFL, &m, true);

    struct wt_tensor comfy[MAX_T];
    char             comfy_names[MAX_T][WT_NAME_MAX + 32];
    for (int i = 0; i < m.count; i++) {
        comfy[i] = m.t[i];
        snprintf(comfy_names[i], sizeof comfy_names[i], "model.diffusion_model.%s", m.names[i]);
        comfy[i].name = comfy_names[i];
    }
    snprintf(path, sizeof path, "%s/comfy.safetensors", dir);
    wt_write_safetensors(path, comfy, (size_t)m.count, NULL, &err);
    check_model("ComfyUI safetensors", path, WT_FLUX_COMFY, &m, true);

    /* diffusers: two shards and an index, as in transformer/ of the Hugging Face repo */
    struct wt_tensor d[2 * MAX_T];
    char             d_names[2 * MAX_T][WT_NAME_MAX];
    uint8_t         *owned[2 * MAX_T];
    int              nd = to_diffusers(&m, d, d_names, owned);
    char             tdir[512], shard[600], index[600];
    snprintf(tdir, sizeof tdir, "%s/transformer", dir);
    mkdir(tdir, 0755);
    FILE *idx =
        (snprintf(index, sizeof index, "%s/diffusion_pytorch_model.safetensors.index.json", tdir),
         fopen(index, "w"));
    fprintf(idx, "{\"metadata\": {}, \"weight_map\": {");
    for (int s = 0; s < 2; s++) {
        int lo = s ? nd / 2 : 0, hi = s ? nd : nd / 2;
        snprintf(shard, sizeof shard, "%s/diffusion_pytorch_model-0000%d-of-00002.safetensors",
                 tdir, s + 1);
        wt_write_safetensors(shard, d + lo, (size_t)(hi - lo), NULL, &err);
        for (int i = lo; i < hi; i++)
            fprintf(idx, "%s\"%s\": \"diffusion_pytorch_model-0000%d-of-00002.safetensors\"",
                    i ? ", " : "", d_names[i], s + 1);
    }
    fprintf(idx, "}}\n");
    fclose(idx);
    check_model("diffusers folder + index", tdir, WT_FLUX_DIFFUSERS, &m, true);

    /* A split part missing, and parts that do not fit together. */
    snprintf(path, sizeof path, "%s/broken.safetensors", dir);
    for (int i = 0; i < nd; i++)
        if (!strcmp(d_names[i], "transformer_blocks.0.attn.to_k.weight")) d[i].name = "renamed";
    for (int i = 0; i < nd; i++)
        if (!strcmp(d_names[i], "single_transformer_blocks.0.attn.to_v.weight"))
            d[i].dtype = LW_DTYPE_F16;
    wt_write_safetensors(path, d, (size_t)nd, NULL, &err);
    struct wt_file *f = NULL;
    struct wt_parts p;
    if (th_check(wt_open(path, &f, &err) == LW_OK, "broken diffusers: %s", err.message)) {
        th_check(wt_flux_resolve(f, "double_blocks.0.img_attn.qkv.weight", &p, &err) ==
                         LW_ERR_MISSING &&
                     strstr(err.message, "transformer_blocks.0.attn.to_k.weight") &&
                     strstr(err.message, "broken"),
                 "missing part named: %s", err.message);
        th_check(wt_flux_resolve(f, "single_blocks.0.linear1.weight", &p, &err) == LW_ERR_DTYPE &&
                     strstr(err.message, "to_v"),
                 "parts of different dtypes refused: %s", err.message);
        th_check(wt_flux_resolve(f, "double_blocks.0.img_attn.qkv.bias", &p, &err) == LW_OK &&
                     p.count == 3,
                 "the biases still resolve");
        wt_close(f);
    }
    for (int i = 0; i < nd; i++)
        free(owned[i]);

    /* GGUF with BFL names (as the published FLUX GGUFs): 2-D weights Q8_0, the rest F32. */
    struct th_gguf g;
    th_gguf_init(&g, 3);
    th_gguf_kv_str(&g, "general.architecture", "flux");
    for (int i = 0; i < m.count; i++) {
        const struct wt_tensor *t = &m.t[i];
        uint64_t n = t->ndim == 2 ? (uint64_t)(t->shape[0] * t->shape[1]) : (uint64_t)t->shape[0];
        bool     q = t->ndim == 2 && t->shape[1] % 32 == 0;
        uint8_t *bytes = malloc(n * 4);
        float   *approx = malloc(n * 4);
        th_quantize(q ? LW_DTYPE_Q8_0 : LW_DTYPE_F32, m.values[i], n, bytes, approx);
        th_gguf_tensor(&g, m.names[i], q ? 8 : 0, t->ndim, t->shape, bytes,
                       lw_dtype_bytes(q ? LW_DTYPE_Q8_0 : LW_DTYPE_F32, n));
        free(bytes), free(approx);
    }
    size_t   len;
    uint8_t *bytes = th_gguf_finish(&g, &len);
    snprintf(path, sizeof path, "%s/flux-q8_0.gguf", dir);
    th_write_file(path, bytes, len);
    free(bytes);
    check_model("GGUF Q8_0 (BFL names)", path, WT_FLUX_BFL, &m, false);

    lorweb_keys();
    const char *fx = th_fixtures_dir();
    if (fx)
        lorweb_fixture(fx);
    else
        printf("fixtures not found: the LoRWeB fixture check is skipped\n");

    for (int i = 0; i < m.count; i++)
        free(m.values[i]), free(m.bf16[i]);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return th_finish();
}
