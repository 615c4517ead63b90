/* Fuzzes the safetensors reader: any bytes must give LW_OK or a clear error, never a crash; every
 * tensor of an accepted file must be readable within its bounds. */
#include "fuzz_common.h"
#include "weights.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct wt_file *f = NULL;
    struct lw_error err = {0};
    if (wt_open(fuzz_file(data, size, ".safetensors"), &f, &err) == LW_OK) {
        for (size_t i = 0; i < wt_count(f); i++) {
            const struct wt_tensor *t = wt_at(f, i);
            uint64_t                n = wt_elements(t);
            if (n > (1u << 20)) continue;
            float *out = malloc((n ? n : 1) * sizeof *out);
            wt_read_f32(t, out, n, &err);
            free(out);
        }
        wt_metadata(f, "flux.hidden_size");
        wt_close(f);
    }
    return 0;
}
