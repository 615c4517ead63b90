/* PNG load/save (see image_io.h). */
#include "image_io.h"

#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

/* libjpeg reports errors through a callback that must not return: jump back to the loader. */
struct jpeg_failure {
    struct jpeg_error_mgr base;
    jmp_buf               jump;
    char                  message[JMSG_LENGTH_MAX];
};

static void jpeg_fail(j_common_ptr info) {
    struct jpeg_failure *f = (struct jpeg_failure *)info->err;
    info->err->format_message(info, f->message);
    longjmp(f->jump, 1);
}

static void jpeg_quiet(j_common_ptr info, int level) {
    (void)info, (void)level;
}

static enum lw_status jpeg_load(const char *path, float **pixels, int *width, int *height, struct lw_error *err) {
    FILE *file = fopen(path, "rb");
    if (!file) return lw_error_set(err, LW_ERR_FILE, "%s: cannot open: %m", path);
    struct jpeg_decompress_struct info;
    struct jpeg_failure           failure;
    uint8_t *volatile             row = NULL;
    float *volatile               out = NULL;
    info.err = jpeg_std_error(&failure.base);
    failure.base.error_exit = jpeg_fail;
    failure.base.emit_message = jpeg_quiet;
    if (setjmp(failure.jump)) {
        jpeg_destroy_decompress(&info);
        fclose(file);
        free(row), free(out);
        return lw_error_set(err, LW_ERR_FORMAT, "%s: not a readable JPEG (%s)", path, failure.message);
    }
    jpeg_create_decompress(&info);
    jpeg_stdio_src(&info, file);
    jpeg_read_header(&info, TRUE);
    info.out_color_space = JCS_RGB;
    jpeg_start_decompress(&info);
    if (info.output_width == 0 || info.output_height == 0 || info.output_width > 32768 || info.output_height > 32768 ||
        info.output_components != 3) {
        snprintf(failure.message, sizeof failure.message, "%u×%u pixels, %d components", info.output_width,
                 info.output_height, info.output_components);
        longjmp(failure.jump, 1);
    }
    size_t w = info.output_width, h = info.output_height;
    row = malloc(w * 3);
    out = malloc(w * h * 4 * sizeof(float));
    if (!row || !out) {
        snprintf(failure.message, sizeof failure.message, "out of host memory");
        longjmp(failure.jump, 1);
    }
    while (info.output_scanline < info.output_height) {
        size_t   y = info.output_scanline;
        JSAMPROW r = row;
        jpeg_read_scanlines(&info, &r, 1);
        for (size_t x = 0; x < w; x++) {
            for (int c = 0; c < 3; c++) out[(y * w + x) * 4 + c] = row[x * 3 + c] / 255.0f;
            out[(y * w + x) * 4 + 3] = 1.0f;
        }
    }
    jpeg_finish_decompress(&info);
    jpeg_destroy_decompress(&info);
    fclose(file);
    free(row);
    *pixels = out;
    *width = (int)w, *height = (int)h;
    return LW_OK;
}

enum lw_status image_load(const char *path, float **pixels, int *width, int *height, struct lw_error *err) {
    unsigned char magic[2] = {0};
    FILE         *probe = fopen(path, "rb");
    if (!probe) return lw_error_set(err, LW_ERR_FILE, "%s: cannot open: %m", path);
    size_t got = fread(magic, 1, 2, probe);
    fclose(probe);
    *pixels = NULL;
    if (got == 2 && magic[0] == 0xff && magic[1] == 0xd8) return jpeg_load(path, pixels, width, height, err);
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
