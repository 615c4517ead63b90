/* PNG and JPEG files: every PNG colour type and depth (grey 1/2/4/8/16, grey+alpha, RGB, RGBA at 8
 * and 16 bits, palette with tRNS, tRNS on grey, Adam7) written here with libpng's writer and read
 * back to the exact expected floats; JPEG grey, RGB and Adobe CMYK within JPEG's loss; save round
 * trips; and malformed input (empty, garbage, bad CRC, oversized header, every truncation of a
 * PNG and a JPEG) failing with a message naming the file, never crashing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "harness.h"
#include "image_io.h"

static char dir[] = "/tmp/lorweb-img-XXXXXX";

static const char *tmp(const char *name) {
    static char path[4][256];
    static int  next;
    char       *p = path[next++ % 4];
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

/* Writes a PNG of w×h samples (channels by colour type; values in the depth's range). */
static void write_png(const char *path, int w, int h, int type, int depth, int interlace,
                      const uint16_t *v, const png_color *palette, int n_palette,
                      const png_byte *trns, int n_trns, const png_color_16 *trns_color) {
    FILE       *f = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop   info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) abort();
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, type, interlace,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (palette) png_set_PLTE(png, info, palette, n_palette);
    if (trns || trns_color) png_set_tRNS(png, info, trns, n_trns, (png_color_16p)trns_color);
    png_write_info(png, info);
    int        ch = type == PNG_COLOR_TYPE_GRAY || type == PNG_COLOR_TYPE_PALETTE ? 1
                    : type == PNG_COLOR_TYPE_GRAY_ALPHA                           ? 2
                    : type == PNG_COLOR_TYPE_RGB                                  ? 3
                                                                                  : 4;
    size_t     rowbytes = ((size_t)w * ch * depth + 7) / 8;
    png_bytep *rows = malloc(h * sizeof *rows);
    for (int y = 0; y < h; y++) {
        rows[y] = calloc(rowbytes, 1);
        for (int i = 0; i < w * ch; i++) {
            unsigned s = v[(size_t)y * w * ch + i];
            if (depth == 16)
                rows[y][2 * i] = (png_byte)(s >> 8), rows[y][2 * i + 1] = (png_byte)s;
            else if (depth == 8)
                rows[y][i] = (png_byte)s;
            else
                rows[y][i * depth / 8] |= (png_byte)(s << (8 - depth - (i * depth) % 8));
        }
    }
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
    for (int y = 0; y < h; y++)
        free(rows[y]);
    free(rows);
}

static bool load_ok(const char *what, const char *path, const float *want, int w, int h,
                    double tol) {
    float          *px = NULL;
    int             gw = 0, gh = 0;
    struct lw_error err = {0};
    if (!th_check(image_load(path, &px, &gw, &gh, &err) == LW_OK && gw == w && gh == h,
                  "%s: load: %s (%d×%d)", what, err.message, gw, gh))
        return false;
    bool ok = th_check_close(what, px, want, (size_t)w * h * 4, tol, 0);
    free(px);
    return ok;
}

