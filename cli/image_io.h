/* PNG and JPEG reading (by content) and PNG writing for the command-line tool, as float RGBA (sRGB values in [0, 1],
 * straight alpha) through libpng's simplified API: grey, palette, 16-bit and alpha-less files are
 * converted. Errors name the file; malformed files fail cleanly. */
#pragma once

#include "status.h"

/* Allocates *pixels (width·height·4 floats); the caller frees it. */
enum lw_status image_load(const char *path, float **pixels, int *width, int *height, struct lw_error *err);
enum lw_status image_save(const char *path, const float *pixels, int width, int height, struct lw_error *err);
