/* st_convert FORMAT IN.safetensors OUT
 * Rewrites a BFL-named FLUX transformer (or a T5 encoder) in another layout users have, for
 * tests/formats.sh:
 *   comfy      OUT.safetensors with every name prefixed `model.diffusion_model.`
 *   diffusers  OUT/ folder: diffusers names (q/k/v and linear1 split, norm_out halves swapped), two
 *              shards and a diffusion_pytorch_model.safetensors.index.json
 *   gguf       OUT.gguf, BFL names, dtypes kept (F32/F16/BF16), metadata as string key/values
 *   gguf-q8    the same with every 2-D weight whose rows are whole blocks stored Q8_0
 *   gguf-t5, gguf-t5-q8   a T5 encoder (HF names in) as GGUF with llama.cpp's tensor names
 * Exits 0 on success, 1 on errors (printed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "names_flux.h"
#include "quantize.h"

static int fail(const char *what) {
    fprintf(stderr, "st_convert: %s\n", what);
    return 1;
}

static int diffusers(const struct wt_file *f, const char *out) {
    size_t            n = wt_count(f), count = 0;
    struct wt_tensor *t = calloc(4 * n + 1, sizeof *t);
    char(*names)[WT_NAME_MAX] = calloc(4 * n + 1, sizeof *names);
    uint8_t **owned = calloc(4 * n + 1, sizeof *owned);
    int64_t   hidden = wt_find(f, "img_in.weight") ? wt_find(f, "img_in.weight")->shape[0] : 0;
    if (!t || !names || !owned || !hidden) return fail("no img_in.weight, or out of memory");
    for (size_t i = 0; i < n; i++) {
        const struct wt_tensor *src = wt_at(f, i);
        char                    parts[WT_MAX_PARTS][WT_NAME_MAX];
        bool                    swap;
        int                     k = wt_flux_diffusers_names(src->name, parts, &swap);
        if (k == 0) {
            fprintf(stderr, "st_convert: %s has no diffusers name\n", src->name);
            return 1;
        }
        uint64_t row_bytes = src->shape[0] ? src->bytes / (uint64_t)src->shape[0] : 0, row0 = 0;
        for (int p = 0; p < k; p++) {
            int64_t  rows = k == 1 ? src->shape[0] : p < 3 ? hidden : src->shape[0] - 3 * hidden;
            uint64_t bytes = (uint64_t)rows * row_bytes;
            owned[count] = malloc(bytes + 1);
            if (swap) {
                memcpy(owned[count], (const uint8_t *)src->data + bytes / 2, bytes / 2);
                memcpy(owned[count] + bytes / 2, src->data, bytes / 2);
            } else {
                memcpy(owned[count], (const uint8_t *)src->data + row0 * row_bytes, bytes);
            }
            snprintf(names[count], WT_NAME_MAX, "%s", parts[p]);
            t[count] = *src;
            t[count].name = names[count], t[count].shape[0] = rows;
            t[count].data = owned[count], t[count].bytes = bytes;
            count++, row0 += (uint64_t)rows;
        }
    }
    char path[4200];
    mkdir(out, 0755);
    snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors.index.json", out);
    FILE *index = fopen(path, "w");
    if (!index) return fail("cannot write the index");
    fprintf(index, "{\"metadata\": {}, \"weight_map\": {");
    struct lw_error err = {0};
    int             status = 0;
    const char *meta[64] = {0}; /* hyper-parameters in the first shard (the tiny model's axes) */
    for (size_t i = 0; i < wt_metadata_count(f) && i < 31; i++)
        meta[2 * i] = wt_metadata_key(f, i), meta[2 * i + 1] = wt_metadata(f, meta[2 * i]);
    for (int s = 0; s < 2; s++) {
        size_t lo = s ? count / 2 : 0, hi = s ? count : count / 2;
        snprintf(path, sizeof path, "%s/diffusion_pytorch_model-0000%d-of-00002.safetensors", out,
                 s + 1);
        if (wt_write_safetensors(path, t + lo, hi - lo, s ? NULL : meta, &err) != LW_OK)
            status = fail(err.message);
        for (size_t i = lo; i < hi; i++)
            fprintf(index, "%s\"%s\": \"diffusion_pytorch_model-0000%d-of-00002.safetensors\"",
                    i ? ", " : "", names[i], s + 1);
    }
    fprintf(index, "}}\n");
    fclose(index);
    for (size_t i = 0; i < count; i++)
        free(owned[i]);
    free(owned), free(names), free(t);
    return status;
}

/* A T5 encoder tensor's name as llama.cpp's GGUF files spell it ("enc.blk.N.attn_q.weight", …),
 * written from the published list independently of models/t5.c; NULL for names it has none for. */
