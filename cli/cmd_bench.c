/* `lorweb bench [--quick]`: kernel throughput on the chosen device against OpenBLAS sgemm on all
 * CPU cores, measured in the same run (a benchmark, not a test: it prints, it does not judge).
 *
 * Each row: kernel, dtype and shape, the best time of several runs, GFLOP/s, and the ratio to the
 * OpenBLAS rate at the same shape. Attention rows compare with the f32 matmul rate at a similar
 * size. OPENBLAS_CORETYPE is set to SkylakeX unless already set (Debian's OpenBLAS otherwise falls
 * back to an AVX2 kernel on this machine's CPU: perf-notes.md). On a CPU device the matmul rows
 * also give the rate of the storage-buffer kernels (the previous version, still used by real GPUs)
 * measured in the same run, from a second device that reports no texel-buffer support. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ops.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double blas_gflops(int m, int n, int k, int reps) {
    float *a = calloc((size_t)m * k, 4), *b = calloc((size_t)n * k, 4), *c = calloc((size_t)m * n, 4);
    double best = 1e30;
    for (int r = 0; r < reps + 1; r++) { /* first run warms up */
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a, k, b, k, 0.0f, c, n);
        double t = now() - t0;
        if (r && t < best) best = t;
    }
    free(a), free(b), free(c);
    return 2.0 * m * n * k / best / 1e9;
}

struct bench {
    struct cmp_device *dev;
    struct cmp_arena  *arena;
    struct cmp_cmd    *cmd;
};

static struct op_tensor tensor(struct bench *b, int64_t rows, int64_t cols, enum lw_dtype dtype) {
    struct cmp_view v;
    struct lw_error err = {0};
    if (cmp_arena_alloc(b->arena, lw_dtype_bytes(dtype, (uint64_t)(rows * cols)), &v, &err) != LW_OK) {
        fprintf(stderr, "bench: %s\n", err.message);
        exit(1);
    }
    return op_tensor_2d(v, dtype, rows, cols);
}

/* Best time of `reps` replays of what is recorded in b->cmd. */
static double time_replays(struct bench *b, int reps) {
    struct lw_error err = {0};
    double          best = 1e30;
    for (int r = 0; r < reps + 1; r++) {
        double t0 = now();
        if (cmp_cmd_submit(b->cmd, &err) != LW_OK) {
            fprintf(stderr, "bench: %s\n", err.message);
            exit(1);
        }
        double t = now() - t0;
        if (r && t < best) best = t;
    }
    cmp_cmd_reset(b->cmd);
    cmp_arena_reset(b->arena);
    return best;
}

/* GFLOP/s of op_matmul at this shape on `b`'s device. */
static double matmul_rate(struct bench *b, int m, int n, int k, enum lw_dtype dtype, int reps) {
    struct op_ctx         ctx = {b->dev, b->cmd};
    struct lw_error       err = {0};
    struct op_matmul_args a = {.x = tensor(b, m, k, LW_DTYPE_F32), .w = tensor(b, n, k, dtype), .y = tensor(b, m, n, LW_DTYPE_F32)};
    if (op_matmul(&ctx, &a, &err) != LW_OK) {
        fprintf(stderr, "bench: %s\n", err.message);
        exit(1);
    }
    return 2.0 * m * n * k / time_replays(b, reps) / 1e9;
}

/* One row; `storage` (NULL if none) is the device without texel buffers. Returns the rate. */
static double bench_matmul(struct bench *b, struct bench *storage, int m, int n, int k,
                           enum lw_dtype dtype, int reps, double blas) {
    double gf = matmul_rate(b, m, n, k, dtype, reps), seconds = 2.0 * m * n * k / gf / 1e9;
    printf("matmul %-5s %5dx%5dx%5d  %8.3f s  %7.1f GFLOP/s  %6.1f %% of OpenBLAS (%.0f GFLOP/s)",
           lw_dtype_info(dtype)->name, m, k, n, seconds, gf, 100 * gf / blas, blas);
    if (storage) {
        double old = matmul_rate(storage, m, n, k, dtype, reps);
        printf("  %5.2fx the storage-buffer kernel (%.1f)", gf / old, old);
    }
    printf("\n");
    fflush(stdout);
    return gf;
}

