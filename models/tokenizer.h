/* Tokenizers for the text encoders (spec-lorweb.md §4.2, §4.4): CLIP's byte-level BPE and T5's
 * SentencePiece unigram model, both plain C.
 *
 * Ids come out unpadded: CLIP as [49406] + at most 75 content ids + [49407]; T5 as content ids +
 * the end-of-sequence id (1). Padding to 77 / 512 is the caller's job.
 *
 * Threading: a loaded tokenizer is immutable; encode calls may run concurrently on one handle.
 * Text is UTF-8; invalid bytes are read as U+FFFD, so no input is an error. Status codes:
 * LW_ERR_ARGUMENT (bad arguments), LW_ERR_FILE (cannot read), LW_ERR_FORMAT / LW_ERR_MISSING
 * (a file that is not what it claims), LW_ERR_UNSUPPORTED (a valid file using features we do not
 * implement), LW_ERR_TOO_LARGE, LW_ERR_HOST_MEMORY; `err` names the file and the field. */
#pragma once

#include <stdint.h>

#include "status.h"

struct tok_clip;
struct tok_t5;

/* Loads CLIP's vocabulary and merges. `path` is one of:
 *  - a folder holding vocab.json + merges.txt (Hugging Face / FLUX `tokenizer/`), or
 *    bpe_simple_vocab_16e6.txt.gz, or a `tokenizer/` subfolder with either (a FLUX model folder);
 *  - vocab.json or merges.txt (the other one beside it);
 *  - OpenAI's bpe_simple_vocab_16e6.txt[.gz] (the vocabulary is rebuilt from the merges).
 * *out is NULL on failure; the caller destroys it with tok_clip_destroy. */
enum lw_status tok_clip_load(const char *path, struct tok_clip **out, struct lw_error *err);
void           tok_clip_destroy(struct tok_clip *tok); /* NULL is a no-op */
/* Cleans `text` as the reference does (ftfy fixes, HTML entities, NFC, whitespace collapsed,
 * lower case) and writes [49406, content…, 49407] into ids: at most min(75, max − 2) content ids,
 * so truncation keeps both special ids. `max` ≥ 2; *count gets the number written. */
enum lw_status tok_clip_encode(const struct tok_clip *tok, const char *text, int32_t *ids, int max,
                               int *count, struct lw_error *err);
int32_t        tok_clip_vocab_size(const struct tok_clip *tok); /* 1 + the largest id */

/* Loads T5's tokenizer. `path` is spiece.model (SentencePiece protobuf), tokenizer.json (Hugging
 * Face, a Unigram model), or a folder holding one of them (spiece.model preferred), also in a
 * `tokenizer_2/` subfolder (a FLUX model folder). The caller destroys it with tok_t5_destroy. */
enum lw_status tok_t5_load(const char *path, struct tok_t5 **out, struct lw_error *err);
void           tok_t5_destroy(struct tok_t5 *tok); /* NULL is a no-op */
/* Writes content ids followed by the end-of-sequence id into ids: at most `max` ids (max ≥ 1),
 * content truncated to max − 1 so the end-of-sequence id survives. *count gets the number written.
 */
enum lw_status tok_t5_encode(const struct tok_t5 *tok, const char *text, int32_t *ids, int max,
                             int *count, struct lw_error *err);
int32_t        tok_t5_vocab_size(const struct tok_t5 *tok); /* 1 + the largest id */
