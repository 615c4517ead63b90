/* The lorweb dialog (GTK 3, never libgimpui: gimp-platform.md §0). It edits a plain parameter struct;
 * it knows nothing of GIMP: the plug-in hands it the layers to choose from. */
#pragma once

#include <stdbool.h>

/* Everything the procedure takes besides the image. */
struct ui_params {
    int    a, a_prime, b; /* layer IDs */
    char   prompt[256];
    int    steps;         /* 0 = the model's default */
    double guidance, strength, keep_detail;
    int    seed, size;    /* size: grid long side, 0 = the model's default */
    char   model_dir[1024]; /* "" = the embedded default model */
};

struct ui_layer {
    int  id;
    char name[128];
};

/* Shows the dialog; returns true on OK with `params` updated. `display` is the X display name or
 * NULL. All strings are translatable (domain "lorweb"). */
bool ui_dialog_run(const char *display, const struct ui_layer *layers, int count, struct ui_params *params);
