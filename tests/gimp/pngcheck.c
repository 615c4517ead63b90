/* The GIMP tests' PNG helper.
 *   pngcheck make DIR                      writes a.png (40×30 RGB), ap.png (40×30 RGB) and b.png
 * (50×40 RGBA, alpha 64…255) with patterns pngcheck analogy A AP B OUT STRENGTH   checks OUT
 * against the fake pipeline's formula (tests/pipeline_fake.c) on the 8-bit inputs: within 1/255
 *   pngcheck count PNG R G B               prints how many pixels are within 3 of colour (R, G, B)
 * Exit 0 on success, 1 on a mismatch (printing the first ones and the largest difference). */
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct img {
    int            w, h;
    unsigned char *px; /* RGBA 8-bit */
};

static int load(const char *path, struct img *im) {
    png_image p;
    memset(&p, 0, sizeof p);
    p.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&p, path)) {
        fprintf(stderr, "%s: %s\n", path, p.message);
        return 0;
    }
    p.format = PNG_FORMAT_RGBA;
    im->w = (int)p.width, im->h = (int)p.height;
    im->px = malloc(PNG_IMAGE_SIZE(p));
    if (!im->px || !png_image_finish_read(&p, NULL, im->px, 0, NULL)) {
        fprintf(stderr, "%s: %s\n", path, p.message);
        return 0;
    }
    return 1;
}

static int save(const char *dir, const char *name, int w, int h, int alpha, int seed) {
    unsigned char *px = malloc((size_t)w * h * 4);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            unsigned char *p = px + ((size_t)y * w + x) * 4;
            p[0] = (unsigned char)((x * 5 + y * 3 + seed * 40) % 200 + 20);
            p[1] = (unsigned char)((x * 2 + y * 7 + seed * 25) % 180 + 30);
            p[2] = (unsigned char)((x * 11 + y + seed * 60) % 150 + 50);
            p[3] = alpha ? (unsigned char)(64 + (x * 3 + y * 5) % 192) : 255;
        }
    png_image p;
    memset(&p, 0, sizeof p);
    p.version = PNG_IMAGE_VERSION;
    p.width = (png_uint_32)w, p.height = (png_uint_32)h;
    p.format = alpha ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unsigned char *rgb = px;
    if (!alpha) { /* pack RGB */
        rgb = malloc((size_t)w * h * 3);
        for (int i = 0; i < w * h; i++)
            memcpy(rgb + i * 3, px + i * 4, 3);
    }
    int ok = png_image_write_to_file(&p, path, 0, rgb, 0, NULL);
    if (rgb != px) free(rgb);
    free(px);
    return ok;
}

static const unsigned char *at(const struct img *im, int x, int y, int w, int h) {
    int sx = (2 * x + 1) * im->w / (2 * w), sy = (2 * y + 1) * im->h / (2 * h);
    return im->px + ((size_t)sy * im->w + sx) * 4;
}

static int analogy(char **argv) {
    struct img a, ap, b, out;
    if (!load(argv[0], &a) || !load(argv[1], &ap) || !load(argv[2], &b) || !load(argv[3], &out))
        return 1;
    double s = atof(argv[4]);
    if (out.w != b.w || out.h != b.h) {
        printf("FAIL: b′ is %dx%d, b is %dx%d\n", out.w, out.h, b.w, b.h);
        return 1;
    }
    double worst = 0;
    int    bad = 0;
    for (int y = 0; y < b.h; y++)
        for (int x = 0; x < b.w; x++) {
            const unsigned char *pa = at(&a, x, y, b.w, b.h), *pap = at(&ap, x, y, b.w, b.h);
            const unsigned char *pb = b.px + ((size_t)y * b.w + x) * 4,
                                *po = out.px + ((size_t)y * b.w + x) * 4;
            for (int c = 0; c < 4; c++) {
                double e = c == 3 ? pb[3] : pb[c] + s * ((double)pap[c] - pa[c]);
                e = e < 0 ? 0 : e > 255 ? 255 : e;
                double d = fabs(e - po[c]);
                if (d > worst) worst = d;
                if (d > 1.01 && bad++ < 5)
                    printf("mismatch at (%d,%d) channel %d: b′ %d, expected %.1f\n", x, y, c, po[c],
                           e);
            }
        }
    printf("checked %dx%d: max |diff| = %.2f/255, %d bad\n", b.w, b.h, worst, bad);
    return bad ? 1 : 0;
}

static int count(char **argv) {
    struct img im;
    if (!load(argv[0], &im)) return 1;
    int want[3] = {atoi(argv[1]), atoi(argv[2]), atoi(argv[3])}, n = 0;
    for (int i = 0; i < im.w * im.h; i++)
        n += abs(im.px[i * 4] - want[0]) <= 3 && abs(im.px[i * 4 + 1] - want[1]) <= 3 &&
             abs(im.px[i * 4 + 2] - want[2]) <= 3;
    printf("%d\n", n);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "make"))
        return save(argv[2], "a.png", 40, 30, 0, 0) && save(argv[2], "ap.png", 40, 30, 0, 1) &&
                       save(argv[2], "b.png", 50, 40, 1, 2)
                   ? 0
                   : 1;
    if (argc == 7 && !strcmp(argv[1], "analogy")) return analogy(argv + 2);
    if (argc == 6 && !strcmp(argv[1], "count")) return count(argv + 2);
    fprintf(stderr, "usage: pngcheck make DIR | analogy A AP B OUT STRENGTH | count PNG R G B\n");
    return 2;
}
