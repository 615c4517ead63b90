/* The compute core: buffers, staging, arenas, kernels, recording, replay, errors, fault injection
 * and the pipeline cache. Uses the `fill` kernel, and `matmul_texel_f32` for texel-buffer bindings
 * (its push block written out here, so the test stands on its own). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compute.h"
#include "harness.h"

struct fill_push {
    uint32_t n, value;
};

static struct cmp_kernel *fill_kernel(struct cmp_device *dev) {
    struct cmp_kernel *k = NULL;
    uint32_t           spec[] = {64};
    struct lw_error    err = {0};
    th_check(cmp_kernel_get(dev, CMP_KERNEL_FILL, spec, 1, &k, &err) == LW_OK, "fill kernel: %s",
             err.message);
    return k;
}

static void record_fill(struct cmp_cmd *cmd, struct cmp_kernel *k, struct cmp_view v, uint32_t n,
                        uint32_t value) {
    struct fill_push p = {n, value};
    cmp_cmd_dispatch(cmd, k, &v, 1, &p, sizeof p, cmp_div_up(n, 64), 1, 1);
}

static void test_buffers(struct cmp_device *dev, struct th_rng *rng) {
    const uint64_t sizes[] = {4, 12, 1000, 65536 + 4, (16u << 20) + 20}; /* last one > staging */
    for (int m = 0; m < 2; m++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            uint64_t           bytes = sizes[s];
            struct cmp_buffer *buf = NULL;
            struct lw_error    err = {0};
            if (!th_check(cmp_buffer_create(dev, bytes, (enum cmp_memory)m, &buf, &err) == LW_OK,
                          "buffer create %llu: %s", (unsigned long long)bytes, err.message))
                continue;
            uint8_t *src = malloc(bytes), *dst = malloc(bytes);
            for (uint64_t i = 0; i < bytes; i++) src[i] = (uint8_t)th_rng_u32(rng);
            memset(dst, 0xcd, bytes);
            th_check(cmp_view_upload(cmp_buffer_view(buf), src, bytes, &err) == LW_OK, "upload");
            th_check(cmp_view_download(cmp_buffer_view(buf), dst, bytes, &err) == LW_OK, "download");
            th_check(memcmp(src, dst, bytes) == 0, "round trip of %llu bytes (memory %d)",
                     (unsigned long long)bytes, m);
            th_check(cmp_view_upload(cmp_buffer_view(buf), src, bytes + 1, &err) == LW_ERR_ARGUMENT,
                     "oversized upload refused");
            free(src);
            free(dst);
            cmp_buffer_destroy(buf);
        }
    struct cmp_buffer *none = NULL;
    struct lw_error    err = {0};
    th_check(cmp_buffer_create(dev, 0, CMP_MEMORY_DEVICE, &none, &err) == LW_ERR_ARGUMENT && !none,
             "zero-byte buffer refused");
    th_check(cmp_buffer_create(dev, UINT64_MAX / 2, CMP_MEMORY_DEVICE, &none, &err) != LW_OK && !none,
             "absurd buffer refused: %s", err.message);
    cmp_buffer_destroy(NULL);
}

static void test_fill_shapes(struct cmp_device *dev) {
    struct cmp_kernel *k = fill_kernel(dev);
    const uint32_t     ns[] = {1, 13, 63, 64, 65, 127, 1000, 65537};
    for (size_t s = 0; s < sizeof ns / sizeof ns[0]; s++) {
        uint32_t           n = ns[s];
        struct cmp_buffer *buf = NULL;
        struct cmp_cmd    *cmd = NULL;
        struct lw_error    err = {0};
        cmp_buffer_create(dev, (n + 8) * 4, CMP_MEMORY_DEVICE, &buf, &err);
        cmp_cmd_create(dev, &cmd, &err);
        struct cmp_view all = cmp_buffer_view(buf);
        cmp_cmd_fill(cmd, all, 0xdeadbeefu);
        /* Fill n words starting 4 words in: the words around must stay untouched. */
        record_fill(cmd, k, cmp_view_slice(all, 16, n * 4ull), n, 7u);
        th_check(cmp_cmd_submit(cmd, &err) == LW_OK, "submit: %s", err.message);
        uint32_t *host = malloc((n + 8) * 4);
        cmp_view_download(all, host, (n + 8) * 4ull, &err);
        size_t bad = 0;
        for (uint32_t i = 0; i < n + 8; i++) bad += host[i] != ((i >= 4 && i < n + 4) ? 7u : 0xdeadbeefu);
        th_check(bad == 0, "fill of %u words at offset 16: %zu wrong", n, bad);
        free(host);
        cmp_cmd_destroy(cmd);
        cmp_buffer_destroy(buf);
    }
}

