/* GGUF: files of every dtype we read (quantised ones made by the test's own quantiser) read back to
 * the values their codes stand for, close to the originals within each format's quantisation error;
 * key/values of every type render as documented; malformed files (every truncation of a small file,
 * lying offsets, bad alignment, unknown types, overflowing shapes) fail with a message naming the
 * file and tensor or key, never a crash. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "quantize.h"
#include "weights.h"

static char dir[] = "/tmp/lorweb-gguf-XXXXXX";

static const char *tmp(const char *name) {
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static const char *write_gguf(const char *name, struct th_gguf *g) {
    size_t   len;
    uint8_t *bytes = th_gguf_finish(g, &len);
    th_write_file(tmp(name), bytes, len);
    free(bytes);
    return tmp(name);
}

static void expect_error(const char *what, const char *path, enum lw_status want,
                         const char *needle) {
    struct wt_file *f = NULL;
    struct lw_error err = {0};
    enum lw_status  st = wt_open(path, &f, &err);
    th_check(st == want && !f && strstr(err.message, needle) && strstr(err.message, dir),
             "%s: status %d (want %d), message '%s'", what, st, want, err.message);
    wt_close(f);
}

/* Quantisation error bound (relative L2 of the codes' values against the originals) for normal
 * data. */
struct case_ {
    enum lw_dtype dtype;
    int64_t       rows, cols;
    double        max_rel;
};

static const struct case_ cases[] = {
    {LW_DTYPE_F32, 7, 3, 0},       {LW_DTYPE_F16, 5, 13, 1e-3},   {LW_DTYPE_BF16, 1, 17, 8e-3},
    {LW_DTYPE_I32, 3, 1, 0},       {LW_DTYPE_I64, 2, 2, 0},       {LW_DTYPE_Q8_0, 3, 64, 0.01},
    {LW_DTYPE_Q4_0, 5, 32, 0.15},  {LW_DTYPE_Q4_1, 2, 96, 0.12},  {LW_DTYPE_Q5_0, 3, 64, 0.07},
    {LW_DTYPE_Q5_1, 7, 32, 0.06},  {LW_DTYPE_Q4_K, 3, 512, 0.12}, {LW_DTYPE_Q5_K, 2, 256, 0.06},
    {LW_DTYPE_Q6_K, 5, 256, 0.03},
};
#define CASES (sizeof cases / sizeof cases[0])

