/* `lorweb device`: lists every Vulkan device with what matters to us, then runs a check computation
 * on the device the engine would choose (LORWEB_DEVICE or the best one) and verifies it on the CPU. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "compute.h"

static const char *type_name(enum cmp_device_type type) {
    switch (type) {
    case CMP_DEVICE_DISCRETE: return "discrete GPU";
    case CMP_DEVICE_INTEGRATED: return "integrated GPU";
    case CMP_DEVICE_VIRTUAL: return "virtual GPU";
    case CMP_DEVICE_CPU: return "CPU";
    default: return "other";
    }
}

static void print_info(uint32_t index, const struct cmp_device_info *d) {
    printf("[%u] %s (%s)\n", index, d->name, type_name(d->type));
    printf("    driver: %s %s, Vulkan %u.%u.%u, vendor 0x%04x device 0x%04x\n", d->driver_name,
           d->driver_info, d->api_version >> 22, (d->api_version >> 12) & 0x3ff,
           d->api_version & 0xfff, d->vendor_id, d->device_id);
    printf("    memory heaps:");
    for (uint32_t h = 0; h < d->heap_count; h++)
        printf(" %.2f GiB%s", d->heap_bytes[h] / 1073741824.0,
               d->heap_device_local[h] ? " (device-local)" : "");
    printf("%s\n", d->unified_memory ? ", unified" : "");
    printf("    subgroup %u (arithmetic %s, shuffle %s); fp16 %s, 16-bit storage %s, int8 %s, "
           "8-bit storage %s; cooperative matrix (NV) %s\n",
           d->subgroup_size, d->subgroup_arithmetic ? "yes" : "no",
           d->subgroup_shuffle ? "yes" : "no", d->float16_arithmetic ? "yes" : "no",
           d->storage16 ? "yes" : "no", d->int8_arithmetic ? "yes" : "no",
           d->storage8 ? "yes" : "no", d->cooperative_matrix_nv ? "yes" : "no");
    printf("    limits: max storage buffer range %.1f MiB, max allocation %.1f MiB, shared memory "
           "%u KiB, workgroup %u invocations, push constants %u B, storage alignment %llu\n",
           d->max_storage_buffer_range / 1048576.0, d->max_allocation_bytes / 1048576.0,
           d->max_shared_memory_bytes / 1024, d->max_workgroup_invocations,
           d->max_push_constant_bytes, (unsigned long long)d->min_storage_offset_alignment);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Fills a buffer on the device with a pattern, copies it, reads it back and checks every word. */
static int check_computation(struct cmp_device *dev) {
    enum { WORDS = 1 << 20 };
    struct lw_error    err = {0};
    struct cmp_buffer *a = NULL, *b = NULL;
    struct cmp_cmd    *cmd = NULL;
    struct cmp_kernel *fill = NULL;
    uint32_t          *host = malloc(WORDS * sizeof *host);
    int                rc = 1;
    uint32_t           spec[] = {64};
    double             t0 = now_seconds();
    if (!host || cmp_buffer_create(dev, WORDS * 4, CMP_MEMORY_DEVICE, &a, &err) ||
        cmp_buffer_create(dev, WORDS * 4, CMP_MEMORY_DEVICE, &b, &err) ||
        cmp_kernel_get(dev, CMP_KERNEL_FILL, spec, 1, &fill, &err) || cmp_cmd_create(dev, &cmd, &err))
        goto done;
    struct cmp_view va = cmp_buffer_view(a);
    struct {
        uint32_t n, value;
    } push = {WORDS, 0x3f800000u};
    cmp_cmd_dispatch(cmd, fill, &va, 1, &push, sizeof push, cmp_div_up(WORDS, 64), 1, 1);
    cmp_cmd_copy(cmd, va, cmp_buffer_view(b));
    if (cmp_cmd_submit(cmd, &err) || cmp_view_download(cmp_buffer_view(b), host, WORDS * 4, &err))
        goto done;
    size_t bad = 0;
    for (size_t i = 0; i < WORDS; i++) bad += host[i] != push.value;
    printf("check: filled and copied %d words on the device in %.1f ms (pipeline creation "
           "included): %s\n",
           WORDS, (now_seconds() - t0) * 1e3, bad ? "MISMATCH" : "ok");
    rc = bad != 0;
done:
    if (err.status) fprintf(stderr, "lorweb device: %s: %s\n", lw_status_str(err.status), err.message);
    cmp_cmd_destroy(cmd);
    cmp_buffer_destroy(a);
    cmp_buffer_destroy(b);
    free(host);
    return rc;
}

int cli_device(int argc, char **argv) {
    (void)argc;
    (void)argv;
    struct cmp_device_info infos[16];
    uint32_t               count = 0;
    struct lw_error        err = {0};
    enum lw_status         st = cmp_device_list(infos, 16, &count, &err);
    if (st != LW_OK) {
        fprintf(stderr, "lorweb device: %s: %s\n", lw_status_str(st), err.message);
        return 1;
    }
    for (uint32_t i = 0; i < count && i < 16; i++) print_info(i, &infos[i]);
    struct cmp_device *dev = NULL;
    double             t0 = now_seconds();
    st = cmp_device_create(NULL, &dev, &err);
    if (st != LW_OK) {
        fprintf(stderr, "lorweb device: %s: %s\n", lw_status_str(st), err.message);
        return 1;
    }
    printf("chosen: %s (device created in %.1f ms)\n", cmp_device_info(dev)->name,
           (now_seconds() - t0) * 1e3);
    int rc = check_computation(dev);
    cmp_device_destroy(dev);
    return rc;
}
