/* Pixels between GIMP drawables and the engine. Everything goes through GEGL buffers read and
 * written as "R'G'B'A float" (non-linear sRGB, straight alpha: what pipeline.h takes), so babl
 * converts grey, indexed, alpha-less and linear-light drawables, and images with another colour
 * profile, both ways. Also the result layer, the selection as a blend mask, the default layer
 * choice and the pickers' thumbnails. Not here: any image processing (that is the engine's). */
#include <string.h>

#include "plugin.h"

gboolean plugin_drawable_read(gint32 drawable, int max_side, struct pipe_image *out,
                              GError **error) {
    memset(out, 0, sizeof *out);
    if (!gimp_item_is_valid(drawable) || !gimp_item_is_drawable(drawable)) {
        g_set_error(error, G_FILE_ERROR, 0, _("Item %d is not a layer of an open image."),
                    drawable);
        return FALSE;
    }
    gint   w = gimp_drawable_width(drawable), h = gimp_drawable_height(drawable);
    double scale = 1.0;
    if (max_side > 0 && MAX(w, h) > max_side) {
        scale = (double)max_side / MAX(w, h);
        w = MAX(1, (gint)(w * scale + 0.5)), h = MAX(1, (gint)(h * scale + 0.5));
    }
    out->width = w, out->height = h, out->stride = (size_t)w * 4;
    out->data = g_try_malloc((gsize)w * h * 4 * sizeof(float));
    if (!out->data) {
        g_set_error(error, G_FILE_ERROR, 0, _("Not enough memory for a %d×%d layer."), w, h);
        return FALSE;
    }
    GeglBuffer *buffer = gimp_drawable_get_buffer(drawable);
    gegl_buffer_get(buffer, GEGL_RECTANGLE(0, 0, w, h), scale, babl_format("R'G'B'A float"),
                    out->data, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
    g_object_unref(buffer);
    return TRUE;
}

gint32 plugin_layer_insert(gint32 image, gint32 b, const struct pipe_image *pixels) {
    GimpImageType type = GIMP_RGBA_IMAGE;
    switch (gimp_image_base_type(image)) {
    case GIMP_RGB:
        type = GIMP_RGBA_IMAGE;
        break;
    case GIMP_GRAY:
        type = GIMP_GRAYA_IMAGE;
        break;
    case GIMP_INDEXED:
        type = GIMP_INDEXEDA_IMAGE;
        break; /* babl maps to the nearest palette colour */
    }
    gint32 layer = gimp_layer_new(image, "b′", pixels->width, pixels->height, type, 100,
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
                    babl_format("R'G'B'A float"), pixels->data,
                    (gint)(pixels->stride * sizeof(float)));
    gegl_buffer_flush(buffer);
    g_object_unref(buffer);
    gimp_drawable_update(layer, 0, 0, pixels->width, pixels->height);
    return layer;
}

void plugin_selection_blend(gint32 image, gint32 b, const struct pipe_image *original,
                            struct pipe_image *result) {
    if (gimp_selection_is_empty(image)) return;
    gint ox, oy, w = result->width, h = result->height;
    gimp_drawable_offsets(b, &ox, &oy);
    float *mask = g_try_malloc((gsize)w * h * sizeof(float));
    if (!mask) return;
    /* The selection covers the image; read the part under b (outside the image: 0) in the mask's
     * own tone curve, so a feathered 50 % stays 50 %. */
    GeglBuffer *selection = gimp_drawable_get_buffer(gimp_image_get_selection(image));
    gchar      *name = g_strdup_printf(
             "%s float", babl_get_name(babl_format_get_model(gegl_buffer_get_format(selection))));
    gegl_buffer_get(selection, GEGL_RECTANGLE(ox, oy, w, h), 1.0, babl_format(name), mask,
                    GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
    g_free(name);
    g_object_unref(selection);
    for (gint y = 0; y < h; y++)
        for (gint x = 0; x < w; x++) {
            float        m = CLAMP(mask[(gsize)y * w + x], 0.0f, 1.0f);
            float       *o = result->data + (gsize)y * result->stride + (gsize)x * 4;
            const float *src = original->data + (gsize)y * original->stride + (gsize)x * 4;
            for (int c = 0; c < 4; c++)
                o[c] = m * o[c] + (1 - m) * src[c];
        }
    g_free(mask);
}

void plugin_default_layers(gint32 image, struct ui_params *v) {
    gint    n = 0;
    gint32 *layers = gimp_image_get_layers(image, &n);
    gint32  a = -1, ap = -1, b = -1;
    for (gint i = 0; i < n; i++) {
        gchar *name = gimp_item_get_name(layers[i]);
        if (!g_ascii_strcasecmp(name, "a"))
            a = layers[i];
        else if (!strcmp(name, "a′") || !g_ascii_strcasecmp(name, "a'") ||
                 !g_ascii_strcasecmp(name, "a-prime"))
            ap = layers[i];
        else if (!g_ascii_strcasecmp(name, "b"))
            b = layers[i];
        g_free(name);
    }
    /* Stack order is top first: the top three are a, a′, b from the top down. */
    if (a < 0 && n > 0) a = layers[0];
    if (ap < 0 && n > 1) ap = layers[1];
    if (b < 0 && n > 2) b = layers[2];
    v->a = a, v->a_prime = ap, v->b = b;
    g_free(layers);
}

struct ui_layer *plugin_layers_list(gint32 image, int *count) {
    gint32          *ids = gimp_image_get_layers(image, count);
    struct ui_layer *layers = g_new0(struct ui_layer, *count ? *count : 1);
    for (gint i = 0; i < *count; i++) {
        gchar *name = gimp_item_get_name(ids[i]);
        layers[i].id = ids[i];
        g_strlcpy(layers[i].name, name, sizeof layers[i].name);
        g_free(name);
        gint    tw = 24, th = 24, bpp = 0;
        guchar *data = gimp_drawable_get_thumbnail_data(ids[i], &tw, &th, &bpp);
        if (!data || bpp < 1 || bpp > 4) {
            g_free(data);
            continue;
        }
        guchar *rgba = g_malloc((gsize)tw * th * 4);
        for (gint p = 0; p < tw * th; p++) {
            const guchar *s = data + (gsize)p * bpp;
            guchar       *d = rgba + (gsize)p * 4;
            gboolean      grey = bpp <= 2;
            d[0] = s[0], d[1] = grey ? s[0] : s[1], d[2] = grey ? s[0] : s[2];
            d[3] = bpp == 2 ? s[1] : bpp == 4 ? s[3] : 255;
        }
        g_free(data);
        layers[i].thumb = rgba, layers[i].thumb_width = tw, layers[i].thumb_height = th;
    }
    g_free(ids);
    return layers;
}

void plugin_layers_free(struct ui_layer *layers, int count) {
    for (int i = 0; layers && i < count; i++)
        g_free(layers[i].thumb);
    g_free(layers);
}