/* A recorded list replays with new data in its input buffer, without re-recording. */
static void test_replay(struct cmp_device *dev) {
    struct cmp_buffer *src = NULL, *dst = NULL;
    struct cmp_cmd    *cmd = NULL;
    struct lw_error    err = {0};
    cmp_buffer_create(dev, 4096, CMP_MEMORY_HOST, &src, &err);
    cmp_buffer_create(dev, 4096, CMP_MEMORY_DEVICE, &dst, &err);
    cmp_cmd_create(dev, &cmd, &err);
    cmp_cmd_copy(cmd, cmp_buffer_view(src), cmp_buffer_view(dst));
    for (uint32_t round = 0; round < 3; round++) {
        uint32_t *in = cmp_buffer_map(src), out[1024];
        for (int i = 0; i < 1024; i++) in[i] = round * 1000 + (uint32_t)i;
        th_check(cmp_cmd_submit(cmd, &err) == LW_OK, "replay %u: %s", round, err.message);
        cmp_view_download(cmp_buffer_view(dst), out, sizeof out, &err);
        th_check(out[0] == round * 1000 && out[1023] == round * 1000 + 1023, "replay %u data", round);
    }
    th_check(cmp_cmd_dispatch_count(cmd) == 0, "copies are not dispatches");
    /* Recording after submit without reset is an error reported at the next submit. */
    cmp_cmd_copy(cmd, cmp_buffer_view(src), cmp_buffer_view(dst));
    th_check(cmp_cmd_submit(cmd, &err) == LW_ERR_ARGUMENT, "record after submit refused: %s",
             err.message);
    cmp_cmd_reset(cmd);
    cmp_cmd_copy(cmd, cmp_buffer_view(src), cmp_buffer_view(dst));
    th_check(cmp_cmd_submit(cmd, &err) == LW_OK, "after reset: %s", err.message);
    /* Bad views are sticky errors naming the kernel and binding. */
    cmp_cmd_reset(cmd);
    struct cmp_view bad = {.buffer = dst, .offset = 4, .bytes = 4096};
    record_fill(cmd, fill_kernel(dev), bad, 1, 1);
    th_check(cmp_cmd_submit(cmd, &err) == LW_ERR_ARGUMENT && strstr(err.message, "fill"),
             "out-of-range binding: %s", err.message);
    cmp_cmd_destroy(cmd);
    cmp_buffer_destroy(src);
    cmp_buffer_destroy(dst);
}

/* Texel-buffer bindings: the view reads from the bound offset, views live until reset, and bad
 * texel bindings are errors naming the kernel and binding. */
