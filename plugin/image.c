/* Pixels between GIMP drawables and the engine: GEGL buffers read and written as "R'G'B'A float"
 * (babl converts grey, indexed and alpha-less drawables), and the result layer. */
#include <string.h>

#include "plugin.h"

gboolean plugin_drawable_read(gint32 drawable, struct pipe_image *out, GError **error) {
    if (!gimp_item_is_drawable(drawable)) {
        g_set_error(error, G_FILE_ERROR, 0, "item %d is not a layer of an open image", drawable);
        return FALSE;
    }
    gint w = gimp_drawable_width(drawable), h = gimp_drawable_height(drawable);
    out->width = w, out->height = h, out->stride = (size_t)w * 4;
    out->data = g_try_malloc((gsize)w * h * 4 * sizeof(float));
    if (!out->data) {
        g_set_error(error, G_FILE_ERROR, 0, "not enough memory for a %d×%d layer", w, h);
        return FALSE;
    }
    GeglBuffer *buffer = gimp_drawable_get_buffer(drawable);
    gegl_buffer_get(buffer, GEGL_RECTANGLE(0, 0, w, h), 1.0, babl_format("R'G'B'A float"), out->data,
                    GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
    g_object_unref(buffer);
    return TRUE;
}

gint32 plugin_layer_insert(gint32 image, gint32 b, const struct pipe_image *pixels) {
    GimpImageType type = gimp_image_base_type(image) == GIMP_GRAY ? GIMP_GRAYA_IMAGE : GIMP_RGBA_IMAGE;
    gint32        layer = gimp_layer_new(image, "b′", pixels->width, pixels->height, type, 100,
                                         GIMP_LAYER_MODE_NORMAL);
    if (layer < 0) return -1;
    gint32 parent = gimp_item_get_parent(b);
    gint   position = gimp_image_get_item_position(image, b);
    if (!gimp_image_insert_layer(image, layer, parent > 0 ? parent : 0, position)) {
        gimp_item_delete(layer);
        return -1;
    }
    gint x, y;
    gimp_drawable_offsets(b, &x, &y);
    gimp_layer_set_offsets(layer, x, y);
    GeglBuffer *buffer = gimp_drawable_get_buffer(layer);
    gegl_buffer_set(buffer, GEGL_RECTANGLE(0, 0, pixels->width, pixels->height), 0,
                    babl_format("R'G'B'A float"), pixels->data, GEGL_AUTO_ROWSTRIDE);
    gegl_buffer_flush(buffer);
    g_object_unref(buffer);
    gimp_drawable_update(layer, 0, 0, pixels->width, pixels->height);
    return layer;
}

void plugin_default_layers(gint32 image, struct ui_params *v) {
    gint    n = 0;
    gint32 *layers = gimp_image_get_layers(image, &n);
    gint32  a = -1, ap = -1, b = -1;
    for (gint i = 0; i < n; i++) {
        gchar *name = gimp_item_get_name(layers[i]);
        if (!g_ascii_strcasecmp(name, "a")) a = layers[i];
        else if (!strcmp(name, "a′") || !g_ascii_strcasecmp(name, "a'") || !g_ascii_strcasecmp(name, "a-prime"))
            ap = layers[i];
        else if (!g_ascii_strcasecmp(name, "b")) b = layers[i];
        g_free(name);
    }
    /* Stack order is top first: the top three are b′'s usual a, a′, b from the top down. */
    if (a < 0 && n > 0) a = layers[0];
    if (ap < 0 && n > 1) ap = layers[1];
    if (b < 0 && n > 2) b = layers[2];
    v->a = a, v->a_prime = ap, v->b = b;
    g_free(layers);
}

void plugin_selection_blend(gint32 image, gint32 b, const struct pipe_image *original, struct pipe_image *result) {
    gboolean non_empty = FALSE;
    gint     x1, y1, x2, y2;
    gimp_selection_bounds(image, &non_empty, &x1, &y1, &x2, &y2);
    if (!non_empty) return;
    gint ox, oy, w = result->width, h = result->height;
    gimp_drawable_offsets(b, &ox, &oy);
    float *mask = g_try_malloc((gsize)w * h * sizeof(float));
    if (!mask) return;
    /* The selection channel covers the image; read the part under b (outside the image is 0). */
    GeglBuffer *selection = gimp_drawable_get_buffer(gimp_image_get_selection(image));
    gegl_buffer_get(selection, GEGL_RECTANGLE(ox, oy, w, h), 1.0, babl_format("Y float"), mask,
                    GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
    g_object_unref(selection);
    for (gint y = 0; y < h; y++)
        for (gint x = 0; x < w; x++) {
            float  m = mask[(gsize)y * w + x];
            float *o = result->data + (gsize)y * result->stride + (gsize)x * 4;
            const float *src = original->data + (gsize)y * original->stride + (gsize)x * 4;
            for (int c = 0; c < 4; c++) o[c] = m * o[c] + (1 - m) * src[c];
        }
    g_free(mask);
}