int main(void) {
    if (!mkdtemp(dir)) return 1;
    struct th_rng rng;
    th_rng_seed(&rng, 4);
    printf("seed 4\n");
    struct lw_error err = {0};
    struct wt_file *f = NULL;

    /* One file with a tensor of every dtype and key/values of every type, at two alignments and
     * both versions. */
    float   *orig[CASES], *approx[CASES];
    uint8_t *stored[CASES];
    for (size_t c = 0; c < CASES; c++) {
        size_t n = (size_t)(cases[c].rows * cases[c].cols);
        orig[c] = malloc(n * sizeof(float)), approx[c] = malloc(n * sizeof(float));
        stored[c] = malloc(lw_dtype_bytes(cases[c].dtype, n) + 1);
        th_fill_normal(&rng, orig[c], n, 1.0f);
        if (cases[c].dtype == LW_DTYPE_I32 || cases[c].dtype == LW_DTYPE_I64)
            for (size_t i = 0; i < n; i++)
                orig[c][i] = roundf(orig[c][i] * 1000);
        th_quantize(cases[c].dtype, orig[c], n, stored[c], approx[c]);
    }
    for (int variant = 0; variant < 3; variant++) {
        uint32_t       version = variant == 2 ? 2 : 3, alignment = variant == 1 ? 64 : 32;
        struct th_gguf g;
        th_gguf_init(&g, version);
        th_gguf_kv_str(&g, "general.architecture", "flux");
        if (variant == 1) th_gguf_kv_u32(&g, "general.alignment", alignment);
        uint8_t u8 = 200;
        int16_t i16 = -300;
        float   f32 = 0.5f;
        double  f64 = -2.25;
        int64_t i64 = -5000000000ll;
        uint8_t yes = 1;
        th_gguf_kv(&g, "t.u8", TH_GGUF_U8, &u8, 1);
        th_gguf_kv(&g, "t.i16", TH_GGUF_I16, &i16, 2);
        th_gguf_kv(&g, "t.f32", TH_GGUF_F32, &f32, 4);
        th_gguf_kv(&g, "t.f64", TH_GGUF_F64, &f64, 8);
        th_gguf_kv(&g, "t.i64", TH_GGUF_I64, &i64, 8);
        th_gguf_kv(&g, "t.bool", TH_GGUF_BOOL, &yes, 1);
        struct th_buf a = {0}; /* [1, 2, 3] as i32 */
        th_buf_u32(&a, TH_GGUF_I32);
        th_buf_u64(&a, 3);
        for (int32_t v = 1; v <= 3; v++)
            th_buf_put(&a, &v, 4);
        th_gguf_kv(&g, "t.ints", TH_GGUF_ARRAY, a.p, a.len);
        a.len = 0; /* ["a", "b\"q\n"] */
        th_buf_u32(&a, TH_GGUF_STRING);
        th_buf_u64(&a, 2);
        th_buf_str(&a, "a");
        th_buf_str(&a, "b\"q\n");
        th_gguf_kv(&g, "t.strs", TH_GGUF_ARRAY, a.p, a.len);
        a.len = 0; /* [[true], []] */
        th_buf_u32(&a, TH_GGUF_ARRAY);
        th_buf_u64(&a, 2);
        th_buf_u32(&a, TH_GGUF_BOOL);
        th_buf_u64(&a, 1);
        th_buf_put(&a, &yes, 1);
        th_buf_u32(&a, TH_GGUF_F32);
        th_buf_u64(&a, 0);
        th_gguf_kv(&g, "t.nested", TH_GGUF_ARRAY, a.p, a.len);
        free(a.p);
        for (size_t c = 0; c < CASES; c++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%zu.%s.weight", c,
                     lw_dtype_info(cases[c].dtype)->name);
            th_gguf_tensor(
                &g, name, th_ggml_type(cases[c].dtype), 2,
                (int64_t[]){cases[c].rows, cases[c].cols}, stored[c],
                lw_dtype_bytes(cases[c].dtype, (uint64_t)(cases[c].rows * cases[c].cols)));
        }
        int64_t one = 1;
        float   scalar = 3.0f;
        th_gguf_tensor(&g, "scalar", 0, 1, &one, &scalar, 4);
        const char *path = write_gguf("all.gguf", &g);
        if (!th_check(wt_open(path, &f, &err) == LW_OK, "v%u align %u: %s", version, alignment,
                      err.message))
            continue;
        th_check(!strcmp(wt_format(f), "gguf") && wt_count(f) == CASES + 1, "v%u: %zu tensors",
                 version, wt_count(f));
        const struct {
            const char *key, *want;
        } kv[] = {
            {"general.architecture", "flux"},
            {"t.u8", "200"},
            {"t.i16", "-300"},
            {"t.f32", "0.5"},
            {"t.f64", "-2.25"},
            {"t.i64", "-5000000000"},
            {"t.bool", "true"},
            {"t.ints", "[1,2,3]"},
            {"t.strs", "[\"a\",\"b\\\"q\\u000a\"]"},
            {"t.nested", "[[true],[]]"},
        };
        for (size_t k = 0; k < sizeof kv / sizeof kv[0]; k++)
            th_check(wt_metadata(f, kv[k].key) && !strcmp(wt_metadata(f, kv[k].key), kv[k].want),
                     "v%u: %s = '%s' (want '%s')", version, kv[k].key,
                     wt_metadata(f, kv[k].key) ? wt_metadata(f, kv[k].key) : "(absent)",
                     kv[k].want);
        for (size_t c = 0; c < CASES; c++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%zu.%s.weight", c,
                     lw_dtype_info(cases[c].dtype)->name);
            const struct wt_tensor *t = wt_find(f, name);
            size_t                  n = (size_t)(cases[c].rows * cases[c].cols);
            if (!th_check(t && t->dtype == cases[c].dtype && t->ndim == 2 &&
                              t->shape[0] == cases[c].rows && t->shape[1] == cases[c].cols,
                          "%s: dtype and shape (outermost first)", name))
                continue;
            th_check((uintptr_t)t->data % alignment == 0, "%s: data aligned to %u", name,
                     alignment);
            float *got = malloc(n * sizeof *got);
            th_poison(got, n);
            th_check(wt_read_f32(t, got, n, &err) == LW_OK, "%s: read: %s", name, err.message);
            char what[96];
            snprintf(what, sizeof what, "v%u %s: values of the stored codes", version, name);
            th_check_close(what, got, approx[c], n, 1e-6, 1e-6);
            double rel = th_rel_l2(approx[c], orig[c], n);
            th_check(rel <= cases[c].max_rel, "%s: quantisation error %.3g ≤ %.3g", name, rel,
                     cases[c].max_rel);
            if (variant == 0)
                printf("%-6s rel. L2 error of the quantiser %.2e\n",
                       lw_dtype_info(cases[c].dtype)->name, rel);
            /* a row-range view of a quantised tensor reads as those rows */
            struct wt_tensor row = *t;
            uint64_t         row_bytes = lw_dtype_bytes(t->dtype, (uint64_t)t->shape[1]);
            if (t->shape[0] >= 2) {
                row.shape[0] = 1, row.data = (const uint8_t *)t->data + row_bytes,
                row.bytes = row_bytes;
                th_check(wt_read_f32(&row, got, (uint64_t)t->shape[1], &err) == LW_OK,
                         "%s: row view: %s", name, err.message);
                snprintf(what, sizeof what, "v%u %s: row 1 as a view", version, name);
                th_check_close(what, got, approx[c] + t->shape[1], (size_t)t->shape[1], 1e-6, 1e-6);
            }
            th_check(wt_read_f32(t, got, n - 1, &err) == LW_ERR_SHAPE && strstr(err.message, name),
                     "%s: a wrong count is refused", name);
            free(got);
        }
        wt_close(f);
        f = NULL;
    }
    for (size_t c = 0; c < CASES; c++)
        free(orig[c]), free(approx[c]), free(stored[c]);

    /* A small valid file, then every truncation of it. */
    struct th_gguf g;
    th_gguf_init(&g, 3);
    th_gguf_kv_str(&g, "general.name", "tiny");
    float vals[64];
    th_fill_normal(&rng, vals, 64, 1);
    uint8_t q8[68];
    float   q8v[64];
    th_quantize(LW_DTYPE_Q8_0, vals, 64, q8, q8v);
    th_gguf_tensor(&g, "a", 0, 2, (int64_t[]){2, 3}, vals, 24);
    th_gguf_tensor(&g, "b", 8, 1, (int64_t[]){64}, q8, 68);
    size_t   len;
    uint8_t *tiny = th_gguf_finish(&g, &len);
    th_write_file(tmp("tiny.gguf"), tiny, len);
    th_check(wt_open(tmp("tiny.gguf"), &f, &err) == LW_OK, "tiny: %s", err.message);
    wt_close(f);
    int refused = 0;
    for (size_t cut = 4; cut < len; cut++) {
        th_write_file(tmp("cut.gguf"), tiny, cut);
        enum lw_status st = wt_open(tmp("cut.gguf"), &f, &err);
        refused += st == LW_ERR_FORMAT && strstr(err.message, "cut.gguf") != NULL;
        wt_close(f);
        f = NULL;
    }
    th_check(refused == (int)(len - 4), "every truncation refused with the file named (%d of %zu)",
             refused, len - 4);
    /* Patched headers. */
    uint8_t *bad = malloc(len);
    memcpy(bad, tiny, len);
    bad[4] = 1;
    th_write_file(tmp("v1.gguf"), bad, len);
    expect_error("version 1", tmp("v1.gguf"), LW_ERR_FORMAT, "version 1");
    memcpy(bad, tiny, len);
    bad[4] = 0, bad[7] = 3;
    th_write_file(tmp("be.gguf"), bad, len);
    expect_error("big-endian", tmp("be.gguf"), LW_ERR_FORMAT, "big-endian");
    memcpy(bad, tiny, len);
    memset(bad + 8, 0xff, 8);
    th_write_file(tmp("count.gguf"), bad, len);
    expect_error("huge tensor count", tmp("count.gguf"), LW_ERR_FORMAT, "cannot fit");
    free(bad);
    free(tiny);

    struct {
        const char    *what, *needle;
        enum lw_status status;
        uint32_t       type;
        int            ndim;
        int64_t        shape[9];
        uint64_t       offset;
    } infos[] = {
        {"unknown ggml type", "Q2_K", LW_ERR_DTYPE, 10, 1, {256}, 0},
        {"unknown ggml type id", "unknown", LW_ERR_DTYPE, 4000, 1, {4}, 0},
        {"misaligned offset", "multiple", LW_ERR_FORMAT, 0, 1, {4}, 4},
        {"offset past the end", "outside", LW_ERR_FORMAT, 0, 1, {4}, 1 << 20},
        {"offset near 2^64", "outside", LW_ERR_FORMAT, 0, 1, {4}, ~(uint64_t)31},
        {"too long for the data", "outside", LW_ERR_FORMAT, 0, 1, {100}, 0},
        {"rows not whole blocks", "blocks", LW_ERR_FORMAT, 8, 2, {2, 33}, 0},
        {"too many dimensions", "dimensions", LW_ERR_FORMAT, 0, 9, {1, 1, 1, 1, 1, 1, 1, 1, 1}, 0},
        {"overflowing shape",
         "overflows",
         LW_ERR_FORMAT,
         0,
         3,
         {1ll << 40, 1ll << 40, 1ll << 40},
         0},
    };
    for (size_t i = 0; i < sizeof infos / sizeof infos[0]; i++) {
        th_gguf_init(&g, 3);
        th_gguf_tensor_info(&g, "victim", infos[i].type, infos[i].ndim, infos[i].shape,
                            infos[i].offset);
        th_buf_put(&g.data, vals, 64); /* 64 bytes of data */
        const char *path = write_gguf("info.gguf", &g);
        expect_error(infos[i].what, path, infos[i].status, infos[i].needle);
        if (infos[i].status == LW_ERR_DTYPE || infos[i].status == LW_ERR_FORMAT) {
            struct lw_error e2 = {0};
            wt_open(path, &f, &e2);
            th_check(strstr(e2.message, "victim") || strstr(e2.message, "dimensions"),
                     "%s names the tensor: %s", infos[i].what, e2.message);
        }
    }
    th_gguf_init(&g, 3); /* overlapping tensors */
    th_gguf_tensor_info(&g, "x", 0, 1, (int64_t[]){8}, 0);
    th_gguf_tensor_info(&g, "y", 0, 1, (int64_t[]){8}, 0);
    th_buf_put(&g.data, vals, 64);
    expect_error("overlap", write_gguf("overlap.gguf", &g), LW_ERR_FORMAT, "overlap");
    th_gguf_init(&g, 3); /* duplicate names */
    th_gguf_tensor(&g, "x", 0, 1, (int64_t[]){2}, vals, 8);
    th_gguf_tensor(&g, "x", 0, 1, (int64_t[]){2}, vals, 8);
    expect_error("duplicate tensor", write_gguf("dup.gguf", &g), LW_ERR_FORMAT, "twice");
    th_gguf_init(&g, 3); /* duplicate keys */
    th_gguf_kv_str(&g, "k", "1");
    th_gguf_kv_str(&g, "k", "2");
    expect_error("duplicate key", write_gguf("dupkey.gguf", &g), LW_ERR_FORMAT, "key k");
    th_gguf_init(&g, 3);
    th_gguf_kv_u32(&g, "general.alignment", 48);
    g.alignment = 16;
    expect_error("alignment not a power of two", write_gguf("align.gguf", &g), LW_ERR_FORMAT,
                 "power of two");
    th_gguf_init(&g, 3); /* found by fuzz_gguf: alignment 0 was divided by after the error */
    th_gguf_kv_u32(&g, "general.alignment", 0);
    g.alignment = 16;
    th_gguf_tensor(&g, "x", 0, 1, (int64_t[]){2}, vals, 8);
    expect_error("alignment 0", write_gguf("align0.gguf", &g), LW_ERR_FORMAT, "power of two");
    th_gguf_init(&g, 3);
    th_gguf_kv_str(&g, "general.alignment", "32");
    expect_error("alignment of the wrong type", write_gguf("align2.gguf", &g), LW_ERR_FORMAT,
                 "u32");
    th_gguf_init(&g, 3);
    th_gguf_kv(&g, "weird", 13, "", 0);
    expect_error("unknown value type", write_gguf("vtype.gguf", &g), LW_ERR_FORMAT, "weird");
    th_gguf_init(&g, 3);
    struct th_buf deep = {0};
    for (int i = 0; i < 12; i++)
        th_buf_u32(&deep, TH_GGUF_ARRAY), th_buf_u64(&deep, 1);
    th_buf_u32(&deep, TH_GGUF_U8), th_buf_u64(&deep, 0);
    th_gguf_kv(&g, "deep", TH_GGUF_ARRAY, deep.p, deep.len);
    free(deep.p);
    expect_error("arrays nested too deep", write_gguf("deep.gguf", &g), LW_ERR_FORMAT, "deep");
    th_gguf_init(&g, 3);
    struct th_buf lying = {0};
    th_buf_u32(&lying, TH_GGUF_STRING), th_buf_u64(&lying, 1ull << 60);
    th_gguf_kv(&g, "lying", TH_GGUF_ARRAY, lying.p, lying.len);
    free(lying.p);
    expect_error("array count beyond the file", write_gguf("lying.gguf", &g), LW_ERR_FORMAT,
                 "lying");

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return th_finish();
}