static void test_texel_bindings(struct cmp_device *dev) {
    struct cmp_kernel *k = NULL;
    struct lw_error    err = {0};
    if (cmp_kernel_get(dev, CMP_KERNEL_MATMUL_TEXEL_F32, NULL, 0, &k, &err) == LW_ERR_UNSUPPORTED) {
        printf("no texel buffers on this device: %s\n", err.message);
        return;
    }
    th_check(k != NULL, "texel kernel: %s", err.message);
    struct cmp_buffer *buf = NULL;
    struct cmp_cmd    *cmd = NULL;
    cmp_buffer_create(dev, 256, CMP_MEMORY_DEVICE, &buf, &err);
    /* x = (1, 2, 3, 4) at byte 16, W = (5, 6, 7, 8) at byte 48, y at byte 128: y = 70. */
    float host[64] = {0};
    for (int i = 0; i < 4; i++)
        host[4 + i] = 1.0f + (float)i, host[12 + i] = 5.0f + (float)i;
    cmp_view_upload(cmp_buffer_view(buf), host, sizeof host, &err);
    uint32_t        push[14] = {1, 1, 4, 0, 4, 0, 0, 1};
    struct cmp_view x = {buf, 16, 16}, w = {buf, 48, 16}, y = {buf, 128, 4}, any = {buf, 0, 4};
    struct cmp_view views[5] = {x, w, any, any, y};
    uint64_t        before = cmp_device_live_objects(dev);
    cmp_cmd_create(dev, &cmd, &err);
    uint64_t with_cmd = cmp_device_live_objects(dev);
    cmp_cmd_dispatch(cmd, k, views, 5, push, sizeof push, 1, 1, 1);
    th_check(cmp_cmd_submit(cmd, &err) == LW_OK, "texel dispatch: %s", err.message);
    float out = 0;
    cmp_view_download(y, &out, 4, &err);
    th_check(out == 70.0f, "texel views read from their offsets: %g, want 70", out);
    th_check(cmp_device_live_objects(dev) >= with_cmd + 3, "two texel views and a pool recorded");
    cmp_cmd_reset(cmd);
    th_check(cmp_device_live_objects(dev) == with_cmd, "reset frees the texel views");
    const struct cmp_device_info *info = cmp_device_info(dev);
    struct {
        struct cmp_view x;
        uint32_t        count;
        const char     *problem;
    } bad[] = {
        {{buf, 20, 16}, 5, "alignment"},    /* offset not a multiple of the texel alignment */
        {{buf, 16, 12}, 5, "whole number"}, /* not a whole number of 16-byte texels */
        {x, 1, "texel buffers"},            /* fewer bindings than texel bindings */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (i == 0 && info->min_texel_offset_alignment <= 4) continue;
        struct cmp_view v[5] = {bad[i].x, w, any, any, y};
        cmp_cmd_dispatch(cmd, k, v, bad[i].count, push, sizeof push, 1, 1, 1);
        th_check(cmp_cmd_submit(cmd, &err) == LW_ERR_ARGUMENT &&
                     strstr(err.message, "matmul_texel_f32") && strstr(err.message, bad[i].problem),
                 "bad texel binding %zu refused: %s", i, err.message);
        cmp_cmd_reset(cmd);
    }
    cmp_cmd_destroy(cmd);
    th_check(cmp_device_live_objects(dev) == before,
             "destroy frees everything the command list made");
    cmp_buffer_destroy(buf);
}

static void test_arena(struct cmp_device *dev) {
    struct cmp_arena *arena = NULL;
    struct lw_error   err = {0};
    uint64_t          before = cmp_device_allocated_bytes(dev);
    th_check(cmp_arena_create(dev, CMP_MEMORY_DEVICE, 1 << 16, &arena, &err) == LW_OK, "arena");
    struct cmp_view v[40];
    for (int i = 0; i < 40; i++) {
        th_check(cmp_arena_alloc(arena, 1000 + 997 * (uint64_t)i, &v[i], &err) == LW_OK, "alloc %d", i);
        th_check(v[i].offset % 256 == 0, "alignment");
    }
    for (int i = 0; i < 40; i++) /* no two views overlap */
        for (int j = 0; j < i; j++)
            if (v[i].buffer == v[j].buffer)
                th_check(v[i].offset >= v[j].offset + v[j].bytes || v[j].offset >= v[i].offset + v[i].bytes,
                         "views %d and %d overlap", i, j);
    struct cmp_view big;
    th_check(cmp_arena_alloc(arena, 1 << 20, &big, &err) == LW_OK && big.bytes == 1 << 20,
             "an allocation larger than a block gets its own buffer");
    uint64_t used = cmp_device_allocated_bytes(dev);
    cmp_arena_reset(arena);
    th_check(cmp_arena_used_bytes(arena) == 0, "reset");
    for (int i = 0; i < 40; i++) cmp_arena_alloc(arena, 1000 + 997 * (uint64_t)i, &v[i], &err);
    th_check(cmp_device_allocated_bytes(dev) == used, "reset reuses the blocks");
    cmp_arena_destroy(arena);
    th_check(cmp_device_allocated_bytes(dev) == before, "destroy frees everything");
}

/* Fault injection: every allocation site fails in turn; each failure is a clean status, and once the
 * switch is off the same work succeeds. */
static void test_fault_injection(void) {
    for (uint32_t fail_at = 1; fail_at <= 6; fail_at++) {
        struct cmp_device_options opt = {.fail_allocation_at = fail_at, .cache_dir = ""};
        struct cmp_device        *dev = NULL;
        struct lw_error           err = {0};
        if (cmp_device_create(&opt, &dev, &err) != LW_OK) {
            th_check(false, "device with fault injection: %s", err.message);
            return;
        }
        struct cmp_arena *arena = NULL;
        cmp_arena_create(dev, CMP_MEMORY_DEVICE, 4096, &arena, &err);
        enum lw_status st = LW_OK;
        struct cmp_view v;
        for (int i = 0; i < 8 && st == LW_OK; i++) st = cmp_arena_alloc(arena, 4000, &v, &err);
        th_check(st == LW_ERR_DEVICE_MEMORY && strstr(err.message, "injected"),
                 "allocation %u fails cleanly: %s", fail_at, err.message);
        cmp_arena_destroy(arena);
        th_check(cmp_device_allocated_bytes(dev) == 0, "nothing left allocated after failure %u",
                 fail_at);
        th_check(cmp_device_live_objects(dev) == 0, "no live objects after failure %u (%llu)",
                 fail_at, (unsigned long long)cmp_device_live_objects(dev));
        cmp_device_destroy(dev);
    }
}

