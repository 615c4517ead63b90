/* Status codes and error detail shared by the whole engine (compute/ and models/).
 *
 * Every fallible engine function returns `enum lw_status` (0 = OK) and, where it can say more, fills a
 * caller-owned `struct lw_error` with one line naming the file, tensor, layer, call or value at fault.
 * Codes are grouped by hundreds (style.md §4.5): 1xx bad argument, 2xx file or format, 3xx device or
 * memory, 4xx cancelled. The engine never prints and never exits; callers turn codes into user text. */
#pragma once

#include <stdarg.h>

enum lw_status {
    LW_OK = 0,

    LW_ERR_ARGUMENT = 100,    /* a value outside its documented range */
    LW_ERR_SHAPE = 101,       /* tensor shapes that do not fit together */
    LW_ERR_UNSUPPORTED = 102, /* valid input that this build does not handle */

    LW_ERR_FILE = 200,    /* cannot open, read, map or write a file */
    LW_ERR_FORMAT = 201,  /* a file that is not what it claims (bad header, truncated, lying sizes) */
    LW_ERR_MISSING = 202, /* a tensor, key or field that must be there is absent */
    LW_ERR_DTYPE = 203,   /* a tensor of an element type we cannot use there */

    LW_ERR_NO_VULKAN = 300,     /* no Vulkan loader or driver */
    LW_ERR_NO_DEVICE = 301,     /* no usable device (or LORWEB_DEVICE matched none) */
    LW_ERR_DEVICE_MEMORY = 302, /* out of device memory */
    LW_ERR_HOST_MEMORY = 303,   /* out of host memory */
    LW_ERR_DEVICE_LOST = 304,   /* the driver reported the device lost */
    LW_ERR_VULKAN = 305,        /* any other Vulkan failure */
    LW_ERR_TOO_LARGE = 306,     /* a buffer larger than the device can address */

    LW_ERR_CANCELLED = 400, /* the progress callback asked to stop */
};

/* Last error detail, owned by the caller. `lw_error_set(NULL, …)` is allowed and only returns. */
struct lw_error {
    enum lw_status status;
    char           message[512];
};

/* Static English name of a code, e.g. "file format error". Never NULL. */
const char *lw_status_str(enum lw_status status);

/* Records `status` and a printf-style message in `err` (if not NULL) and returns `status`, so that a
 * failing path reads `return lw_error_set(err, LW_ERR_FORMAT, "%s: tensor %s truncated", …);`. */
enum lw_status lw_error_set(struct lw_error *err, enum lw_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends context ("loading %s: ") to an error already recorded, keeping its status. */
enum lw_status lw_error_prefix(struct lw_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Clears `err` to LW_OK with an empty message. */
void lw_error_clear(struct lw_error *err);

/* Programmer errors only (never for anything a user or the machine can cause): log and abort. */
#define LW_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond)) lw_assert_fail(__FILE__, __LINE__, #cond);                                    \
    } while (0)
void lw_assert_fail(const char *file, int line, const char *condition) __attribute__((noreturn));
