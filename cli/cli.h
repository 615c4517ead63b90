/* The `lorweb` command-line tool: one file per subcommand, each exporting `int cli_<name>(argc, argv)`
 * that receives the arguments after the subcommand name and returns the process exit status. */
#pragma once

#include <stdbool.h>

struct cmp_device;

int cli_device(int argc, char **argv);
int cli_component(int argc, char **argv);
int cli_run(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_tokenize(int argc, char **argv);
int cli_coeffs(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_models(int argc, char **argv);

/* The model folder: `given`, else $LORWEB_MODEL_DIR, else the embedded default model (installed, or
 * in the source tree for an uninstalled build). */
const char *cli_model_dir(const char *given);

/* `lorweb bench`'s FLUX step figure and full-model projection (bench_flux.c); 0 or 1. */
int bench_flux(struct cmp_device *device, bool quick);
/* `lorweb bench`'s autoencoder figures: encode/decode per megapixel, projected 1024² (bench_vae.c). */
int bench_vae(struct cmp_device *device, bool quick);
