/* `lorweb models`: what was found for each model component (path, format, dtype, size, hash
 * prefix), what is missing and where to get it, and the device memory the found set needs at a
 * precision. Exit status 0 when every component was found, 1 when some are missing, 2 on bad
 * arguments or a malformed models.conf. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "discover.h"

static int usage(void) {
    fprintf(stderr,
            "usage: lorweb models [--config FILE] [--comfyui DIR]... [--hf-cache DIR] [--data-dir "
            "DIR]\n"
            "                     [--precision stored|bf16|fp8|q8_0|q4_0] [--full-hash]\n"
            "  searches models.conf ($XDG_CONFIG_HOME/lorweb/models.conf), the data folder\n"
            "  ($XDG_DATA_HOME/lorweb/models), ComfyUI models/ folders (~/ComfyUI/models and "
            "--comfyui)\n"
            "  and the Hugging Face cache; hashes are sha256 prefixes of the first and last MiB "
            "and the\n"
            "  size unless --full-hash reads whole files\n");
    return 2;
}

static void size_str(uint64_t bytes, char *out, size_t n) {
    if (bytes >= 1000000000ull)
        snprintf(out, n, "%.2f GB", (double)bytes / 1e9);
    else if (bytes >= 1000000)
        snprintf(out, n, "%.1f MB", (double)bytes / 1e6);
    else
        snprintf(out, n, "%.1f kB", (double)bytes / 1e3);
}

int cli_models(int argc, char **argv) {
    struct md_options o = {0};
    const char       *precision = "stored";
    int               comfy = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--full-hash")) {
            o.full_hash = true;
            continue;
        }
        if (!v) return usage();
        if (!strcmp(a, "--config"))
            o.config = v;
        else if (!strcmp(a, "--hf-cache"))
            o.hf_cache = v;
        else if (!strcmp(a, "--data-dir"))
            o.data_dir = v;
        else if (!strcmp(a, "--precision"))
            precision = v;
        else if (!strcmp(a, "--comfyui") && comfy < MD_MAX_DIRS)
            o.comfyui[comfy++] = v;
        else
            return usage();
        i++;
    }
    struct md_found probe = {.matrix_params = 1, .matrix_bytes = 1};
    if (!md_memory(&probe, precision)) return usage();
    struct md_result *r = calloc(1, sizeof *r);
    struct lw_error   err = {0};
    if (!r) return 2;
    if (md_discover(&o, r, &err) != LW_OK) {
        fprintf(stderr, "lorweb models: %s\n", err.message);
        free(r);
        return 2;
    }
    printf("searched: %s (config), %s, %s%s, %s\n\n", r->searched[0], r->searched[1],
           r->searched[2][0] ? r->searched[2] : "no ComfyUI folder", comfy > 1 ? " and more" : "",
           r->searched[3]);
    int      missing = 0;
    uint64_t total = 0;
    for (int c = 0; c < MD_COUNT; c++) {
        const struct md_found *m = &r->comp[c];
        printf("%-14s %s\n", md_component_key((enum md_component)c),
               md_component_title((enum md_component)c));
        if (!m->found) {
            missing++;
            printf("  MISSING: get it from %s\n", md_component_source((enum md_component)c));
        } else {
            char disk[32], mem[32];
            size_str(m->file_bytes, disk, sizeof disk);
            uint64_t need = md_memory(m, precision);
            total += need;
            size_str(need, mem, sizeof mem);
            printf("  %s (%s)\n  %s%s%s, %s on disk, hash %s%s", m->path, m->origin, m->format,
                   m->dtype[0] ? " " : "", m->dtype, disk, m->hash, o.full_hash ? "" : " (quick)");
            if (m->matrix_params + m->vector_params)
                printf(", %.3g M parameters, %s at %s precision",
                       (double)(m->matrix_params + m->vector_params) / 1e6, mem, precision);
            printf("\n");
            if (m->alternatives)
                printf("  (%d other candidate%s found)\n", m->alternatives,
                       m->alternatives > 1 ? "s" : "");
        }
        if (m->note[0]) printf("  note: %s\n", m->note);
    }
    char sum[32];
    size_str(total, sum, sizeof sum);
    printf("\ndevice memory for the weights found, at %s precision (2-D weights at it, vectors "
           "f32): %s\n",
           precision, sum);
    printf("%d of %d components found%s\n", MD_COUNT - missing, MD_COUNT, missing ? "" : ": ready");
    free(r);
    return missing ? 1 : 0;
}
