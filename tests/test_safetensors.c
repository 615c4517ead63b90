/* safetensors: round trips of every dtype we read, and malformed files that must fail with a clear
 * message naming the file or tensor (never a crash or an out-of-bounds read); the shared fixtures'
 * weight files open. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "weights.h"

static char dir[] = "/tmp/lorweb-st-XXXXXX";

static const char *tmp(const char *name) {
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

/* Writes an 8-byte length (`lie` if ≥ 0, else the true one), the header text, then `data_bytes`
 * zero bytes. */
static const char *raw(const char *name, const char *header, long lie, size_t data_bytes) {
    const char *path = tmp(name);
    FILE       *f = fopen(path, "wb");
    uint64_t    len = lie >= 0 ? (uint64_t)lie : strlen(header);
    if (lie != -2) fwrite(&len, 8, 1, f); /* -2: an empty file */
    fwrite(header, 1, strlen(header), f);
    for (size_t i = 0; i < data_bytes; i++)
        fputc(0, f);
    fclose(f);
    return path;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

static void expect_error(const char *what, const char *path, enum lw_status want,
                         const char *needle) {
    struct wt_file *f = NULL;
    struct lw_error err = {0};
    enum lw_status  st = wt_open(path, &f, &err);
    th_check(st == want && !f && strstr(err.message, needle),
             "%s: status %d (want %d), message '%s'", what, st, want, err.message);
    wt_close(f);
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    /* Round trip of every readable dtype. */
    float    f32[6] = {1.5f, -2, 0.25f, 3e5f, -1e-3f, 7};
    uint16_t f16[6], bf16[6];
    int32_t  i32[3] = {-5, 0, 49407};
    int64_t  i64[2] = {-1, 1ll << 40};
    uint8_t  f8[4] = {0x38, 0xb8, 0x7e, 0x01}; /* 1, -1, 448, 2^-9 */
    for (int i = 0; i < 6; i++)
        f16[i] = th_f32_to_f16(f32[i]), bf16[i] = th_f32_to_bf16(f32[i]);
    struct wt_tensor ts[] = {
        {.name = "a.f32",
         .dtype = LW_DTYPE_F32,
         .ndim = 2,
         .shape = {2, 3},
         .data = f32,
         .bytes = 24},
        {.name = "b.f16", .dtype = LW_DTYPE_F16, .ndim = 1, .shape = {6}, .data = f16, .bytes = 12},
        {.name = "c.bf16",
         .dtype = LW_DTYPE_BF16,
         .ndim = 3,
         .shape = {1, 2, 3},
         .data = bf16,
         .bytes = 12},
        {.name = "d.i32", .dtype = LW_DTYPE_I32, .ndim = 1, .shape = {3}, .data = i32, .bytes = 12},
        {.name = "e.i64", .dtype = LW_DTYPE_I64, .ndim = 1, .shape = {2}, .data = i64, .bytes = 16},
        {.name = "f.f8",
         .dtype = LW_DTYPE_F8_E4M3,
         .ndim = 1,
         .shape = {4},
         .data = f8,
         .bytes = 4},
        {.name = "g.empty",
         .dtype = LW_DTYPE_F32,
         .ndim = 2,
         .shape = {0, 4},
         .data = NULL,
         .bytes = 0},
    };
    const char     *meta[] = {"flux.hidden_size", "96", "note", "hello", NULL};
    struct lw_error err = {0};
    th_check(wt_write_safetensors(tmp("all.safetensors"), ts, 7, meta, &err) == LW_OK, "write: %s",
             err.message);
    struct wt_file *f = NULL;
    if (th_check(wt_open(tmp("all.safetensors"), &f, &err) == LW_OK, "open: %s", err.message)) {
        th_check(wt_count(f) == 7, "7 tensors");
        th_check(wt_metadata(f, "flux.hidden_size") &&
                     !strcmp(wt_metadata(f, "flux.hidden_size"), "96"),
                 "metadata");
        th_check(!wt_metadata(f, "missing") && !wt_find(f, "missing"), "absent names give NULL");
        float got[6];
        wt_read_f32(wt_find(f, "a.f32"), got, 6, &err);
        th_check(!memcmp(got, f32, 24), "f32 values");
        wt_read_f32(wt_find(f, "b.f16"), got, 6, &err);
        for (int i = 0; i < 6; i++)
            th_check(got[i] == th_round_f16(f32[i]), "f16 value %d", i);
        wt_read_f32(wt_find(f, "c.bf16"), got, 6, &err);
        for (int i = 0; i < 6; i++)
            th_check(got[i] == th_round_bf16(f32[i]), "bf16 value %d", i);
        wt_read_f32(wt_find(f, "d.i32"), got, 3, &err);
        th_check(got[0] == -5 && got[2] == 49407, "i32 values");
        wt_read_f32(wt_find(f, "e.i64"), got, 2, &err);
        th_check(got[0] == -1 && got[1] == (float)(1ll << 40), "i64 values");
        wt_read_f32(wt_find(f, "f.f8"), got, 4, &err);
        th_check(got[0] == 1 && got[1] == -1 && got[2] == 448 && got[3] == 1.0f / 512,
                 "f8 values %g %g %g %g", got[0], got[1], got[2], got[3]);
        th_check(wt_read_f32(wt_find(f, "a.f32"), got, 5, &err) == LW_ERR_SHAPE &&
                     strstr(err.message, "a.f32"),
                 "wrong count refused: %s", err.message);
        wt_close(f);
    }
    /* A folder of shards reads as one file. */
    char shard_dir[300];
    snprintf(shard_dir, sizeof shard_dir, "%s/shards", dir);
    mkdir(shard_dir, 0755);
    char p1[400], p2[400];
    snprintf(p1, sizeof p1, "%s/model-00001-of-00002.safetensors", shard_dir);
    snprintf(p2, sizeof p2, "%s/model-00002-of-00002.safetensors", shard_dir);
    wt_write_safetensors(p1, ts, 2, meta, &err);
    wt_write_safetensors(p2, ts + 2, 3, NULL, &err);
    if (th_check(wt_open(shard_dir, &f, &err) == LW_OK, "open shards: %s", err.message)) {
        th_check(wt_count(f) == 5 && wt_find(f, "e.i64") && wt_find(f, "a.f32"),
                 "both shards present");
        wt_close(f);
    }
    wt_write_safetensors(p2, ts, 1, NULL, &err);
    expect_error("duplicate across shards", shard_dir, LW_ERR_FORMAT, "twice");
    wt_write_safetensors(p2, ts + 2, 3, NULL, &err);

    /* With an index, only the shards it names are read, and each tensor must be where it says. */
    char idx[400], stray[400];
    snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", shard_dir);
    snprintf(stray, sizeof stray, "%s/unrelated.safetensors", shard_dir);
    wt_write_safetensors(stray, ts, 1, NULL,
                         &err); /* a duplicate a.f32, ignored through the index */
    write_text(idx, "{\"metadata\": {\"total_size\": 76}, \"weight_map\": {"
                    "\"a.f32\": \"model-00001-of-00002.safetensors\", \"b.f16\": "
                    "\"model-00001-of-00002.safetensors\","
                    "\"c.bf16\": \"model-00002-of-00002.safetensors\", \"d.i32\": "
                    "\"model-00002-of-00002.safetensors\","
                    "\"e.i64\": \"model-00002-of-00002.safetensors\"}}");
    const char *via[] = {shard_dir, idx};
    for (int k = 0; k < 2; k++)
        if (th_check(wt_open(via[k], &f, &err) == LW_OK, "open through the index (%s): %s", via[k],
                     err.message)) {
            th_check(wt_count(f) == 5 && wt_file_count(f) == 2 &&
                         !strcmp(wt_format(f), "safetensors"),
                     "index: 5 tensors in 2 shards");
            float got[6];
            th_check(wt_read_f32(wt_find(f, "c.bf16"), got, 6, &err) == LW_OK &&
                         got[1] == th_round_bf16(f32[1]),
                     "index: values");
            th_check(wt_metadata(f, "flux.hidden_size") != NULL, "index: shard metadata");
            wt_close(f);
        }
    write_text(idx, "{\"weight_map\": {\"a.f32\": \"model-00002-of-00002.safetensors\"}}");
    expect_error("index points at the wrong shard", idx, LW_ERR_MISSING, "a.f32");
    write_text(idx, "{\"weight_map\": {\"zz\": \"model-00001-of-00002.safetensors\"}}");
    expect_error("index names a missing tensor", shard_dir, LW_ERR_MISSING, "tensor zz");
    write_text(idx, "{\"weight_map\": {\"a.f32\": \"../all.safetensors\"}}");
    expect_error("index shard outside the folder", idx, LW_ERR_FORMAT, "a.f32");
    write_text(idx, "{\"weight_map\": {\"a.f32\": \"gone.safetensors\"}}");
    expect_error("index shard absent", idx, LW_ERR_FILE, "gone.safetensors");
    write_text(idx, "{\"weight_map\": [1]}");
    expect_error("index without a weight_map object", idx, LW_ERR_FORMAT, "weight_map");
    char idx2[400];
    snprintf(idx2, sizeof idx2, "%s/other.safetensors.index.json", shard_dir);
    write_text(idx2, "{}");
    expect_error("two indexes in a folder", shard_dir, LW_ERR_FORMAT, "index.json");

    /* ComfyUI's scaled fp8: `X.scale_weight` multiplies `X.weight`. */
    float            half_scale = 0.5f;
    struct wt_tensor scaled[] = {
        {.name = "m.weight",
         .dtype = LW_DTYPE_F8_E4M3,
         .ndim = 2,
         .shape = {2, 2},
         .data = f8,
         .bytes = 4},
        {.name = "m.scale_weight",
         .dtype = LW_DTYPE_F32,
         .ndim = 0,
         .data = &half_scale,
         .bytes = 4},
    };
    wt_write_safetensors(tmp("fp8.safetensors"), scaled, 2, NULL, &err);
    if (th_check(wt_open(tmp("fp8.safetensors"), &f, &err) == LW_OK, "fp8: %s", err.message)) {
        float got[4];
        wt_read_f32(wt_find(f, "m.weight"), got, 4, &err);
        th_check(got[0] == 0.5f && got[2] == 224 && wt_find(f, "m.weight")->scale == 0.5f,
                 "scaled fp8 values");
        wt_close(f);
    }
    struct wt_tensor q = {
        .name = "q", .dtype = LW_DTYPE_Q8_0, .ndim = 1, .shape = {32}, .data = f8, .bytes = 34};
    th_check(wt_write_safetensors(tmp("q.safetensors"), &q, 1, NULL, &err) == LW_ERR_DTYPE,
             "no Q8_0 in safetensors");
    q = (struct wt_tensor){
        .name = "q", .dtype = LW_DTYPE_F32, .ndim = 1, .shape = {3}, .data = f32, .bytes = 8};
    th_check(wt_write_safetensors(tmp("q.safetensors"), &q, 1, NULL, &err) == LW_ERR_ARGUMENT &&
                 strstr(err.message, "tensor q"),
             "writer refuses bytes that disagree with the shape");
    wt_close(NULL);

    /* Malformed files. */
    const char *ok_entry = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    expect_error("missing file", tmp("nope.safetensors"), LW_ERR_FILE, "nope");
    expect_error("too short", raw("short.safetensors", "", 0, 0), LW_ERR_FORMAT, "short");
    expect_error("header longer than file", raw("lie.safetensors", ok_entry, 1 << 20, 8),
                 LW_ERR_FORMAT, "header length");
    expect_error("truncated data", raw("trunc.safetensors", ok_entry, -1, 4), LW_ERR_FORMAT,
                 "tensor w");
    expect_error("bad JSON", raw("json.safetensors", "{\"w\": [", -1, 8), LW_ERR_FORMAT, "JSON");
    expect_error("unknown dtype",
                 raw("dtype.safetensors",
                     "{\"w\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[0,8]}}", -1, 8),
                 LW_ERR_DTYPE, "C64");
    expect_error("size mismatch",
                 raw("size.safetensors",
                     "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", -1, 8),
                 LW_ERR_FORMAT, "tensor w");
    expect_error("reversed offsets",
                 raw("rev.safetensors",
                     "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", -1, 8),
                 LW_ERR_FORMAT, "data_offsets");
    expect_error("overlap",
                 raw("overlap.safetensors",
                     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                     -1, 12),
                 LW_ERR_FORMAT, "overlap");
    expect_error("huge shape",
                 raw("huge.safetensors",
                     "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],\"data_"
                     "offsets\":[0,8]}}",
                     -1, 8),
                 LW_ERR_FORMAT, "tensor w");
    expect_error("negative dim",
                 raw("neg.safetensors",
                     "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", -1, 8),
                 LW_ERR_FORMAT, "shape");
    expect_error("missing fields", raw("fields.safetensors", "{\"w\":{\"dtype\":\"F32\"}}", -1, 8),
                 LW_ERR_FORMAT, "tensor w");
    expect_error("not an object", raw("array.safetensors", "[1,2,3]", -1, 8), LW_ERR_FORMAT,
                 "JSON object");
    expect_error("empty file", raw("empty.safetensors", "", -2, 0), LW_ERR_FORMAT,
                 "empty.safetensors");
    expect_error("offsets not integers",
                 raw("frac.safetensors",
                     "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0.5,8.5]}}", -1, 9),
                 LW_ERR_FORMAT, "tensor w");
    expect_error("offsets as strings",
                 raw("str.safetensors",
                     "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[\"0\",\"8\"]}}", -1,
                     8),
                 LW_ERR_FORMAT, "tensor w");
    expect_error(
        "too many dimensions",
        raw("dims.safetensors",
            "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]}}", -1,
            8),
        LW_ERR_FORMAT, "dimensions");
    expect_error("metadata key twice",
                 raw("meta2.safetensors", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", -1, 0),
                 LW_ERR_FORMAT, "metadata key k");
    { /* found by fuzz_safetensors: metadata holding no string values sorted an empty (NULL) list */
        struct wt_file *f = NULL;
        struct lw_error err = {0};
        enum lw_status  st = wt_open(raw("meta3.safetensors", "{\"__metadata__\":{\"e\":[5]},"
                                         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", -1, 4),
                                     &f, &err);
        th_check(st == LW_OK || (st == LW_ERR_FORMAT && strstr(err.message, "meta3")),
                 "non-string metadata: status %d, '%s'", st, err.message);
        wt_close(f);
    }
    expect_error("overlap hidden behind a long tensor",
                 raw("overlap3.safetensors",
                     "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
                     "\"c\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}",
                     -1, 16),
                 LW_ERR_FORMAT, "overlap");

    /* The shared fixtures' weight files. */
    const char *fx = th_fixtures_dir();
    if (!fx) {
        printf("fixtures not found: fixture files skipped\n");
    } else {
        /* every *_weights file, plus two input files */
        DIR           *d = opendir(fx);
        struct dirent *e;
        int            seen = 0;
        while (d && (e = readdir(d))) {
            size_t n = strlen(e->d_name);
            if (n < 20 || strcmp(e->d_name + n - 20, "_weights.safetensors")) continue;
            char path[4200];
            snprintf(path, sizeof path, "%s/%s", fx, e->d_name);
            seen++;
            th_check(wt_open(path, &f, &err) == LW_OK && wt_count(f) > 0, "fixture %s: %s",
                     e->d_name, err.message);
            for (size_t i = 0; f && i < wt_count(f); i++) {
                const struct wt_tensor *t = wt_at(f, i);
                float                  *v = malloc((wt_elements(t) + 1) * sizeof *v);
                bool                    ok = wt_read_f32(t, v, wt_elements(t), &err) == LW_OK;
                for (uint64_t k = 0; ok && k < wt_elements(t); k++)
                    ok = v[k] == v[k] && v[k] - v[k] == 0;
                free(v);
                if (!th_check(ok, "fixture %s: tensor %s reads as finite floats", e->d_name,
                              t->name))
                    break;
            }
            if (f && !strcmp(e->d_name, "flux_weights.safetensors")) {
                const struct wt_tensor *t = wt_find(f, "img_in.weight");
                th_check(t && t->dtype == LW_DTYPE_BF16 && t->shape[0] == 96 && t->shape[1] == 64,
                         "img_in.weight is BF16 [96, 64]");
                th_check(wt_metadata(f, "flux.hidden_size") &&
                             !strcmp(wt_metadata(f, "flux.hidden_size"), "96"),
                         "flux metadata");
            }
            wt_close(f);
            f = NULL;
        }
        if (d) closedir(d);
        th_check(seen >= 6, "%d fixture weight files found", seen);
        const char *inputs[] = {"flux_in", "sample_out"};
        for (size_t i = 0; i < 2; i++) {
            char path[4200];
            snprintf(path, sizeof path, "%s/%s.safetensors", fx, inputs[i]);
            th_check(wt_open(path, &f, &err) == LW_OK && wt_count(f) > 0, "fixture %s: %s",
                     inputs[i], err.message);
            wt_close(f);
            f = NULL;
        }
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return th_finish();
}
