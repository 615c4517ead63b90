/* `lorweb bench`'s FLUX figure: one Euler step of a scaled-down FLUX.1 with the real layer widths
 * (width 3072, 24 heads × 128, MLP 12288, BF16 weights; 2 double + 2 single blocks) at the real
 * Kontext sequence (512 text + 4096 noise + 4096 context tokens, spec-flux-kontext.md §6.2 case A)
 * or, with --quick, a short one; and the full model's step time projected from it.
 *
 * The model file is written sparse (a safetensors header, then a hole): its weights read as zeros,
 * which costs the kernels exactly what random weights cost, and nothing on disk. The step is timed
 * between flux_sample's step callbacks 1 and 2 (the second of two steps), so conditioning,
 * recording and pipeline creation are not in it; the process CPU time of that step is printed too
 * (lavapipe runs in our threads, and shared machines make wall time noisy). Projection: double and
 * single blocks have the same linear FLOPs (D·(4D + 2F) MACs per token) and the same attention, and
 * what lies outside the blocks (img_in, txt_in, the final layer) is < 1 % of one block's FLOPs, so
 * the full model's step is the measured step × 57 / 4. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "flux.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct header {
    char    *json;
    size_t   len, cap;
    uint64_t offset; /* data bytes so far */
};

static void put(struct header *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct header *h, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(h->json + h->len, h->cap - h->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && h->len + (size_t)n < h->cap) {
            h->len += (size_t)n;
            return;
        }
        h->cap = h->cap * 2 + (size_t)n + 1;
        h->json = realloc(h->json, h->cap);
    }
}

static void tensor(struct header *h, const char *name, int64_t rows, int64_t cols) {
    uint64_t bytes = (uint64_t)(rows * (cols ? cols : 1)) * 2;
    if (cols) put(h, ",\"%s\":{\"dtype\":\"BF16\",\"shape\":[%lld,%lld],", name, (long long)rows, (long long)cols);
    else put(h, ",\"%s\":{\"dtype\":\"BF16\",\"shape\":[%lld],", name, (long long)rows);
    put(h, "\"data_offsets\":[%llu,%llu]}", (unsigned long long)h->offset, (unsigned long long)(h->offset + bytes));
    h->offset += bytes;
}

static void linear(struct header *h, const char *name, int64_t out, int64_t in) {
    char n[128];
    snprintf(n, sizeof n, "%s.weight", name), tensor(h, n, out, in);
    snprintf(n, sizeof n, "%s.bias", name), tensor(h, n, out, 0);
}

