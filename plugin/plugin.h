/* Shared declarations of the lorweb GIMP plug-in (plugin/ is the only place that includes libgimp).
 */
#pragma once

#include <glib/gi18n-lib.h>
#include <libgimp/gimp.h>

#include "dialog.h"
#include "engine.h"

#define PLUG_IN_PROC "plug-in-lorweb"
#define PLUG_IN_BINARY "lorweb-gimp"
#define PLUGIN_MIN_SIDE 8 /* smallest layer side the procedure accepts */

/* image.c: drawable ↔ float RGBA ("R'G'B'A float": babl converts grey, indexed, alpha-less,
 * linear-light and other-profile drawables), the result layer, selection, default layers. */
/* Reads a whole drawable; with max_side > 0, scaled down (never up) so its long side fits. The
 * caller g_free()s out->data. */
gboolean plugin_drawable_read(gint32 drawable, int max_side, struct pipe_image *out,
                              GError **error);
/* Inserts a new layer named "b′" directly above `b` (same parent, b's offsets) holding `pixels`
 * (b's size); the caller wraps it in an undo group. Returns its ID or −1. */
gint32 plugin_layer_insert(gint32 image, gint32 b, const struct pipe_image *pixels);
/* Where the image has a selection, blends b′ into b by the selection's (feathered) values: outside
 * it the result keeps b's pixels. No selection: nothing changes. */
void plugin_selection_blend(gint32 image, gint32 b, const struct pipe_image *original,
                            struct pipe_image *result);
/* Picks a, a′, b: layers named a / a′ / a' / a-prime / b when present, else the top three. */
void plugin_default_layers(gint32 image, struct ui_params *v);
/* The image's layers for the dialog's pickers, with thumbnails; free with plugin_layers_free. */
struct ui_layer *plugin_layers_list(gint32 image, int *count);
void             plugin_layers_free(struct ui_layer *layers, int count);

/* errors.c: one translated sentence per engine status. */
const char *plugin_status_text(enum lw_status status);

/* models.c: where the model is. Fills `model` from (in order) an explicit folder,
 * $LORWEB_MODEL_DIR, $XDG_CONFIG_HOME/lorweb/models.conf, $XDG_DATA_HOME/lorweb/models and the
 * embedded default model. Returns NULL when something usable was found, else a translated
 * explanation of what to download and where to put it (g_free). */
char *plugin_model_find(const char *explicit_dir, struct plugin_model *model);