static void png_types(void) {
    const int w = 13, h = 7;
    uint16_t  v[13 * 7 * 4];
    float     want[13 * 7 * 4];
    for (int depth = 1; depth <= 16; depth *= 2) { /* grey 1, 2, 4, 8, 16 */
        unsigned max = (1u << depth) - 1;
        for (int p = 0; p < w * h; p++) {
            v[p] = (uint16_t)((p * 7919u) % (max + 1));
            want[4 * p] = want[4 * p + 1] = want[4 * p + 2] = (float)v[p] / max,
                     want[4 * p + 3] = 1;
        }
        char name[32];
        snprintf(name, sizeof name, "grey%d.png", depth);
        write_png(tmp(name), w, h, PNG_COLOR_TYPE_GRAY, depth, PNG_INTERLACE_NONE, v, NULL, 0, NULL,
                  0, NULL);
        load_ok(name, tmp(name), want, w, h, 1e-7);
    }
    const int types[4] = {PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA,
                          PNG_COLOR_TYPE_RGB};
    const int chans[4] = {2, 3, 4, 3};
    for (int t = 0; t < 4; t++)
        for (int depth = 8; depth <= 16; depth += 8) {
            unsigned max = (1u << depth) - 1;
            int      ch = chans[t];
            for (int p = 0; p < w * h; p++) {
                for (int c = 0; c < ch; c++)
                    v[p * ch + c] = (uint16_t)((p * 2654435761u + c * 40503u) % (max + 1));
                for (int c = 0; c < 3; c++)
                    want[4 * p + c] = (float)v[p * ch + (ch <= 2 ? 0 : c)] / max;
                want[4 * p + 3] = ch == 2 || ch == 4 ? (float)v[p * ch + ch - 1] / max : 1;
            }
            char name[48];
            snprintf(name, sizeof name, "type%d-%d%s.png", types[t], depth, t == 3 ? "-adam7" : "");
            write_png(tmp(name), w, h, types[t], depth,
                      t == 3 ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, v, NULL, 0, NULL, 0, NULL);
            load_ok(name, tmp(name), want, w, h, 1e-7);
        }
    /* Palette of 5 colours, two of them partly transparent through tRNS. */
    png_color pal[5] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {12, 34, 56}, {200, 100, 50}};
    png_byte  trns[2] = {0, 128};
    for (int p = 0; p < w * h; p++) {
        int i = p % 5;
        v[p] = (uint16_t)i;
        want[4 * p] = pal[i].red / 255.0f, want[4 * p + 1] = pal[i].green / 255.0f,
                 want[4 * p + 2] = pal[i].blue / 255.0f;
        want[4 * p + 3] = i < 2 ? trns[i] / 255.0f : 1;
    }
    write_png(tmp("palette.png"), w, h, PNG_COLOR_TYPE_PALETTE, 4, PNG_INTERLACE_NONE, v, pal, 5,
              trns, 2, NULL);
    load_ok("palette 4-bit with tRNS", tmp("palette.png"), want, w, h, 1e-7);
    /* Grey with a transparent grey value. */
    png_color_16 key = {.gray = 7};
    for (int p = 0; p < w * h; p++) {
        v[p] = (uint16_t)(p % 11);
        want[4 * p] = want[4 * p + 1] = want[4 * p + 2] = v[p] / 255.0f,
                 want[4 * p + 3] = v[p] == 7 ? 0 : 1;
    }
    write_png(tmp("greykey.png"), w, h, PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_NONE, v, NULL, 0,
              NULL, 0, &key);
    load_ok("grey 8 with a tRNS key", tmp("greykey.png"), want, w, h, 1e-7);
}

static void write_jpeg(const char *path, int w, int h, int comps, J_COLOR_SPACE space,
                       const uint8_t *px) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr       e;
    FILE                       *f = fopen(path, "wb");
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w, c.image_height = (JDIMENSION)h, c.input_components = comps,
    c.in_color_space = space;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 100, TRUE);
    for (int k = 0; k < comps; k++)
        c.comp_info[k].h_samp_factor = c.comp_info[k].v_samp_factor = 1; /* 4:4:4 */
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = (JSAMPROW)(px + (size_t)c.next_scanline * w * comps);
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
}

