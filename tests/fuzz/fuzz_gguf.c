/* Fuzzes the GGUF reader: any bytes must give LW_OK or a clear error, never a crash; every tensor
 * of an accepted file must dequantise within its bounds, and the FLUX name resolver must cope with
 * whatever names it holds. With LORWEB_FUZZ_SEEDS set, first writes seed files there (made by the
 * tests' GGUF writer and quantiser: every dtype and value type). */
#include <string.h>

#include "../quantize.h"
#include "fuzz_common.h"
#include "names_flux.h"
#include "weights.h"

static void seed(const char *dir, const char *name, struct th_gguf *g) {
    char     path[4096];
    size_t   len;
    uint8_t *bytes = th_gguf_finish(g, &len);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    th_write_file(path, bytes, len);
    free(bytes);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    const char *dir = getenv("LORWEB_FUZZ_SEEDS");
    if (!dir) return 0;
    static const enum lw_dtype dtypes[] = {LW_DTYPE_F32,  LW_DTYPE_F16,  LW_DTYPE_BF16, LW_DTYPE_I32,
                                           LW_DTYPE_Q8_0, LW_DTYPE_Q4_0, LW_DTYPE_Q4_1, LW_DTYPE_Q5_0,
                                           LW_DTYPE_Q5_1, LW_DTYPE_Q4_K, LW_DTYPE_Q5_K, LW_DTYPE_Q6_K};
    float   x[512], approx[512];
    uint8_t q[2048];
    for (int i = 0; i < 512; i++) x[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    struct th_gguf g;
    th_gguf_init(&g, 3);
    th_gguf_kv_str(&g, "general.architecture", "flux");
    th_gguf_kv_u32(&g, "general.alignment", 64);
    struct th_buf a = {0};
    th_buf_u32(&a, TH_GGUF_STRING), th_buf_u64(&a, 2), th_buf_str(&a, "a"), th_buf_str(&a, "b\"");
    th_gguf_kv(&g, "tokenizer.tokens", TH_GGUF_ARRAY, a.p, a.len);
    free(a.p);
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++) {
        int64_t cols = lw_dtype_info(dtypes[i])->block_elems == 256 ? 256 : 32;
        th_quantize(dtypes[i], x, (size_t)cols, q, approx);
        char name[64];
        snprintf(name, sizeof name, "double_blocks.%zu.img_attn.qkv.weight", i);
        th_gguf_tensor(&g, name, th_ggml_type(dtypes[i]), 2, (int64_t[]){1, cols}, q,
                       lw_dtype_bytes(dtypes[i], (uint64_t)cols));
    }
    seed(dir, "all.gguf", &g);
    th_gguf_init(&g, 2);
    th_gguf_tensor(&g, "img_in.weight", 0, 1, (int64_t[]){4}, x, 16);
    seed(dir, "tiny.gguf", &g);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct wt_file *f = NULL;
    struct lw_error err = {0};
    if (wt_open(fuzz_file(data, size, ".gguf"), &f, &err) != LW_OK) return 0;
    for (size_t i = 0; i < wt_count(f); i++) {
        const struct wt_tensor *t = wt_at(f, i);
        uint64_t                n = wt_elements(t);
        if (n > (1u << 20)) continue;
        float *out = malloc((n ? n : 1) * sizeof *out);
        wt_read_f32(t, out, n, &err);
        free(out);
    }
    for (size_t i = 0; i < wt_metadata_count(f); i++) wt_metadata(f, wt_metadata_key(f, i));
    struct wt_parts parts;
    if (wt_count(f) && wt_flux_resolve(f, wt_at(f, 0)->name, &parts, &err) == LW_OK) {
        uint64_t n = 1;
        for (int d = 0; d < parts.ndim; d++) n *= (uint64_t)parts.shape[d];
        if (n <= (1u << 20)) {
            float *out = malloc((n ? n : 1) * sizeof *out);
            wt_parts_read_f32(&parts, out, n, &err);
            free(out);
        }
    }
    wt_close(f);
    return 0;
}
