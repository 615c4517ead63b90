/* CLIP's text cleaning and the Unicode classes its pre-tokeniser uses (internal to models/). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* Cleans `text` (UTF-8, `len` bytes; invalid bytes read as U+FFFD) as openai/CLIP's
 * SimpleTokenizer does before its regex: ftfy.fix_text, html.unescape twice, whitespace runs to one
 * space, stripped, lower-cased. *out (malloc'd, caller frees) gets *count code points.
 * LW_ERR_HOST_MEMORY is the only failure. */
enum lw_status tok_clean_clip(const char *text, size_t len, uint32_t **out, size_t *count);

/* Regex classes as Python's `regex` module sees them: \p{L}, \p{N}, \s. */
bool tok_uni_letter(uint32_t cp);
bool tok_uni_number(uint32_t cp);
bool tok_uni_space(uint32_t cp);
