/* st_compare GOT.safetensors NAME WANT.safetensors NAME LIMIT [abs|exact]
 * Prints the relative L2 error (or max absolute difference) between two tensors and exits 0 when it
 * is within LIMIT, 1 otherwise, 2 on errors. Used by tests/conformance.sh. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weights.h"

static float *read(const char *path, const char *name, uint64_t *n) {
    struct wt_file *f = NULL;
    struct lw_error err = {0};
    if (wt_open(path, &f, &err) != LW_OK) {
        fprintf(stderr, "%s\n", err.message);
        return NULL;
    }
    const struct wt_tensor *t = wt_find(f, name);
    float                  *out = NULL;
    if (!t) fprintf(stderr, "%s: no tensor %s\n", path, name);
    else {
        *n = wt_elements(t);
        out = malloc((*n ? *n : 1) * sizeof *out);
        if (wt_read_f32(t, out, *n, &err) != LW_OK) {
            fprintf(stderr, "%s\n", err.message);
            free(out);
            out = NULL;
        }
    }
    wt_close(f);
    return out;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: st_compare GOT NAME WANT NAME LIMIT [abs]\n");
        return 2;
    }
    uint64_t n1 = 0, n2 = 0;
    float   *a = read(argv[1], argv[2], &n1), *b = read(argv[3], argv[4], &n2);
    if (!a || !b) return 2;
    if (n1 != n2) {
        fprintf(stderr, "%s: %llu elements, reference %llu\n", argv[2], (unsigned long long)n1, (unsigned long long)n2);
        return 1;
    }
    double limit = atof(argv[5]), num = 0, den = 0, max_abs = 0;
    for (uint64_t i = 0; i < n1; i++) {
        double d = (double)a[i] - b[i];
        num += d * d, den += (double)b[i] * b[i];
        if (fabs(d) > max_abs || isnan(d)) max_abs = isnan(d) ? INFINITY : fabs(d);
    }
    bool   absolute = argc > 6 && !strcmp(argv[6], "abs");
    double e = absolute ? max_abs : (den > 0 ? sqrt(num / den) : sqrt(num));
    if (isnan(e)) e = INFINITY;
    printf("%-48s %s %.3e (limit %.0e)\n", argv[2], absolute ? "max |diff|" : "rel L2", e, limit);
    free(a), free(b);
    return e <= limit ? 0 : 1;
}