/* A lost device (simulated at the n-th submission): that submission and every later one report
 * LW_ERR_DEVICE_LOST; everything can still be destroyed; a new device works. */
static void test_device_lost(void) {
    for (uint32_t lose_at = 1; lose_at <= 3; lose_at++) {
        struct cmp_device_options opt = {.lose_device_at = lose_at, .cache_dir = ""};
        struct cmp_device        *dev = NULL;
        struct cmp_buffer        *buf = NULL;
        struct cmp_cmd           *cmd = NULL;
        struct lw_error           err = {0};
        if (!th_check(cmp_device_create(&opt, &dev, &err) == LW_OK, "device: %s", err.message)) return;
        cmp_buffer_create(dev, 4096, CMP_MEMORY_DEVICE, &buf, &err);
        cmp_cmd_create(dev, &cmd, &err);
        record_fill(cmd, fill_kernel(dev), cmp_buffer_view(buf), 1024, 7);
        enum lw_status st[4];
        for (int i = 0; i < 4; i++) st[i] = cmp_cmd_submit(cmd, &err);
        for (uint32_t i = 0; i < 4; i++)
            th_check(st[i] == (i + 1 < lose_at ? LW_OK : LW_ERR_DEVICE_LOST),
                     "lost at submission %u: submission %u status %d", lose_at, i + 1, st[i]);
        th_check(cmp_device_lost(dev) && strstr(err.message, "DEVICE_LOST"), "reported: %s", err.message);
        cmp_cmd_destroy(cmd);
        cmp_buffer_destroy(buf);
        th_check(cmp_device_allocated_bytes(dev) == 0, "all freed after the loss");
        cmp_device_destroy(dev);
    }
    struct cmp_device_options opt = {.cache_dir = ""};
    struct cmp_device        *dev = NULL;
    struct lw_error           err = {0};
    th_check(cmp_device_create(&opt, &dev, &err) == LW_OK && !cmp_device_lost(dev), "a new device works");
    cmp_device_destroy(dev);
}

static void test_pipeline_cache(void) {
    char dir[] = "/tmp/lorweb-cache-XXXXXX";
    if (!mkdtemp(dir)) return;
    char path[256];
    snprintf(path, sizeof path, "%s/pipeline-cache.bin", dir);
    struct cmp_device_options opt = {.cache_dir = dir};
    for (int round = 0; round < 3; round++) {
        struct cmp_device *dev = NULL;
        struct lw_error    err = {0};
        th_check(cmp_device_create(&opt, &dev, &err) == LW_OK, "device round %d: %s", round,
                 err.message);
        if (!dev) break;
        fill_kernel(dev);
        cmp_device_destroy(dev);
        struct stat st;
        th_check(stat(path, &st) == 0 && st.st_size > 64, "cache file written (round %d)", round);
        if (round == 1) { /* corrupt it: the next start must treat it as a miss */
            FILE *f = fopen(path, "r+b");
            if (f) {
                fputs("garbage", f);
                fclose(f);
            }
        }
    }
    remove(path);
    rmdir(dir);
}

int main(void) {
    struct th_rng rng;
    uint64_t      seed = 1234;
    printf("seed %llu\n", (unsigned long long)seed);
    th_rng_seed(&rng, seed);
    struct cmp_device *dev = th_device_or_skip();
    printf("device: %s\n", cmp_device_info(dev)->name);
    test_buffers(dev, &rng);
    test_fill_shapes(dev);
    test_replay(dev);
    test_texel_bindings(dev);
    test_arena(dev);
    th_check(cmp_device_allocated_bytes(dev) == 0, "all buffers freed");
    cmp_device_destroy(dev);
    cmp_device_destroy(NULL);
    test_fault_injection();
    test_device_lost();
    test_pipeline_cache();
    return th_finish();
}