static bool bench_open(struct bench *b, const struct cmp_device_options *options) {
    struct lw_error err = {0};
    if (cmp_device_create(options, &b->dev, &err) ||
        cmp_arena_create(b->dev, CMP_MEMORY_DEVICE, 0, &b->arena, &err) ||
        cmp_cmd_create(b->dev, &b->cmd, &err)) {
        fprintf(stderr, "lorweb bench: %s: %s\n", lw_status_str(err.status), err.message);
        return false;
    }
    return true;
}

static void bench_close(struct bench *b) {
    cmp_cmd_destroy(b->cmd);
    cmp_arena_destroy(b->arena);
    cmp_device_destroy(b->dev);
}

static void bench_attention(struct bench *b, int tokens, int heads, int dim, int reps, double matmul_rate) {
    struct op_ctx            ctx = {b->dev, b->cmd};
    struct lw_error          err = {0};
    int64_t                  hd = (int64_t)heads * dim;
    struct op_attention_args a = {.q = tensor(b, tokens, hd, LW_DTYPE_F32), .k = tensor(b, tokens, hd, LW_DTYPE_F32),
                                  .v = tensor(b, tokens, hd, LW_DTYPE_F32), .out = tensor(b, tokens, hd, LW_DTYPE_F32),
                                  .heads = heads, .head_dim = dim, .scale = 0.088f};
    if (op_attention(&ctx, &a, &err) != LW_OK) {
        fprintf(stderr, "bench: %s\n", err.message);
        exit(1);
    }
    double t = time_replays(b, reps), flops = 4.0 * tokens * tokens * hd, gf = flops / t / 1e9;
    printf("attention %5d tokens x %2d heads x %3d  %8.3f s  %7.1f GFLOP/s  %6.1f %% of the f32 matmul rate\n",
           tokens, heads, dim, t, gf, 100 * gf / matmul_rate);
    fflush(stdout);
}

int cli_bench(int argc, char **argv) {
    bool quick = false, flux_only = false, vae_only = false;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = true;
        else if (!strcmp(argv[i], "--flux")) flux_only = true; /* only the FLUX step figure */
        else if (!strcmp(argv[i], "--vae")) vae_only = true;   /* only the autoencoder figures */
        else {
            fprintf(stderr, "usage: lorweb bench [--quick] [--flux] [--vae]\n");
            return 2;
        }
    }
    if (!getenv("OPENBLAS_CORETYPE")) { /* OpenBLAS reads it when it loads: start again with it set */
        setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
        char *args[8] = {"lorweb", "bench"};
        for (int i = 0; i < argc && i < 5; i++) args[2 + i] = argv[i];
        execv("/proc/self/exe", args);
        perror("lorweb bench: re-exec");
    }
    struct bench b = {0}, storage = {0};
    if (!bench_open(&b, NULL)) return 1;
    const struct cmp_device_info *info = cmp_device_info(b.dev);
    struct cmp_device_options storage_options = {.select = info->name, .no_texel_buffers = true};
    bool                      with_storage =
        info->type == CMP_DEVICE_CPU && info->max_texel_elements > 0 && !flux_only && !vae_only;
    if (with_storage && !bench_open(&storage, &storage_options)) {
        bench_close(&b);
        return 1;
    }
    printf("device: %s; OpenBLAS %s on %d threads (OPENBLAS_CORETYPE=%s)\n", cmp_device_info(b.dev)->name,
           openblas_get_config(), openblas_get_num_threads(), getenv("OPENBLAS_CORETYPE"));
    const int shapes[][3] = {{256, 768, 768}, {512, 1024, 1024}, {4096, 3072, 3072}, {4096, 12288, 3072}};
    int       count = flux_only || vae_only ? 0 : quick ? 2 : 4, reps = quick ? 2 : 3;
    double    rate = 0;
    for (int s = 0; s < count; s++) {
        int    m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        double blas = blas_gflops(m, n, k, reps);
        struct bench *old = with_storage ? &storage : NULL;
        rate = bench_matmul(&b, old, m, n, k, LW_DTYPE_F32, reps, blas);
        bench_matmul(&b, old, m, n, k, LW_DTYPE_F16, reps, blas);
        bench_matmul(&b, old, m, n, k, LW_DTYPE_BF16, reps, blas);
    }
    if (flux_only || vae_only) {}
    else if (quick) bench_attention(&b, 1024, 4, 128, reps, rate);
    else bench_attention(&b, 8704, 24, 128, 1, rate);
    int status = vae_only ? 0 : bench_flux(b.dev, quick);
    if (!flux_only && status == 0) status = bench_vae(b.dev, quick);
    if (with_storage) bench_close(&storage);
    bench_close(&b);
    return status;
}