static const char *llama_t5_name(const char *hf, char *out, size_t size) {
    static const char *const pairs[][2] = {
        {"layer.0.SelfAttention.q.weight", "attn_q"}, {"layer.0.SelfAttention.k.weight", "attn_k"},
        {"layer.0.SelfAttention.v.weight", "attn_v"}, {"layer.0.SelfAttention.o.weight", "attn_o"},
        {"layer.0.SelfAttention.relative_attention_bias.weight", "attn_rel_b"},
        {"layer.0.layer_norm.weight", "attn_norm"},   {"layer.1.DenseReluDense.wi_0.weight", "ffn_gate"},
        {"layer.1.DenseReluDense.wi_1.weight", "ffn_up"}, {"layer.1.DenseReluDense.wo.weight", "ffn_down"},
        {"layer.1.layer_norm.weight", "ffn_norm"}};
    int  block;
    char rest[160];
    if (!strcmp(hf, "shared.weight")) return "token_embd.weight";
    if (!strcmp(hf, "encoder.final_layer_norm.weight")) return "enc.output_norm.weight";
    if (sscanf(hf, "encoder.block.%d.%159s", &block, rest) == 2)
        for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
            if (!strcmp(rest, pairs[i][0])) return snprintf(out, size, "enc.blk.%d.%s.weight", block, pairs[i][1]), out;
    return NULL;
}

/* GGUF with the file's names; for T5 (`t5`) llama.cpp's names and architecture "t5encoder". */
static int gguf(const struct wt_file *f, const char *out, bool q8, bool t5) {
    struct th_gguf g;
    th_gguf_init(&g, 3);
    th_gguf_kv_str(&g, "general.architecture", t5 ? "t5encoder" : "flux");
    for (size_t i = 0; i < wt_metadata_count(f); i++)
        th_gguf_kv_str(&g, wt_metadata_key(f, i), wt_metadata(f, wt_metadata_key(f, i)));
    for (size_t i = 0; i < wt_count(f); i++) {
        const struct wt_tensor *t = wt_at(f, i);
        uint64_t                n = wt_elements(t);
        char                    renamed[200];
        const char             *name = t5 ? llama_t5_name(t->name, renamed, sizeof renamed) : t->name;
        if (!name) {
            fprintf(stderr, "st_convert: no llama.cpp name for %s\n", t->name);
            return 1;
        }
        if (q8 && t->ndim == 2 && t->shape[1] % 32 == 0) {
            float   *x = malloc(n * 4), *approx = malloc(n * 4);
            uint8_t *q = malloc(lw_dtype_bytes(LW_DTYPE_Q8_0, n));
            wt_read_f32(t, x, n, NULL);
            th_quantize(LW_DTYPE_Q8_0, x, n, q, approx);
            th_gguf_tensor(&g, name, th_ggml_type(LW_DTYPE_Q8_0), t->ndim, t->shape, q,
                           lw_dtype_bytes(LW_DTYPE_Q8_0, n));
            free(x), free(approx), free(q);
        } else {
            th_gguf_tensor(&g, name, th_ggml_type(t->dtype), t->ndim, t->shape, t->data,
                           t->bytes);
        }
    }
    size_t   len;
    uint8_t *bytes = th_gguf_finish(&g, &len);
    bool     ok = th_write_file(out, bytes, len);
    free(bytes);
    return ok ? 0 : fail("cannot write the GGUF file");
}

int main(int argc, char **argv) {
    if (argc != 4) return fail("usage: st_convert comfy|diffusers|gguf|gguf-q8|gguf-t5|gguf-t5-q8 IN OUT");
    struct wt_file *f = NULL;
    struct lw_error err = {0};
    if (wt_open(argv[2], &f, &err) != LW_OK) return fail(err.message);
    int status;
    if (!strcmp(argv[1], "diffusers")) {
        status = diffusers(f, argv[3]);
    } else if (!strcmp(argv[1], "gguf") || !strcmp(argv[1], "gguf-q8")) {
        status = gguf(f, argv[3], argv[1][4] == '-', false);
    } else if (!strcmp(argv[1], "gguf-t5") || !strcmp(argv[1], "gguf-t5-q8")) {
        status = gguf(f, argv[3], argv[1][7] == '-', true);
    } else if (!strcmp(argv[1], "comfy")) {
        size_t            n = wt_count(f);
        struct wt_tensor *t = calloc(n + 1, sizeof *t);
        char(*names)[WT_NAME_MAX + 32] = calloc(n + 1, sizeof *names);
        for (size_t i = 0; i < n; i++) {
            t[i] = *wt_at(f, i);
            snprintf(names[i], sizeof names[i], "model.diffusion_model.%s", t[i].name);
            t[i].name = names[i];
        }
        const char *meta[64] = {0};
        for (size_t i = 0; i < wt_metadata_count(f) && i < 31; i++)
            meta[2 * i] = wt_metadata_key(f, i), meta[2 * i + 1] = wt_metadata(f, meta[2 * i]);
        status = wt_write_safetensors(argv[3], t, n, meta, &err) == LW_OK ? 0 : fail(err.message);
        free(t), free(names);
    } else {
        status = fail("unknown format");
    }
    wt_close(f);
    return status;
}
