/* PNG and JPEG reading and writing (image_io.h) with libpng's and libjpeg's classic APIs. Both
 * libraries report fatal errors by longjmp: each reader keeps everything it allocates in a context
 * struct in memory (not in locals that setjmp could lose) and frees it on both paths. */
#include "image_io.h"

#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

static enum lw_status check_size(const char *path, long long w, long long h, struct lw_error *err) {
    if (w < 1 || h < 1 || w > 32768 || h > 32768 || w * h > IMAGE_MAX_PIXELS)
        return lw_error_set(err, LW_ERR_FORMAT,
                            "%s: %lld×%lld pixels (1 … 32768 a side, at most %lld in all)", path, w,
                            h, (long long)IMAGE_MAX_PIXELS);
    return LW_OK;
}

/* ---- PNG ---- */

struct png_ctx {
    const char *path;
    FILE       *file;
    png_structp png;
    png_infop   info;
    uint8_t    *data; /* (h, w, 4) samples of 1 or 2 bytes */
    png_bytep  *rows;
    char        message[200];
};

static void png_fail(png_structp png, png_const_charp msg) {
    struct png_ctx *c = png_get_error_ptr(png);
    snprintf(c->message, sizeof c->message, "%s", msg);
    png_longjmp(png, 1);
}

static void png_quiet(png_structp png, png_const_charp msg) {
    (void)png, (void)msg; /* warnings (bad ancillary chunks, …) do not stop reading */
}

static enum lw_status png_load(struct png_ctx *c, float **pixels, int *width, int *height,
                               struct lw_error *err) {
    c->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, c, png_fail, png_quiet);
    if (c->png) c->info = png_create_info_struct(c->png);
    if (!c->png || !c->info)
        return lw_error_set(err, LW_ERR_HOST_MEMORY, "%s: out of host memory", c->path);
    if (setjmp(png_jmpbuf(c->png)))
        return lw_error_set(err, LW_ERR_FORMAT, "%s: not a readable PNG (%s)", c->path, c->message);
    png_init_io(c->png, c->file);
    png_set_user_limits(c->png, 32768, 32768);
    png_read_info(c->png, c->info);
    png_uint_32 w, h;
    int         depth, type;
    png_get_IHDR(c->png, c->info, &w, &h, &depth, &type, NULL, NULL, NULL);
    enum lw_status status = check_size(c->path, w, h, err);
    if (status) return status;
    /* Everything to RGBA of 8 or 16 bits per sample. */
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(c->png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(c->png);
    if (png_get_valid(c->png, c->info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(c->png);
    if (type == PNG_COLOR_TYPE_GRAY || type == PNG_COLOR_TYPE_GRAY_ALPHA)
        png_set_gray_to_rgb(c->png);
    if (!(type & PNG_COLOR_MASK_ALPHA) && !png_get_valid(c->png, c->info, PNG_INFO_tRNS))
        png_set_add_alpha(c->png, 0xffff, PNG_FILLER_AFTER);
    if (depth == 16) png_set_swap(c->png); /* native little-endian uint16 */
    png_set_interlace_handling(c->png);
    png_read_update_info(c->png, c->info);
    int    bytes = png_get_bit_depth(c->png, c->info) == 16 ? 2 : 1;
    size_t row = (size_t)w * 4 * bytes;
    if (png_get_rowbytes(c->png, c->info) != row || png_get_channels(c->png, c->info) != 4)
        return lw_error_set(err, LW_ERR_FORMAT, "%s: unexpected PNG layout after conversion",
                            c->path);
    c->data = malloc(row * h);
    c->rows = malloc(h * sizeof *c->rows);
    float *out = malloc((size_t)w * h * 4 * sizeof *out);
    if (!c->data || !c->rows || !out) {
        free(out);
        return lw_error_set(err, LW_ERR_HOST_MEMORY, "%s: out of host memory for %u×%u pixels",
                            c->path, w, h);
    }
    *pixels = out; /* owned by the caller from here; freed by image_load on a later error */
    for (png_uint_32 y = 0; y < h; y++)
        c->rows[y] = c->data + row * y;
    png_read_image(c->png, c->rows);
    size_t n = (size_t)w * h * 4;
    if (bytes == 2)
        for (size_t i = 0; i < n; i++)
            out[i] = ((const uint16_t *)c->data)[i] / 65535.0f;
    else
        for (size_t i = 0; i < n; i++)
            out[i] = c->data[i] / 255.0f;
    *width = (int)w;
    *height = (int)h;
    return LW_OK;
}

/* ---- JPEG ---- */

/* libjpeg's error manager, extended: cinfo->err points at `pub`, the first member. */
struct jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf               jump;
    bool                  truncated;
    char                  message[JMSG_LENGTH_MAX];
};

static void jpeg_fail(j_common_ptr cinfo) {
    struct jpeg_err *e = (struct jpeg_err *)cinfo->err;
    cinfo->err->format_message(cinfo, e->message);
    longjmp(e->jump, 1);
}

static void jpeg_note(j_common_ptr cinfo, int level) {
    struct jpeg_err *e = (struct jpeg_err *)cinfo->err;
    /* libjpeg pads a truncated file with grey and only warns: we refuse it instead */
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) e->truncated = true;
}

