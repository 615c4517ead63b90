/* Image files for the command-line tool: PNG (libpng) and JPEG (libjpeg-turbo) in, PNG or JPEG out,
 * as float RGBA: sRGB-encoded values in [0, 1], straight (not premultiplied) alpha, rows of
 * width·4 floats, no padding.
 *
 * Reading handles every PNG colour type and depth (grey 1/2/4/8/16, grey+alpha, RGB, RGBA, palette,
 * tRNS transparency, Adam7 interlacing; 16-bit samples keep their precision, /65535) and JPEG in
 * grey, RGB/YCbCr and CMYK/YCCK (Adobe's inverted CMYK when the file says so). Stored values are
 * taken as they are: gAMA, cHRM, iCCP and EXIF orientation are ignored. The format is chosen by the
 * file's signature, not its name. Malformed, truncated or oversized files fail with one message
 * naming the file (libpng's and libjpeg's fatal errors are caught with their longjmp), never a
 * crash. Every call is independent and keeps no state. */
#pragma once

#include "status.h"

/* Largest image read: 32768 pixels a side and IMAGE_MAX_PIXELS pixels in all (16 bytes each as
 * floats). Fuzzing builds lower the total to keep allocations small. */
#ifndef IMAGE_MAX_PIXELS
#define IMAGE_MAX_PIXELS ((long long)1 << 28)
#endif

/* Allocates *pixels (width·height·4 floats); the caller frees it with free(). LW_ERR_FILE when the
 * file cannot be opened or read, LW_ERR_FORMAT for anything malformed, truncated or too large,
 * LW_ERR_HOST_MEMORY. */
enum lw_status image_load(const char *path, float **pixels, int *width, int *height,
                          struct lw_error *err);

/* Writes `pixels` (width·height·4 floats as above, clamped to [0, 1], rounded to 8 bits): JPEG
 * (quality 95, alpha dropped) when the name ends in .jpg or .jpeg, otherwise 8-bit RGBA PNG.
 * LW_ERR_FILE when it cannot be written, LW_ERR_ARGUMENT for a size < 1. */
enum lw_status image_save(const char *path, const float *pixels, int width, int height,
                          struct lw_error *err);