/* Writes the sparse BF16 model; returns false with a message on failure. */
static bool model_write(const char *path, int64_t d, int64_t heads, int64_t f, int depth, int single) {
    struct header h = {0};
    int64_t       hd = d / heads;
    char          p[128];
    put(&h, "{\"__metadata__\":{\"flux.hidden_size\":\"%lld\",\"flux.num_heads\":\"%lld\",\"flux.axes_dim\":"
            "\"[%lld, %lld, %lld]\",\"flux.depth\":\"%d\",\"flux.depth_single_blocks\":\"%d\","
            "\"flux.guidance_embed\":\"true\"}", (long long)d, (long long)heads, (long long)hd / 8,
        (long long)(hd - hd / 8) / 2, (long long)(hd - hd / 8) / 2, depth, single);
    linear(&h, "img_in", d, 64), linear(&h, "txt_in", d, 4096);
    linear(&h, "time_in.in_layer", d, 256), linear(&h, "time_in.out_layer", d, d);
    linear(&h, "guidance_in.in_layer", d, 256), linear(&h, "guidance_in.out_layer", d, d);
    linear(&h, "vector_in.in_layer", d, 768), linear(&h, "vector_in.out_layer", d, d);
    for (int i = 0; i < depth; i++)
        for (int s = 0; s < 2; s++) {
            const char *st = s ? "txt" : "img";
            snprintf(p, sizeof p, "double_blocks.%d.%s_mod.lin", i, st), linear(&h, p, 6 * d, d);
            snprintf(p, sizeof p, "double_blocks.%d.%s_attn.qkv", i, st), linear(&h, p, 3 * d, d);
            snprintf(p, sizeof p, "double_blocks.%d.%s_attn.proj", i, st), linear(&h, p, d, d);
            snprintf(p, sizeof p, "double_blocks.%d.%s_mlp.0", i, st), linear(&h, p, f, d);
            snprintf(p, sizeof p, "double_blocks.%d.%s_mlp.2", i, st), linear(&h, p, d, f);
            snprintf(p, sizeof p, "double_blocks.%d.%s_attn.norm.query_norm.scale", i, st), tensor(&h, p, hd, 0);
            snprintf(p, sizeof p, "double_blocks.%d.%s_attn.norm.key_norm.scale", i, st), tensor(&h, p, hd, 0);
        }
    for (int i = 0; i < single; i++) {
        snprintf(p, sizeof p, "single_blocks.%d.modulation.lin", i), linear(&h, p, 3 * d, d);
        snprintf(p, sizeof p, "single_blocks.%d.linear1", i), linear(&h, p, 3 * d + f, d);
        snprintf(p, sizeof p, "single_blocks.%d.linear2", i), linear(&h, p, d, d + f);
        snprintf(p, sizeof p, "single_blocks.%d.norm.query_norm.scale", i), tensor(&h, p, hd, 0);
        snprintf(p, sizeof p, "single_blocks.%d.norm.key_norm.scale", i), tensor(&h, p, hd, 0);
    }
    linear(&h, "final_layer.adaLN_modulation.1", 2 * d, d), linear(&h, "final_layer.linear", 64, d);
    put(&h, "}");
    while (h.len % 8) put(&h, " ");
    int  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    bool ok = fd >= 0;
    if (ok) {
        uint64_t n = h.len;
        unsigned char len[8];
        for (int i = 0; i < 8; i++) len[i] = (unsigned char)(n >> (8 * i));
        ok = write(fd, len, 8) == 8 && write(fd, h.json, h.len) == (ssize_t)h.len &&
             ftruncate(fd, (off_t)(8 + h.len + h.offset)) == 0;
        close(fd);
    }
    if (!ok) perror(path);
    free(h.json);
    return ok;
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct timing {
    double t[3], cpu[3];
};

static bool on_step(void *user, int step, int steps) {
    (void)steps;
    struct timing *tm = user;
    if (step < 3) tm->t[step] = now(), tm->cpu[step] = cpu_now();
    return true;
}

/* Returns the seconds of one step, or a negative number after printing an error. */
static double step_seconds(struct cmp_device *dev, const char *path, int64_t t, int64_t n, int64_t c,
                           struct flux_memory *mem, double *cpu) {
    struct flux_model *m = NULL;
    struct lw_error    err = {0};
    struct timing      tm = {{0}, {0}};
    double             seconds = -1;
    float *txt = calloc((size_t)t * 4096, 4), *y = calloc(768, 4), *x = calloc((size_t)(n + c) * 64, 4);
    float *out = calloc((size_t)n * 64, 4), sigmas[3] = {1.0f, 0.5f, 0.0f};
    if (txt && y && x && out && flux_load(dev, path, &m, &err) == LW_OK) {
        struct flux_inputs in = {.txt = txt, .t_tokens = t, .y = y, .grid_h = 1, .grid_w = n,
                                 .context = c ? x + n * 64 : NULL, .ctx_grid_h = 1, .ctx_grid_w = c, .guidance = 2.5f};
        /* the second step: the first also pays for first-touch page faults and lazy driver work */
        if (flux_sample(m, &in, x, sigmas, 2, on_step, &tm, out, &err) == LW_OK) {
            seconds = tm.t[2] - tm.t[1];
            *cpu = tm.cpu[2] - tm.cpu[1];
        }
        flux_memory_get(m, mem);
    }
    if (seconds < 0) fprintf(stderr, "bench flux: %s: %s\n", lw_status_str(err.status), err.message);
    flux_destroy(m);
    free(txt), free(y), free(x), free(out);
    return seconds;
}

int bench_flux(struct cmp_device *dev, bool quick) {
    const int64_t d = 3072, heads = 24, f = 12288;
    int64_t       t = quick ? 16 : 512, n = quick ? 48 : 4096, c = quick ? 48 : 4096, l = t + n + c;
    char          path[] = "/tmp/lorweb-bench-flux-XXXXXX";
    int           fd = mkstemp(path);
    if (fd < 0) {
        perror("bench flux: temporary file");
        return 1;
    }
    close(fd);
    struct flux_memory mem = {0};
    double             cpu = 0, sec = -1;
    if (model_write(path, d, heads, f, 2, 2)) sec = step_seconds(dev, path, t, n, c, &mem, &cpu);
    unlink(path);
    if (sec < 0) return 1;
    double       flops = 4 * (2.0 * l * d * (4 * d + 2 * f) + 4.0 * l * l * d);
    const double mib = 1048576.0;
    printf("flux step, 2 double + 2 single blocks of width %lld, %lld heads x %lld, BF16, %lld text + %lld noise + "
           "%lld context tokens:\n"
           "  %.3f s (%.1f GFLOP/s; %.3f s of CPU time in this process)\n"
           "  weights %.0f MiB resident, %.0f MiB staged for conditioning, activations %.0f MiB; peak device "
           "memory %.0f MiB\n"
           "  projected FLUX.1 Kontext (19 + 38 blocks) at these tokens: %.2f s per step, %.1f s for 28 steps\n",
           (long long)d, (long long)heads, (long long)(d / heads), (long long)t, (long long)n, (long long)c, sec,
           flops / sec / 1e9, cpu, mem.resident / mib, mem.conditioning / mib, mem.activations / mib,
           cmp_device_peak_bytes(dev) / mib, sec * 57 / 4, 28 * sec * 57 / 4);
    return 0;
}
