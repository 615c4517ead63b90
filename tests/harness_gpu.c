/* The part of the harness that needs the compute engine (GPU tests only). */
#include <stdio.h>
#include <stdlib.h>

#include "compute.h"
#include "harness.h"

struct cmp_device *th_device_or_skip(void) {
    struct cmp_device *dev = NULL;
    struct lw_error    err = {0};
    enum lw_status     st = cmp_device_create(NULL, &dev, &err);
    if (st == LW_ERR_NO_VULKAN || st == LW_ERR_NO_DEVICE) {
        fprintf(stderr, "SKIP: no Vulkan device (%s)\n", err.message);
        exit(77);
    }
    if (st != LW_OK) {
        fprintf(stderr, "FAIL: cmp_device_create: %s: %s\n", lw_status_str(st), err.message);
        exit(1);
    }
    return dev;
}
