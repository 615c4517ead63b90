/* make_tiny_model FIXTURES_DIR OUT_DIR [--no-lorweb]
 * Assembles a complete tiny model folder from the shared fixtures' random-weight models (they fit
 * together: 64 packed channels = 4 × 16 latent channels, LoRWeB query 48 = 3 × 16 CLIP dims) by
 * symbolic links, plus a fixed conditioning (txt [7, 48], y [32]) drawn from a fixed seed. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "weights.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: make_tiny_model FIXTURES_DIR OUT_DIR [--no-lorweb]\n");
        return 2;
    }
    bool        lorweb = !(argc > 3 && !strcmp(argv[3], "--no-lorweb"));
    const char *files[][2] = {{"flux_weights.safetensors", "flux.safetensors"}, {"ae_weights.safetensors", "ae.safetensors"},
                              {"clip_vision_weights.safetensors", "clip_vision.safetensors"},
                              {"lorweb_weights.safetensors", "lorweb.safetensors"}, {"lorweb_config.yaml", "config.yaml"}};
    mkdir(argv[2], 0755);
    for (int i = 0; i < (lorweb ? 5 : 2); i++) {
        char from[4200], to[4200];
        snprintf(from, sizeof from, "%s/%s", argv[1], files[i][0]);
        snprintf(to, sizeof to, "%s/%s", argv[2], files[i][1]);
        unlink(to);
        if (symlink(from, to) != 0) {
            perror(to);
            return 1;
        }
    }
    struct th_rng rng;
    th_rng_seed(&rng, 5);
    float txt[7 * 48], y[32];
    th_fill_normal(&rng, txt, 7 * 48, 1);
    th_fill_normal(&rng, y, 32, 1);
    struct wt_tensor t[] = {{.name = "txt", .dtype = LW_DTYPE_F32, .ndim = 2, .shape = {7, 48}, .data = txt, .bytes = sizeof txt},
                            {.name = "y", .dtype = LW_DTYPE_F32, .ndim = 1, .shape = {32}, .data = y, .bytes = sizeof y}};
    char path[4200];
    snprintf(path, sizeof path, "%s/conditioning.safetensors", argv[2]);
    struct lw_error err = {0};
    if (wt_write_safetensors(path, t, 2, NULL, &err) != LW_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    return 0;
}
