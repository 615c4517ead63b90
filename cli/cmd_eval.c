/* `lorweb coeffs` and `lorweb eval`.
 *
 * coeffs: the mixing weights a triplet gives each basis element (mean over the adapted layers),
 * largest first.
 * eval DIR: every subfolder of DIR holding a.png, a_prime.png and b.png (and optionally the true
 * b_prime.png) is run; per triplet and on average it reports the CLIP directional similarity
 * cos(E(b′) − E(b), E(a′) − E(a)), preservation cos(E(b′), E(b)), and against the truth PSNR and SSIM.
 * Variants for comparisons: another LoRWeB basis (--lorweb), strength 0 (the frozen base), and the
 * two trivial baselines that need no model run (--baseline copy: b′ = b; difference: b′ = b + a′ − a). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "image_io.h"
#include "metrics.h"
#include "pipeline.h"

struct loaded {
    float            *pixels;
    struct pipe_image image;
};

static bool load(const char *path, struct loaded *out, struct lw_error *err) {
    int w, h;
    if (image_load(path, &out->pixels, &w, &h, err) != LW_OK) return false;
    out->image = (struct pipe_image){out->pixels, w, h, (size_t)w * 4};
    return true;
}

static int compare_desc(const void *x, const void *y) {
    const float *a = x, *b = y;
    return a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : 0;
}

int cli_coeffs(int argc, char **argv) {
    const char *paths[3] = {0}, *model = NULL;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--a")) paths[0] = argv[i + 1];
        else if (!strcmp(argv[i], "--a-prime")) paths[1] = argv[i + 1];
        else if (!strcmp(argv[i], "--b")) paths[2] = argv[i + 1];
        else if (!strcmp(argv[i], "--model")) model = argv[i + 1];
    }
    if (!paths[0] || !paths[1] || !paths[2]) {
        fprintf(stderr, "usage: lorweb coeffs --a A.png --a-prime A2.png --b B.png [--model DIR]\n");
        return 2;
    }
    struct lw_error      err = {0};
    struct loaded        im[3] = {0};
    struct pipe_context *ctx = NULL;
    struct pipe_options  opt = {.paths = {.model_dir = cli_model_dir(model)}};
    int                  rc = 1, n = 0;
    float                mean[PIPE_MAX_BASIS], sorted[PIPE_MAX_BASIS][2];
    for (int i = 0; i < 3; i++)
        if (!load(paths[i], &im[i], &err)) goto done;
    if (pipe_context_create(&opt, &ctx, &err) || pipe_encode(ctx, &im[0].image, &im[1].image, &im[2].image, &err) ||
        pipe_basis_weights(ctx, mean, PIPE_MAX_BASIS, &n, &err))
        goto done;
    for (int i = 0; i < n; i++) sorted[i][0] = mean[i], sorted[i][1] = (float)i;
    qsort(sorted, (size_t)n, sizeof sorted[0], compare_desc);
    printf("basis element  mean weight (over all adapted layers)\n");
    for (int i = 0; i < n; i++) printf("%13d  %.4f\n", (int)sorted[i][1], sorted[i][0]);
    rc = 0;
done:
    if (rc) fprintf(stderr, "lorweb coeffs: %s: %s\n", lw_status_str(err.status), err.message);
    pipe_context_destroy(ctx);
    for (int i = 0; i < 3; i++) free(im[i].pixels);
    return rc;
}

static struct metric_image as_metric(const struct pipe_image *p) {
    return (struct metric_image){p->data, p->width, p->height, 4, p->stride};
}

static bool same_size(const struct pipe_image *x, const struct pipe_image *y) {
    return x->width == y->width && x->height == y->height;
}

/* The trivial baselines: copy (b′ = b) and difference (b′ = b + a′ − a, clamped), alpha from b. */
static void baseline_run(const char *which, const struct pipe_image *a, const struct pipe_image *ap,
                         const struct pipe_image *b, struct pipe_image *out) {
    bool difference = !strcmp(which, "difference");
    for (int y = 0; y < b->height; y++)
        for (int x = 0; x < b->width * 4; x++) {
            float v = b->data[(size_t)y * b->stride + x];
            if (difference && x % 4 != 3) v += ap->data[(size_t)y * ap->stride + x] - a->data[(size_t)y * a->stride + x];
            out->data[(size_t)y * out->stride + x] = v < 0 ? 0 : v > 1 ? 1 : v;
        }
}

