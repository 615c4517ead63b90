/* `lorweb device`: lists every Vulkan device with what matters to us. */
#include <stdio.h>

#include "cli.h"
#include "compute.h"

int cli_device(int argc, char **argv) {
    struct cmp_device_info infos[16];
    uint32_t               count = 0;
    struct lw_error        err = {0};
    enum lw_status         st = cmp_device_list(infos, 16, &count, &err);
    if (st != LW_OK) {
        fprintf(stderr, "lorweb device: %s: %s\n", lw_status_str(st), err.message);
        return 1;
    }
    printf("%u device(s)\n", count);
    return 0;
}