struct jpeg_ctx {
    struct jpeg_err               e;
    struct jpeg_decompress_struct cinfo;
    bool                          created;
    uint8_t                      *row;
};

static enum lw_status jpeg_load(struct jpeg_ctx *c, const char *path, FILE *file, float **pixels,
                                int *width, int *height, struct lw_error *err) {
    struct jpeg_decompress_struct *ci = &c->cinfo;
    ci->err = jpeg_std_error(&c->e.pub);
    c->e.pub.error_exit = jpeg_fail;
    c->e.pub.emit_message = jpeg_note;
    if (setjmp(c->e.jump))
        return lw_error_set(err, LW_ERR_FORMAT, "%s: not a readable JPEG (%s)", path, c->e.message);
    jpeg_create_decompress(ci);
    c->created = true;
    jpeg_stdio_src(ci, file);
    jpeg_read_header(ci, TRUE);
    bool cmyk = ci->jpeg_color_space == JCS_CMYK || ci->jpeg_color_space == JCS_YCCK;
    ci->out_color_space = cmyk ? JCS_CMYK : ci->num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    enum lw_status status = check_size(path, ci->image_width, ci->image_height, err);
    if (status) return status;
    jpeg_start_decompress(ci);
    int w = (int)ci->output_width, h = (int)ci->output_height, comps = ci->output_components;
    if (comps != (cmyk ? 4 : ci->out_color_space == JCS_GRAYSCALE ? 1 : 3))
        return lw_error_set(err, LW_ERR_FORMAT, "%s: JPEG decodes to %d components", path, comps);
    c->row = malloc((size_t)w * comps);
    float *out = malloc((size_t)w * h * 4 * sizeof *out);
    if (!c->row || !out) {
        free(out);
        return lw_error_set(err, LW_ERR_HOST_MEMORY, "%s: out of host memory for %d×%d pixels",
                            path, w, h);
    }
    *pixels = out;
    /* Adobe writes CMYK inverted (stored = 255 − ink); without its marker we assume plain ink. */
    bool inverted = ci->saw_Adobe_marker;
    while (ci->output_scanline < ci->output_height) {
        JSAMPROW r = c->row;
        int      y = (int)ci->output_scanline;
        jpeg_read_scanlines(ci, &r, 1);
        for (int x = 0; x < w; x++) {
            float         *o = out + ((size_t)y * w + x) * 4;
            const uint8_t *s = c->row + (size_t)x * comps;
            if (comps == 1) {
                o[0] = o[1] = o[2] = s[0] / 255.0f;
            } else if (comps == 3) {
                for (int k = 0; k < 3; k++)
                    o[k] = s[k] / 255.0f;
            } else {
                int key = inverted ? s[3] : 255 - s[3];
                for (int k = 0; k < 3; k++)
                    o[k] = (inverted ? s[k] : 255 - s[k]) * key / (255.0f * 255.0f);
            }
            o[3] = 1;
        }
    }
    if (c->e.truncated)
        return lw_error_set(err, LW_ERR_FORMAT, "%s: truncated JPEG (premature end of data)", path);
    jpeg_finish_decompress(ci);
    *width = w;
    *height = h;
    return LW_OK;
}

enum lw_status image_load(const char *path, float **pixels, int *width, int *height,
                          struct lw_error *err) {
    *pixels = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return lw_error_set(err, LW_ERR_FILE, "%s: cannot open: %s", path, strerror(errno));
    uint8_t        magic[8] = {0};
    size_t         got = fread(magic, 1, sizeof magic, f);
    enum lw_status status;
    rewind(f);
    if (got == 8 && !png_sig_cmp(magic, 0, 8)) {
        struct png_ctx *c = calloc(1, sizeof *c);
        if (!c)
            status = lw_error_set(err, LW_ERR_HOST_MEMORY, "%s: out of host memory", path);
        else {
            c->path = path, c->file = f;
            status = png_load(c, pixels, width, height, err);
            png_destroy_read_struct(c->png ? &c->png : NULL, c->info ? &c->info : NULL, NULL);
            free(c->data), free(c->rows), free(c);
        }
    } else if (got >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF) {
        struct jpeg_ctx *c = calloc(1, sizeof *c);
        if (!c)
            status = lw_error_set(err, LW_ERR_HOST_MEMORY, "%s: out of host memory", path);
        else {
            status = jpeg_load(c, path, f, pixels, width, height, err);
            if (c->created) jpeg_destroy_decompress(&c->cinfo);
            free(c->row), free(c);
        }
    } else {
        status = lw_error_set(err, got ? LW_ERR_FORMAT : LW_ERR_FILE, "%s: %s", path,
                              got ? "not a PNG or JPEG file" : "empty or unreadable file");
    }
    fclose(f);
    if (status != LW_OK) {
        free(*pixels);
        *pixels = NULL;
    }
    return status;
}

