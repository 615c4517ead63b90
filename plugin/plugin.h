/* Shared declarations of the lorweb GIMP plug-in (plugin/ is the only place that includes libgimp). */
#pragma once

#include <libgimp/gimp.h>

#include "dialog.h"
#include "pipeline.h"

#define PLUG_IN_PROC "plug-in-lorweb"
#define PLUG_IN_BINARY "lorweb-gimp"

/* image.c: drawable ↔ float RGBA ("R'G'B'A float"), and the result layer. */
gboolean plugin_drawable_read(gint32 drawable, struct pipe_image *out, GError **error);
/* Inserts a new layer named "b′" above `b` at b's offsets, holding `pixels` (b's size), inside the
 * caller's undo group; returns its ID or −1. */
gint32 plugin_layer_insert(gint32 image, gint32 b, const struct pipe_image *pixels);
/* Where the image has a selection, blends b′ into b by the selection's (feathered) values: outside it
 * the result keeps b's pixels. No selection: nothing changes. */
void plugin_selection_blend(gint32 image, gint32 b, const struct pipe_image *original, struct pipe_image *result);
/* Picks a, a′, b: layers named a / a′ / a' / a-prime / b when present, else the top three. */
void plugin_default_layers(gint32 image, struct ui_params *v);
