/* `lorweb run`: one analogy from the command line, a : a′ :: b : b′, printing progress and a
 * summary of the mixing weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "image_io.h"
#include "pipeline.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static bool print_progress(void *user, const struct pipe_progress *p) {
    (void)user;
    static const char *const stages[] = {"loading", "encoding", "denoising", "decoding", "detail"};
    if (p->stage == PIPE_STAGE_DENOISE)
        fprintf(stderr, "\r%s step %d/%d (%3.0f%%)", stages[p->stage], p->step, p->steps, 100 * p->fraction);
    else fprintf(stderr, "\r%-9s (%3.0f%%)       ", stages[p->stage], 100 * p->fraction);
    if (p->fraction >= 1.0) fprintf(stderr, "\n");
    return true;
}

static void print_log(void *user, enum pipe_log_level level, const char *text) {
    (void)user;
    fprintf(stderr, "%s%s\n", level == PIPE_LOG_WARNING ? "warning: " : "", text);
}

static int usage(void) {
    fprintf(stderr, "usage: lorweb run --a A.png --a-prime A2.png --b B.png --out OUT.png\n"
                    "                  [--model DIR] [--steps N] [--strength S] [--seed N] [--guidance G]\n"
                    "                  [--keep-detail X] [--size PIXELS] [--prompt TEXT]\n"
                    "                  [--blend-a A2.png --blend-a-prime A2P.png --blend RATIO]\n"
                    "                  [--low-memory]   (CLIP and the autoencoder loaded per stage)\n"
                    "                  [--merge-weights] (the basis merged into the weights for the run)\n"
                    "  --model defaults to LORWEB_MODEL_DIR or the embedded default model\n");
    return 2;
}

int cli_run(int argc, char **argv) {
    const char        *a_path = NULL, *ap_path = NULL, *b_path = NULL, *out_path = NULL;
    const char        *a2_path = NULL, *ap2_path = NULL, *model = NULL;
    struct pipe_params p;
    bool               low_memory = false;
    pipe_params_defaults(&p);
    for (int i = 0; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        /* flags without a value */
        if (!strcmp(o, "--low-memory")) {
            low_memory = true;
            continue;
        }
        if (!strcmp(o, "--merge-weights")) {
            p.merge_weights = true;
            continue;
        }
        if (!v) return usage();
        i++;
        if (!strcmp(o, "--a")) a_path = v;
        else if (!strcmp(o, "--a-prime")) ap_path = v;
        else if (!strcmp(o, "--b")) b_path = v;
        else if (!strcmp(o, "--out")) out_path = v;
        else if (!strcmp(o, "--model")) model = v;
        else if (!strcmp(o, "--steps")) p.steps = atoi(v);
        else if (!strcmp(o, "--strength")) p.strength = (float)atof(v);
        else if (!strcmp(o, "--seed")) p.seed = strtoull(v, NULL, 10);
        else if (!strcmp(o, "--guidance")) p.guidance = (float)atof(v);
        else if (!strcmp(o, "--keep-detail")) p.keep_detail = (float)atof(v);
        else if (!strcmp(o, "--size")) p.size = atoi(v);
        else if (!strcmp(o, "--prompt")) p.prompt = v;
        else if (!strcmp(o, "--blend-a")) a2_path = v;
        else if (!strcmp(o, "--blend-a-prime")) ap2_path = v;
        else if (!strcmp(o, "--blend")) p.blend = (float)atof(v);
        else return usage();
    }
    if (!a_path || !ap_path || !b_path || !out_path || !a2_path != !ap2_path) return usage();
    struct lw_error      err = {0};
    float               *pix[5] = {0}, *out = NULL;
    int                  w[5], h[5], rc = 1;
    struct pipe_context *ctx = NULL;
    const char          *paths[5] = {a_path, ap_path, b_path, a2_path, ap2_path};
    for (int i = 0; i < 5; i++)
        if (paths[i] && image_load(paths[i], &pix[i], &w[i], &h[i], &err) != LW_OK) goto done;
    struct pipe_options opt = {.paths = {.model_dir = cli_model_dir(model)}, .progress = print_progress,
                               .log = print_log, .low_memory = low_memory};
    if (pipe_context_create(&opt, &ctx, &err) != LW_OK) goto done;
    struct pipe_image a = {pix[0], w[0], h[0], (size_t)w[0] * 4}, ap = {pix[1], w[1], h[1], (size_t)w[1] * 4};
    struct pipe_image b = {pix[2], w[2], h[2], (size_t)w[2] * 4};
    struct pipe_image a2 = {pix[3], w[3], h[3], (size_t)w[3] * 4}, ap2 = {pix[4], w[4], h[4], (size_t)w[4] * 4};
    if (a2_path) p.blend_a = &a2, p.blend_a_prime = &ap2;
    out = malloc((size_t)w[2] * h[2] * 4 * sizeof *out);
    struct pipe_image o = {out, w[2], h[2], (size_t)w[2] * 4};
    double            t0 = now();
    if (!out || pipe_run(ctx, &p, &a, &ap, &b, &o, &err) != LW_OK) goto done;
    fprintf(stderr, "%s\nran in %.2f s\n", pipe_describe(ctx), now() - t0);
    if (image_save(out_path, out, w[2], h[2], &err) != LW_OK) goto done;
    printf("b′ written to %s\n", out_path);
    rc = 0;
done:
    if (rc) fprintf(stderr, "\nlorweb run: %s: %s\n", lw_status_str(err.status), err.message);
    pipe_context_destroy(ctx);
    for (int i = 0; i < 5; i++) free(pix[i]);
    free(out);
    return rc;
}
