/* Status strings and the error-detail helpers declared in status.h. */
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *lw_status_str(enum lw_status status) {
    switch (status) {
    case LW_OK: return "ok";
    case LW_ERR_ARGUMENT: return "invalid argument";
    case LW_ERR_SHAPE: return "tensor shapes do not match";
    case LW_ERR_UNSUPPORTED: return "not supported";
    case LW_ERR_FILE: return "file error";
    case LW_ERR_FORMAT: return "file format error";
    case LW_ERR_MISSING: return "missing tensor or field";
    case LW_ERR_DTYPE: return "unsupported element type";
    case LW_ERR_NO_VULKAN: return "no Vulkan driver";
    case LW_ERR_NO_DEVICE: return "no usable Vulkan device";
    case LW_ERR_DEVICE_MEMORY: return "out of device memory";
    case LW_ERR_HOST_MEMORY: return "out of host memory";
    case LW_ERR_DEVICE_LOST: return "device lost";
    case LW_ERR_VULKAN: return "Vulkan error";
    case LW_ERR_TOO_LARGE: return "buffer too large for the device";
    case LW_ERR_CANCELLED: return "cancelled";
    }
    return "unknown status";
}

enum lw_status lw_error_set(struct lw_error *err, enum lw_status status, const char *fmt, ...) {
    if (!err) return status;
    err->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return status;
}

enum lw_status lw_error_prefix(struct lw_error *err, const char *fmt, ...) {
    if (!err) return LW_OK;
    char    prefix[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char joined[sizeof err->message];
    snprintf(joined, sizeof joined, "%s%s", prefix, err->message);
    memcpy(err->message, joined, sizeof joined);
    return err->status;
}

void lw_error_clear(struct lw_error *err) {
    if (!err) return;
    err->status = LW_OK;
    err->message[0] = '\0';
}

void lw_assert_fail(const char *file, int line, const char *condition) {
    fprintf(stderr, "lorweb: internal error at %s:%d: assertion '%s' failed\n", file, line,
            condition);
    abort();
}
