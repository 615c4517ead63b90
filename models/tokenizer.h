/* Tokenizers for the text encoders: CLIP's byte-level BPE (vocab.json + merges.txt) and T5's
 * SentencePiece unigram model (spiece.model). Ids come out unpadded: CLIP with its start (49406) and
 * end (49407) ids and at most 75 content ids; T5 ending with the end-of-sequence id 1. Padding to
 * 77 / 512 is the pipeline's job. */
#pragma once

#include <stdint.h>

#include "status.h"

struct tok_clip;
struct tok_t5;

/* `path`: a folder holding vocab.json and merges.txt, or the vocab.json itself (merges.txt beside). */
enum lw_status tok_clip_load(const char *path, struct tok_clip **out, struct lw_error *err);
void           tok_clip_destroy(struct tok_clip *tok);
/* Writes up to `max` ids; *count gets how many. */
enum lw_status tok_clip_encode(struct tok_clip *tok, const char *text, int32_t *ids, int max, int *count,
                               struct lw_error *err);

/* `path`: spiece.model or a folder holding it. */
enum lw_status tok_t5_load(const char *path, struct tok_t5 **out, struct lw_error *err);
void           tok_t5_destroy(struct tok_t5 *tok);
enum lw_status tok_t5_encode(struct tok_t5 *tok, const char *text, int32_t *ids, int max, int *count,
                             struct lw_error *err);
