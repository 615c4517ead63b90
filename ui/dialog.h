/* The lorweb dialog (GTK 3, never libgimpui: gimp-platform.md §0). It edits a plain parameter
 * struct and knows nothing of GIMP or the engine: the plug-in hands it the layers to choose from
 * and three callbacks (struct ui_engine) that read the chosen layers, encode them and render
 * previews. */
#pragma once

#include <stdbool.h>

#define UI_MAX_BASIS 64

/* Everything the procedure takes besides the image, plus the dialog's own memory. */
struct ui_params {
    int    a, a_prime, b; /* layer IDs */
    char   prompt[256];
    int    steps; /* 0 = the model's default */
    double guidance, strength, keep_detail;
    int    seed, size;         /* size: working grid's long side, 0 = the model's default */
    float  bias[UI_MAX_BASIS]; /* added to each basis element's mixing weight; 0 = the analogy */
    char   model_dir[1024];    /* "" = models.conf, discovery or the embedded default */
    int    width, height;      /* the dialog's last size; 0 = natural */
};

/* A layer the pickers offer; `thumb` is RGBA 8-bit, thumb_width × thumb_height, or NULL. */
struct ui_layer {
    int            id;
    char           name[128];
    unsigned char *thumb;
    int            thumb_width, thumb_height;
};

/* A rendered preview, RGBA float rows without padding; the dialog frees `pixels` with g_free. */
struct ui_preview {
    float *pixels;
    int    width, height;
};

/* Returns false when the render is stale (the dialog wants a newer one, or is closing). */
typedef bool (*ui_progress_fn)(void *data, double fraction);

/* The plug-in's side. Messages returned are g_malloc'ed (the dialog frees them); NULL = success. */
struct ui_engine {
    void *user;
    /* Main thread: the chosen layers (params->a, a_prime, b) changed; also called once at start. */
    char *(*select)(void *user, const struct ui_params *params);
    /* Worker thread: the mixing weights of the chosen triplet (up to `max`, count in *count; 0 when
     * the model has no basis). */
    char *(*encode)(void *user, const struct ui_params *params, float *weights, int max,
                    int *count);
    /* Worker thread: a small, few-step b′. */
    char *(*preview)(void *user, const struct ui_params *params, ui_progress_fn progress,
                     void *data, struct ui_preview *out);
};

/* Shows the dialog; returns true on OK with `params` updated (including its size). `display` is the
 * X display name or NULL; `notice`, when not NULL, is shown at the top (e.g. no model found). All
 * strings are translatable (domain "lorweb"; the caller binds it). Logs what it does to stderr
 * ("lorweb: …") for the tests. */
bool ui_dialog_run(const char *display, const struct ui_layer *layers, int count,
                   const char *notice, const struct ui_engine *engine, struct ui_params *params);
