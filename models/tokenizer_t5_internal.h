/* The T5 tokenizer's model, shared by tokenizer_t5_load.c (reading spiece.model and tokenizer.json)
 * and tokenizer_t5.c (normalising and segmenting). Internal to models/. */
#pragma once

#include "tokenizer.h"
#include "tokenizer_util.h"

/* SentencePiece's piece types (sentencepiece_model.proto, ModelProto.SentencePiece.Type). */
enum t5_type {
    T5_NORMAL = 1,
    T5_UNKNOWN = 2,
    T5_CONTROL = 3,
    T5_USER_DEFINED = 4,
    T5_UNUSED = 5,
    T5_BYTE = 6,
};

struct t5_piece {
    double  score; /* spiece.model: a float32 log-probability; tokenizer.json: the JSON double */
    uint8_t type;
};

/* tokenizer.json normaliser steps after the character map, applied in file order. */
enum t5_step { T5_STEP_CHARSMAP, T5_STEP_COLLAPSE_SPACES, T5_STEP_STRIP };
#define T5_MAX_STEPS 8

/* tokenizer.json added tokens: split out of the raw text before normalisation, ids emitted as is.
 */
struct t5_added {
    char   *content;
    size_t  len;
    int32_t id;
    bool    lstrip, rstrip;
};

struct tok_t5 {
    struct t5_piece *pieces; /* (count) indexed by id */
    int32_t          count;
    struct tok_map   lookup;  /* piece → id for every piece the segmenter may match */
    size_t           longest; /* bytes of the longest piece in `lookup` */
    int32_t          unk_id, eos_id;
    int32_t          byte_ids[256]; /* "<0xXX>" pieces, -1 where absent */
    bool             byte_fallback;
    double           min_score, max_score; /* see tokenizer_t5.c for which pieces count */

    /* Precompiled character map: a Darts-clone double array and NUL-terminated replacements. */
    uint32_t *trie;
    size_t    trie_units;
    char     *pool;
    size_t    pool_size;

    /* spiece.model's NormalizerSpec */
    bool add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces;
    bool has_user_defined;

    /* tokenizer.json (Hugging Face `tokenizers`) instead of SentencePiece's own rules */
    bool             hf;
    struct t5_added *added;
    int              added_count;
    enum t5_step     steps[T5_MAX_STEPS];
    bool             strip_left[T5_MAX_STEPS], strip_right[T5_MAX_STEPS];
    int              step_count;
    bool             whitespace_split;           /* a WhitespaceSplit pre-tokenizer */
    bool             metaspace, metaspace_split; /* a Metaspace pre-tokenizer … */
    char             replacement[8];             /* … its replacement character, UTF-8 */
    enum { T5_PREPEND_ALWAYS, T5_PREPEND_FIRST, T5_PREPEND_NEVER } prepend;
};

/* Fills byte_ids, min/max scores and `longest` once pieces, types and `lookup` are set. */
enum lw_status t5_model_finish(struct tok_t5 *tok, const char *path, struct lw_error *err);
/* Checks a precompiled character map blob and copies it into tok->trie / tok->pool. */
enum lw_status t5_charsmap_set(struct tok_t5 *tok, const uint8_t *blob, size_t size,
                               const char *path, struct lw_error *err);