static void jpegs(void) {
    const int w = 37, h = 21;
    uint8_t   px[37 * 21 * 4];
    float     want[37 * 21 * 4];
    for (int y = 0; y < h; y++) /* smooth content: q100 stays within a few levels */
        for (int x = 0; x < w; x++) {
            int p = y * w + x;
            px[3 * p] = (uint8_t)(40 + 4 * x), px[3 * p + 1] = (uint8_t)(30 + 8 * y),
                   px[3 * p + 2] = (uint8_t)(120 + 2 * (x - y));
            for (int c = 0; c < 3; c++)
                want[4 * p + c] = px[3 * p + c] / 255.0f;
            want[4 * p + 3] = 1;
        }
    write_jpeg(tmp("rgb.jpg"), w, h, 3, JCS_RGB, px);
    load_ok("JPEG RGB", tmp("rgb.jpg"), want, w, h, 4 / 255.0);
    uint8_t cmyk[37 * 21 * 4]; /* Adobe CMYK as Photoshop stores it: inverted ink, K = 0 */
    for (int p = 0; p < w * h; p++)
        memcpy(cmyk + 4 * p, px + 3 * p, 3), cmyk[4 * p + 3] = 255;
    write_jpeg(tmp("cmyk.jpg"), w, h, 4, JCS_CMYK, cmyk);
    load_ok("JPEG Adobe CMYK", tmp("cmyk.jpg"), want, w, h, 4 / 255.0);
    for (int p = 0; p < w * h; p++) {
        px[p] = (uint8_t)(20 + (p % w) * 5);
        want[4 * p] = want[4 * p + 1] = want[4 * p + 2] = px[p] / 255.0f, want[4 * p + 3] = 1;
    }
    write_jpeg(tmp("grey.jpg"), w, h, 1, JCS_GRAYSCALE, px);
    load_ok("JPEG grey", tmp("grey.jpg"), want, w, h, 3 / 255.0);
}

static void saves(void) {
    const int       w = 19, h = 5;
    float           px[19 * 5 * 4], back[19 * 5 * 4];
    struct lw_error err = {0};
    for (int i = 0; i < w * h * 4; i++)
        px[i] = (float)((i * 37) % 256) / 255.0f;
    th_check(image_save(tmp("out.png"), px, w, h, &err) == LW_OK, "save PNG: %s", err.message);
    load_ok("PNG round trip of k/255 values", tmp("out.png"), px, w, h, 0);
    memcpy(back, px, sizeof px);
    back[0] = -3, back[1] = 7, back[2] = NAN, back[3] = 0.5f / 255; /* clamped, NaN → 0, rounded */
    image_save(tmp("clamp.png"), back, w, h, &err);
    back[0] = 0, back[1] = 1, back[2] = 0, back[3] = 1 / 255.0f;
    load_ok("save clamps and rounds", tmp("clamp.png"), back, w, h, 0);
    for (int p = 0; p < w * h; p++)
        px[4 * p + 3] = 1, px[4 * p] = px[4 * p + 1] = px[4 * p + 2] = 0.2f + 0.03f * (p % w);
    th_check(image_save(tmp("out.JPG"), px, w, h, &err) == LW_OK, "save JPEG by extension");
    load_ok("JPEG round trip", tmp("out.JPG"), px, w, h, 3 / 255.0);
    th_check(image_save("/nonexistent-dir/x.png", px, w, h, &err) == LW_ERR_FILE &&
                 strstr(err.message, "/nonexistent-dir/x.png"),
             "unwritable PNG path: %s", err.message);
    th_check(image_save("/nonexistent-dir/x.jpg", px, w, h, &err) == LW_ERR_FILE &&
                 strstr(err.message, "/nonexistent-dir/x.jpg"),
             "unwritable JPEG path: %s", err.message);
    th_check(image_save(tmp("zero.png"), px, 0, 5, &err) == LW_ERR_ARGUMENT, "0 width refused");
}

static void write_bytes(const char *path, const uint8_t *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

static uint8_t *read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    uint8_t *d = malloc(*n);
    if (fread(d, 1, *n, f) != *n) abort();
    fclose(f);
    return d;
}

static uint32_t crc32_png(const uint8_t *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
    return ~c;
}

static void expect_fail(const char *what, const char *path, enum lw_status want_status,
                        const char *needle) {
    float          *px = (float *)1;
    int             w, h;
    struct lw_error err = {0};
    enum lw_status  st = image_load(path, &px, &w, &h, &err);
    th_check(st == want_status && !px && strstr(err.message, path) &&
                 (!needle || strstr(err.message, needle)),
             "%s: status %d (want %d), message '%s'", what, st, want_status, err.message);
}

