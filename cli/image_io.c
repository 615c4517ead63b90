/* PNG load/save (see image_io.h). */
#include "image_io.h"

#include <png.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum lw_status image_load(const char *path, float **pixels, int *width, int *height, struct lw_error *err) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    *pixels = NULL;
    if (!png_image_begin_read_from_file(&image, path))
        return lw_error_set(err, LW_ERR_FORMAT, "%s: not a readable PNG (%s)", path, image.message);
    if (image.width == 0 || image.height == 0 || image.width > 32768 || image.height > 32768) {
        png_image_free(&image);
        return lw_error_set(err, LW_ERR_FORMAT, "%s: %u×%u pixels (1 … 32768 a side)", path, image.width, image.height);
    }
    image.format = PNG_FORMAT_RGBA;
    size_t   n = (size_t)image.width * image.height;
    uint8_t *bytes = malloc(n * 4);
    float   *out = malloc(n * 4 * sizeof *out);
    if (!bytes || !out) {
        png_image_free(&image);
        free(bytes), free(out);
        return lw_error_set(err, LW_ERR_HOST_MEMORY, "%s: out of host memory", path);
    }
    if (!png_image_finish_read(&image, NULL, bytes, 0, NULL)) {
        free(bytes), free(out);
        return lw_error_set(err, LW_ERR_FORMAT, "%s: %s", path, image.message);
    }
    for (size_t i = 0; i < n * 4; i++) out[i] = bytes[i] / 255.0f;
    free(bytes);
    *pixels = out;
    *width = (int)image.width;
    *height = (int)image.height;
    return LW_OK;
}

enum lw_status image_save(const char *path, const float *pixels, int width, int height, struct lw_error *err) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)width;
    image.height = (png_uint_32)height;
    image.format = PNG_FORMAT_RGBA;
    size_t   n = (size_t)width * height * 4;
    uint8_t *bytes = malloc(n);
    if (!bytes) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    for (size_t i = 0; i < n; i++) {
        float v = pixels[i] < 0 ? 0 : pixels[i] > 1 ? 1 : pixels[i];
        bytes[i] = (uint8_t)(v * 255.0f + 0.5f);
    }
    int ok = png_image_write_to_file(&image, path, 0, bytes, 0, NULL);
    free(bytes);
    if (!ok) return lw_error_set(err, LW_ERR_FILE, "%s: cannot write PNG (%s)", path, image.message);
    return LW_OK;
}
