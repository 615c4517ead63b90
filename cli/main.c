/* `lorweb`: the command-line face of the engine. Dispatches to one subcommand per file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
};

static const struct subcommand subcommands[] = {
    {"device", cli_device, "list Vulkan devices and run a check computation on the chosen one"},
    {"run", cli_run, "one analogy: a : a′ :: b : b′ (PNG in and out)"},
    {"component", cli_component, "run one model component on safetensors inputs (conformance)"},
    {"coeffs", cli_coeffs, "per-basis mixing weights of a triplet (--a --a-prime --b [--model])"},
    {"eval", cli_eval, "run triplet folders and report CLIP direction, preservation, PSNR, SSIM"},
    {"models", cli_models, "model files found (ComfyUI, HF cache, models.conf) and missing"},
    {"tokenize", cli_tokenize, "token ids of a text: tokenize clip|t5 --vocab PATH TEXT"},
    {"bench", cli_bench, "kernel throughput against OpenBLAS, measured in the same run (--quick)"},
};

const char *cli_model_dir(const char *given) {
    if (given) return given;
    const char *env = getenv("LORWEB_MODEL_DIR");
    if (env && *env) return env;
    /* installed (meson install) first, else the model committed in the source tree (an uninstalled build) */
    if (access(LORWEB_DEFAULT_MODEL_DIR "/flux.safetensors", R_OK) == 0) return LORWEB_DEFAULT_MODEL_DIR;
    return LORWEB_SOURCE_MODEL_DIR;
}

static void usage(FILE *out) {
    fprintf(out, "usage: lorweb COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        fprintf(out, "  %-14s %s\n", subcommands[i].name, subcommands[i].help);
    fprintf(out, "\nenvironment: LORWEB_DEVICE (index or name), LORWEB_PROFILE=1 (kernel times),\n"
                 "             LORWEB_MODEL_DIR (model folder; default: the embedded model)\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        if (!strcmp(argv[1], subcommands[i].name)) return subcommands[i].run(argc - 2, argv + 2);
    fprintf(stderr, "lorweb: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
