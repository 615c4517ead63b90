/* Fuzzes the command-line tool's image reader (cli/image_io.c): PNG through libpng and JPEG through
 * libjpeg, chosen by signature, with their longjmp error paths. Built with a lower pixel limit so
 * that a header claiming a huge image cannot exhaust the fuzzer's memory. */
#include "fuzz_common.h"
#include "image_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    float          *pixels = NULL;
    int             w, h;
    struct lw_error err = {0};
    if (image_load(fuzz_file(data, size, ".img"), &pixels, &w, &h, &err) == LW_OK) free(pixels);
    return 0;
}