static void malformed(void) {
    write_bytes(tmp("empty.png"), NULL, 0);
    expect_fail("empty file", tmp("empty.png"), LW_ERR_FILE, "empty");
    write_bytes(tmp("text.png"), (const uint8_t *)"hello, world", 12);
    expect_fail("text", tmp("text.png"), LW_ERR_FORMAT, "not a PNG or JPEG");
    expect_fail("missing file", tmp("missing.png"), LW_ERR_FILE, "cannot open");

    size_t   n;
    uint8_t *png = read_bytes(tmp("type2-16.png"), &n); /* RGB 16-bit, 13×7 */
    uint8_t *bad = malloc(n);
    memcpy(bad, png, n);
    bad[29] ^= 0xff; /* the IHDR CRC */
    write_bytes(tmp("crc.png"), bad, n);
    expect_fail("IHDR CRC", tmp("crc.png"), LW_ERR_FORMAT, "PNG");
    memcpy(bad, png, n);
    bad[16] = 0, bad[17] = 0, bad[18] = 0x9c, bad[19] = 0x40; /* width 40000, CRC fixed */
    uint32_t crc = crc32_png(bad + 12, 17);
    bad[29] = (uint8_t)(crc >> 24), bad[30] = (uint8_t)(crc >> 16), bad[31] = (uint8_t)(crc >> 8),
    bad[32] = (uint8_t)crc;
    write_bytes(tmp("wide.png"), bad, n);
    expect_fail("width 40000", tmp("wide.png"), LW_ERR_FORMAT, NULL);
    /* Every truncation fails cleanly, except those that only lose the final IEND chunk (12 bytes):
     * all pixels are there, and they must be right. */
    size_t fine = 0;
    float *full = NULL;
    int    fw, fh;
    image_load(tmp("type2-16.png"), &full, &fw, &fh, NULL);
    for (size_t len = 0; len < n; len++) {
        write_bytes(tmp("cut.png"), png, len);
        float          *px = NULL;
        int             w, h;
        struct lw_error err = {0};
        enum lw_status  st = image_load(tmp("cut.png"), &px, &w, &h, &err);
        if (st == LW_OK ? len >= n - 12 && !memcmp(px, full, (size_t)fw * fh * 4 * sizeof *px)
                        : strstr(err.message, "cut.png") != NULL)
            fine++;
        else if (st == LW_OK)
            printf("  a PNG cut at %zu of %zu bytes was accepted\n", len, n);
        free(px);
    }
    free(full);
    th_check(fine == n,
             "all %zu truncations of a PNG refused with the file named, or complete (%zu)", n,
             fine);
    free(png), free(bad);

    uint8_t *jpg = read_bytes(tmp("rgb.jpg"), &n);
    size_t   failures = 0;
    for (size_t len = 0; len < n; len++) {
        write_bytes(tmp("cut.jpg"), jpg, len);
        float          *px = NULL;
        int             w, h;
        struct lw_error err = {0};
        if (image_load(tmp("cut.jpg"), &px, &w, &h, &err) != LW_OK &&
            strstr(err.message, "cut.jpg"))
            failures++;
        free(px);
    }
    th_check(failures == n, "all %zu truncations of a JPEG refused with the file named (%zu)", n,
             failures);
    write_bytes(tmp("half.jpg"), jpg, n - 10); /* inside the entropy-coded scan */
    expect_fail("JPEG cut in its scan", tmp("half.jpg"), LW_ERR_FORMAT, "truncated");
    memcpy(jpg + 20, "garbage garbage garbage garbage", 31);
    write_bytes(tmp("junk.jpg"), jpg, n);
    float          *px = NULL;
    int             w, h;
    struct lw_error err = {0};
    enum lw_status  st = image_load(tmp("junk.jpg"), &px, &w, &h, &err);
    th_check(st == LW_OK || (st == LW_ERR_FORMAT && strstr(err.message, "junk.jpg")),
             "junk in a JPEG header: %s", err.message);
    free(px), free(jpg);
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    png_types();
    jpegs();
    saves();
    malformed();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return th_finish();
}