static uint8_t to_u8(float v) {
    v = v > 0 ? (v < 1 ? v : 1) : 0; /* NaN → 0 */
    return (uint8_t)(v * 255.0f + 0.5f);
}

static bool has_suffix(const char *path, const char *suffix) {
    size_t n = strlen(path), k = strlen(suffix);
    return n >= k && !strcasecmp(path + n - k, suffix);
}

struct jpeg_write_ctx {
    struct jpeg_err             e;
    struct jpeg_compress_struct cinfo;
    uint8_t                    *row;
};

static enum lw_status jpeg_save(const char *path, FILE *f, const float *pixels, int w, int h,
                                struct lw_error *err) {
    struct jpeg_write_ctx *c = calloc(1, sizeof *c);
    if (!c) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    enum lw_status status = LW_OK;
    c->cinfo.err = jpeg_std_error(&c->e.pub);
    c->e.pub.error_exit = jpeg_fail;
    if (setjmp(c->e.jump)) {
        status = lw_error_set(err, LW_ERR_FILE, "%s: cannot write JPEG (%s)", path, c->e.message);
    } else {
        jpeg_create_compress(&c->cinfo);
        jpeg_stdio_dest(&c->cinfo, f);
        c->cinfo.image_width = (JDIMENSION)w;
        c->cinfo.image_height = (JDIMENSION)h;
        c->cinfo.input_components = 3;
        c->cinfo.in_color_space = JCS_RGB;
        jpeg_set_defaults(&c->cinfo);
        jpeg_set_quality(&c->cinfo, 95, TRUE);
        jpeg_start_compress(&c->cinfo, TRUE);
        c->row = malloc((size_t)w * 3);
        if (!c->row) {
            snprintf(c->e.message, sizeof c->e.message, "out of host memory");
            longjmp(c->e.jump, 1);
        }
        while (c->cinfo.next_scanline < c->cinfo.image_height) {
            const float *p = pixels + (size_t)c->cinfo.next_scanline * w * 4;
            for (int x = 0; x < w; x++)
                for (int k = 0; k < 3; k++)
                    c->row[x * 3 + k] = to_u8(p[x * 4 + k]);
            JSAMPROW r = c->row;
            jpeg_write_scanlines(&c->cinfo, &r, 1);
        }
        jpeg_finish_compress(&c->cinfo);
    }
    jpeg_destroy_compress(&c->cinfo);
    free(c->row), free(c);
    return status;
}

enum lw_status image_save(const char *path, const float *pixels, int width, int height,
                          struct lw_error *err) {
    if (width < 1 || height < 1)
        return lw_error_set(err, LW_ERR_ARGUMENT, "%s: cannot write a %d×%d image", path, width,
                            height);
    bool jpeg = has_suffix(path, ".jpg") || has_suffix(path, ".jpeg");
    if (jpeg) {
        FILE *f = fopen(path, "wb");
        if (!f)
            return lw_error_set(err, LW_ERR_FILE, "%s: cannot write: %s", path, strerror(errno));
        enum lw_status status = jpeg_save(path, f, pixels, width, height, err);
        if (fclose(f) != 0 && status == LW_OK)
            status = lw_error_set(err, LW_ERR_FILE, "%s: cannot write: %s", path, strerror(errno));
        return status;
    }
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)width;
    image.height = (png_uint_32)height;
    image.format = PNG_FORMAT_RGBA;
    size_t   n = (size_t)width * height * 4;
    uint8_t *bytes = malloc(n);
    if (!bytes) return lw_error_set(err, LW_ERR_HOST_MEMORY, "%s: out of host memory", path);
    for (size_t i = 0; i < n; i++)
        bytes[i] = to_u8(pixels[i]);
    int ok = png_image_write_to_file(&image, path, 0, bytes, 0, NULL);
    free(bytes);
    if (!ok)
        return lw_error_set(err, LW_ERR_FILE, "%s: cannot write PNG (%s)", path, image.message);
    return LW_OK;
}
