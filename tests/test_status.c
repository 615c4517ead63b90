/* The error helpers keep the first status, format messages and never overflow. */
#include <string.h>

#include "harness.h"
#include "status.h"

int main(void) {
    struct lw_error err = {0};
    th_check(lw_error_set(&err, LW_ERR_FORMAT, "file %s: tensor %s truncated", "a.safetensors",
                          "w") == LW_ERR_FORMAT,
             "lw_error_set returns its status");
    th_check(strcmp(err.message, "file a.safetensors: tensor w truncated") == 0, "message: %s",
             err.message);
    lw_error_prefix(&err, "loading %s: ", "flux");
    th_check(strncmp(err.message, "loading flux: file", 18) == 0, "prefix: %s", err.message);
    th_check(err.status == LW_ERR_FORMAT, "prefix keeps the status");
    char long_name[2000];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    lw_error_set(&err, LW_ERR_MISSING, "%s", long_name);
    th_check(strlen(err.message) == sizeof err.message - 1, "long messages are truncated");
    th_check(lw_error_set(NULL, LW_ERR_ARGUMENT, "x") == LW_ERR_ARGUMENT, "NULL error is allowed");
    th_check(strcmp(lw_status_str(LW_ERR_CANCELLED), "cancelled") == 0, "status string");
    return th_finish();
}
