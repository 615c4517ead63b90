/* Fuzzes the command-line tool's PNG reader (libpng's simplified API). */
#include "fuzz_common.h"
#include "image_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    float          *pixels = NULL;
    int             w, h;
    struct lw_error err = {0};
    if (image_load(fuzz_file(data, size, ".png"), &pixels, &w, &h, &err) == LW_OK) free(pixels);
    return 0;
}