int cli_eval(int argc, char **argv) {
    if (argc < 1) {
        fprintf(stderr, "usage: lorweb eval DIR [--model DIR] [--lorweb DIR] [--strength S] [--steps N]\n"
                        "                   [--size PIXELS] [--seed N] [--baseline copy|difference] [--save DIR]\n");
        return 2;
    }
    const char        *dir = argv[0], *model = NULL, *lorweb = NULL, *baseline = NULL, *save = NULL;
    struct pipe_params p;
    pipe_params_defaults(&p);
    for (int i = 1; i < argc; i += 2) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "lorweb eval: %s needs a value\n", o);
            return 2;
        }
        if (!strcmp(o, "--model")) model = v;
        else if (!strcmp(o, "--lorweb")) lorweb = v;
        else if (!strcmp(o, "--strength")) p.strength = (float)atof(v);
        else if (!strcmp(o, "--steps")) p.steps = atoi(v);
        else if (!strcmp(o, "--size")) p.size = atoi(v);
        else if (!strcmp(o, "--seed")) p.seed = strtoull(v, NULL, 10);
        else if (!strcmp(o, "--baseline") && (!strcmp(v, "copy") || !strcmp(v, "difference"))) baseline = v;
        else if (!strcmp(o, "--save")) save = v;
        else {
            fprintf(stderr, "lorweb eval: unknown option or value %s %s\n", o, v);
            return 2;
        }
    }
    char lorweb_file[4200] = "", lorweb_config[4200] = "";
    if (lorweb) { /* a folder holding lorweb.safetensors and config.yaml */
        snprintf(lorweb_file, sizeof lorweb_file, "%s/lorweb.safetensors", lorweb);
        snprintf(lorweb_config, sizeof lorweb_config, "%s/config.yaml", lorweb);
    }
    struct lw_error      err = {0};
    struct pipe_context *ctx = NULL;
    struct pipe_options  opt = {.paths = {.model_dir = cli_model_dir(model),
                                          .lorweb = lorweb ? lorweb_file : NULL,
                                          .lorweb_config = lorweb ? lorweb_config : NULL}};
    if (pipe_context_create(&opt, &ctx, &err)) {
        fprintf(stderr, "lorweb eval: %s: %s\n", lw_status_str(err.status), err.message);
        return 1;
    }
    struct dirent **names = NULL;
    int             count = scandir(dir, &names, NULL, alphasort), rows = 0, truths = 0, failed = 0;
    double          sum_dir = 0, sum_keep = 0, sum_psnr = 0, sum_ssim = 0;
    if (count < 0) {
        fprintf(stderr, "lorweb eval: %s: cannot read the folder\n", dir);
        pipe_context_destroy(ctx);
        return 1;
    }
    printf("%-24s %9s %9s %8s %7s\n", "triplet", "clip-dir", "preserve", "PSNR dB", "SSIM");
    for (int t = 0; t < count; t++) {
        char          base[4096], path[4200];
        struct loaded a = {0}, ap = {0}, b = {0}, truth = {0};
        struct stat   st;
        snprintf(base, sizeof base, "%s/%s", dir, names[t]->d_name);
        snprintf(path, sizeof path, "%s/a.png", base);
        if (names[t]->d_name[0] == '.' || stat(path, &st) != 0) goto next;
        snprintf(path, sizeof path, "%s/a.png", base);
        bool ok = load(path, &a, &err);
        snprintf(path, sizeof path, "%s/a_prime.png", base);
        ok = ok && load(path, &ap, &err);
        snprintf(path, sizeof path, "%s/b.png", base);
        ok = ok && load(path, &b, &err);
        float *out = ok ? malloc((size_t)b.image.width * b.image.height * 4 * sizeof *out) : NULL;
        struct pipe_image o = {out, b.image.width, b.image.height, (size_t)b.image.width * 4};
        float ea[1024], eap[1024], eb[1024], ebp[1024];
        int   n = 0;
        if (ok && out && baseline) {
            ok = same_size(&a.image, &b.image) && same_size(&ap.image, &b.image);
            if (!ok) lw_error_set(&err, LW_ERR_ARGUMENT, "the %s baseline needs a, a′ and b of one size", baseline);
            else baseline_run(baseline, &a.image, &ap.image, &b.image, &o);
        } else if (ok && out) {
            ok = pipe_run(ctx, &p, &a.image, &ap.image, &b.image, &o, &err) == LW_OK;
        }
        if (ok && save) {
            snprintf(path, sizeof path, "%s/%s.png", save, names[t]->d_name);
            ok = image_save(path, o.data, o.width, o.height, &err) == LW_OK;
        }
        ok = ok && out && pipe_embed(ctx, &a.image, ea, 1024, &n, &err) == LW_OK && pipe_embed(ctx, &ap.image, eap, 1024, &n, &err) == LW_OK &&
             pipe_embed(ctx, &b.image, eb, 1024, &n, &err) == LW_OK && pipe_embed(ctx, &o, ebp, 1024, &n, &err) == LW_OK;
        if (!ok) {
            printf("%-24s failed: %s\n", names[t]->d_name, err.message);
            failed++;
        } else {
            double d = metric_clip_direction(ea, eap, eb, ebp, (size_t)n), k = metric_cosine(ebp, eb, (size_t)n);
            sum_dir += d, sum_keep += k, rows++;
            snprintf(path, sizeof path, "%s/b_prime.png", base);
            if (stat(path, &st) == 0 && load(path, &truth, &err) && truth.image.width == o.width && truth.image.height == o.height) {
                struct metric_image x = as_metric(&o), y = as_metric(&truth.image);
                double              ps = metric_psnr(&x, &y), ss = metric_ssim(&x, &y);
                sum_psnr += ps, sum_ssim += ss, truths++;
                printf("%-24s %9.4f %9.4f %8.2f %7.4f\n", names[t]->d_name, d, k, ps, ss);
            } else {
                printf("%-24s %9.4f %9.4f %8s %7s\n", names[t]->d_name, d, k, "-", "-");
            }
        }
        free(out);
    next:
        free(a.pixels), free(ap.pixels), free(b.pixels), free(truth.pixels);
        free(names[t]);
    }
    free(names);
    if (rows) printf("%-24s %9.4f %9.4f", "mean", sum_dir / rows, sum_keep / rows);
    if (rows && truths) printf(" %8.2f %7.4f\n", sum_psnr / truths, sum_ssim / truths);
    else if (rows) printf(" %8s %7s\n", "-", "-");
    printf("%d triplets, %d failed\n", rows + failed, failed);
    pipe_context_destroy(ctx);
    return failed || !rows ? 1 : 0;
}
