/* Reads T5's tokenizer files into struct tok_t5: SentencePiece's `spiece.model` (a ModelProto
 * protobuf, parsed here field by field: pieces with scores and types, the trainer's model type and
 * byte_fallback, the normaliser's precompiled character map and whitespace flags; spec-lorweb.md
 * §4.4) and Hugging Face's `tokenizer.json` (a Unigram model, its added tokens, a Precompiled
 * normaliser and a Metaspace pre-tokenizer, as `T5TokenizerFast` reads them).
 *
 * Everything in a file is distrusted: lengths, offsets, ids and the double array are checked before
 * use, and a model the reference library would refuse (no unknown piece, duplicate or empty pieces,
 * a BPE model) is an error naming the file and the field. Only what T5-style unigram models use is
 * supported; anything else (other normalisers or pre-tokenizers) is LW_ERR_UNSUPPORTED, never a
 * silent approximation. */
#include "tokenizer_t5_internal.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILE_BYTES (256u << 20)
#define MAX_PIECES (1 << 24)

/* ---- protobuf wire format ---- */

struct pb {
    const uint8_t *p, *end;
};

static bool pb_varint(struct pb *b, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64 && b->p < b->end; shift += 7) {
        uint8_t c = *b->p++;
        *v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) return true;
    }
    return false;
}

/* Reads the next field: 1 and its number, wire type and value (varint/fixed) or sub-message,
 * 0 at the end of the message, -1 when malformed. Groups (wire types 3, 4) count as malformed. */
static int pb_next(struct pb *b, uint32_t *field, int *wire, uint64_t *v, struct pb *sub) {
    if (b->p == b->end) return 0;
    uint64_t key;
    if (!pb_varint(b, &key) || key >> 3 == 0 || key >> 3 > 0x1fffffff) return -1;
    *field = (uint32_t)(key >> 3), *wire = (int)(key & 7), *v = 0;
    size_t need = *wire == 1 ? 8 : *wire == 5 ? 4 : 0;
    switch (*wire) {
    case 0:
        return pb_varint(b, v) ? 1 : -1;
    case 1:
    case 5:
        if ((size_t)(b->end - b->p) < need) return -1;
        for (size_t i = 0; i < need; i++)
            *v |= (uint64_t)b->p[i] << (8 * i);
        b->p += need;
        return 1;
    case 2:
        if (!pb_varint(b, v) || *v > (uint64_t)(b->end - b->p)) return -1;
        sub->p = b->p, sub->end = b->p + *v;
        b->p += *v;
        return 1;
    default:
        return -1;
    }
}

static float pb_float(uint64_t v) {
    uint32_t bits = (uint32_t)v;
    float    f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* ---- shared model set-up ---- */

static bool byte_piece(const char *s, size_t len, int *byte) {
    static const char hex[] = "0123456789ABCDEF";
    if (len != 6 || memcmp(s, "<0x", 3) || s[5] != '>') return false;
    const char *hi = memchr(hex, s[3], 16), *lo = memchr(hex, s[4], 16);
    if (!hi || !lo || !s[3] || !s[4]) return false;
    *byte = (int)((hi - hex) * 16 + (lo - hex));
    return true;
}

enum lw_status t5_charsmap_set(struct tok_t5 *tok, const uint8_t *blob, size_t size,
                               const char *path, struct lw_error *err) {
    if (!size) return LW_OK; /* no map: the identity */
    /* little-endian uint32 trie size, the double array, then the replacement strings */
    if (size <= 4)
        return lw_error_set(err, LW_ERR_FORMAT, "%s: precompiled_charsmap of %zu bytes", path,
                            size);
    uint32_t trie_bytes = (uint32_t)blob[0] | (uint32_t)blob[1] << 8 | (uint32_t)blob[2] << 16 |
                          (uint32_t)blob[3] << 24;
    if (trie_bytes >= size - 4 + 1 || trie_bytes % 4 || !trie_bytes)
        return lw_error_set(err, LW_ERR_FORMAT,
                            "%s: precompiled_charsmap: trie of %u bytes in a blob of %zu", path,
                            trie_bytes, size);
    tok->trie_units = trie_bytes / 4;
    tok->pool_size = size - 4 - trie_bytes;
    tok->trie = malloc(trie_bytes);
    tok->pool = malloc(tok->pool_size + 1);
    if (!tok->trie || !tok->pool)
        return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    for (size_t i = 0; i < tok->trie_units; i++) {
        const uint8_t *u = blob + 4 + 4 * i;
        tok->trie[i] =
            (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
    }
    memcpy(tok->pool, blob + 4 + trie_bytes, tok->pool_size);
    tok->pool[tok->pool_size] = '\0'; /* a last replacement without its NUL still ends */
    return LW_OK;
}

enum lw_status t5_model_finish(struct tok_t5 *tok, const char *path, struct lw_error *err) {
    if (tok->unk_id < 0 || tok->unk_id >= tok->count)
        return lw_error_set(err, LW_ERR_MISSING, "%s: no unknown piece (<unk>)", path);
    if (tok->eos_id < 0)
        return lw_error_set(err, LW_ERR_MISSING, "%s: no end-of-sequence piece (</s>)", path);
    /* SentencePiece takes the score range over NORMAL pieces, starting from FLT_MAX / FLT_MIN (the
     * smallest positive float, as in unigram_model.cc); tokenizers over the whole vocabulary. */
    tok->min_score = tok->hf ? INFINITY : FLT_MAX;
    tok->max_score = tok->hf ? -INFINITY : FLT_MIN;
    for (int32_t i = 0; i < tok->count; i++) {
        if (!tok->hf && tok->pieces[i].type != T5_NORMAL) continue;
        if (tok->pieces[i].score < tok->min_score) tok->min_score = tok->pieces[i].score;
        if (tok->pieces[i].score > tok->max_score) tok->max_score = tok->pieces[i].score;
    }
    for (size_t i = 0; i <= tok->lookup.mask; i++)
        if (tok->lookup.slots[i].value >= 0 && tok->lookup.slots[i].len > tok->longest)
            tok->longest = tok->lookup.slots[i].len;
    return LW_OK;
}

static void note_byte_piece(struct tok_t5 *tok, const char *s, size_t len, int32_t id) {
    int b;
    if (byte_piece(s, len, &b) && tok->byte_ids[b] < 0) tok->byte_ids[b] = id;
}

/* ---- spiece.model ---- */

static enum lw_status load_spm(struct tok_t5 *tok, const uint8_t *data, size_t size,
                               const char *path, struct lw_error *err) {
    struct pb msg = {data, data + size}, sub, inner;
    uint32_t  field;
    int       wire, r;
    uint64_t  v;
    int32_t   n = 0, cap = 0;
    tok->add_dummy_prefix = tok->remove_extra_whitespaces = tok->escape_whitespaces = true;
    const uint8_t *charsmap = NULL;
    size_t         charsmap_size = 0;
    int32_t        eos_id = 2; /* TrainerSpec's default */
    uint64_t       model_type = 1;
    bool           suffix = false;
    if (!tok_map_init(&tok->lookup, 1024))
        return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    while ((r = pb_next(&msg, &field, &wire, &v, &sub)) == 1) {
        if (field == 1 && wire == 2) { /* SentencePiece {1: piece, 2: score, 3: type} */
            const uint8_t *piece = NULL;
            size_t         len = 0;
            float          score = 0;
            uint64_t       type = T5_NORMAL;
            while ((r = pb_next(&sub, &field, &wire, &v, &inner)) == 1) {
                if (field == 1 && wire == 2)
                    piece = inner.p, len = (size_t)v;
                else if (field == 2 && wire == 5)
                    score = pb_float(v);
                else if (field == 3 && wire == 0)
                    type = v;
            }
            if (r < 0)
                return lw_error_set(err, LW_ERR_FORMAT, "%s: piece %d: malformed protobuf", path,
                                    n);
            if (!piece || !len)
                return lw_error_set(err, LW_ERR_FORMAT, "%s: piece %d is empty", path, n);
            if (type < T5_NORMAL || type > T5_BYTE)
                return lw_error_set(err, LW_ERR_FORMAT, "%s: piece %d: type %llu", path, n,
                                    (unsigned long long)type);
            if (memchr(piece, 0, len))
                return lw_error_set(err, LW_ERR_FORMAT, "%s: piece %d contains a NUL byte", path,
                                    n);
            if (n == MAX_PIECES)
                return lw_error_set(err, LW_ERR_TOO_LARGE, "%s: more than %d pieces", path, n);
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                struct t5_piece *grown = realloc(tok->pieces, (size_t)cap * sizeof *grown);
                if (!grown) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
                tok->pieces = grown;
            }
            tok->pieces[n].score = score, tok->pieces[n].type = (uint8_t)type;
            if (type == T5_UNKNOWN) {
                if (tok->unk_id >= 0)
                    return lw_error_set(err, LW_ERR_FORMAT, "%s: two unknown pieces (%d, %d)", path,
                                        tok->unk_id, n);
                tok->unk_id = n;
            }
            if (len == 4 && !memcmp(piece, "</s>", 4)) tok->eos_id = n;
            if (type == T5_USER_DEFINED) tok->has_user_defined = true;
            note_byte_piece(tok, (const char *)piece, len, n);
            /* SentencePiece keeps NORMAL, USER_DEFINED and UNUSED pieces in its matching trie and
             * the rest apart; a piece defined twice is refused either way. */
            int32_t existing;
            if (!tok_map_put(&tok->lookup, (const char *)piece, len, n, &existing))
                return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
            if (existing >= 0)
                return lw_error_set(err, LW_ERR_FORMAT, "%s: piece %d \"%.*s\" repeats piece %d",
                                    path, n, (int)(len < 40 ? len : 40), (const char *)piece,
                                    existing);
            n++;
            tok->count = n;
        } else if (field == 2 && wire == 2) { /* TrainerSpec */
            while ((r = pb_next(&sub, &field, &wire, &v, &inner)) == 1) {
                if (field == 3 && wire == 0)
                    model_type = v;
                else if (field == 24 && wire == 0)
                    suffix = v != 0;
                else if (field == 35 && wire == 0)
                    tok->byte_fallback = v != 0;
                else if (field == 42 && wire == 0)
                    eos_id = (int32_t)v;
            }
            if (r < 0)
                return lw_error_set(err, LW_ERR_FORMAT, "%s: trainer_spec: malformed protobuf",
                                    path);
        } else if (field == 3 && wire == 2) { /* NormalizerSpec */
            while ((r = pb_next(&sub, &field, &wire, &v, &inner)) == 1) {
                if (field == 2 && wire == 2)
                    charsmap = inner.p, charsmap_size = (size_t)v;
                else if (field == 3 && wire == 0)
                    tok->add_dummy_prefix = v != 0;
                else if (field == 4 && wire == 0)
                    tok->remove_extra_whitespaces = v != 0;
                else if (field == 5 && wire == 0)
                    tok->escape_whitespaces = v != 0;
            }
            if (r < 0)
                return lw_error_set(err, LW_ERR_FORMAT, "%s: normalizer_spec: malformed protobuf",
                                    path);
        }
    }
    if (r < 0)
        return lw_error_set(err, LW_ERR_FORMAT,
                            "%s: not a SentencePiece model (malformed protobuf)", path);
    if (!n)
        return lw_error_set(err, LW_ERR_FORMAT, "%s: not a SentencePiece model (no pieces)", path);
    if (model_type != 1)
        return lw_error_set(err, LW_ERR_UNSUPPORTED,
                            "%s: trainer_spec.model_type %llu (only 1, unigram)", path,
                            (unsigned long long)model_type);
    if (suffix)
        return lw_error_set(err, LW_ERR_UNSUPPORTED, "%s: trainer_spec.treat_whitespace_as_suffix",
                            path);
    /* Only matchable pieces stay in the lookup. */
    for (size_t i = 0; i <= tok->lookup.mask; i++) {
        struct tok_map_slot *s = &tok->lookup.slots[i];
        uint8_t              type = s->key ? tok->pieces[s->value].type : 0;
        if (s->key && type != T5_NORMAL && type != T5_USER_DEFINED && type != T5_UNUSED)
            s->value = -1;
    }
    if (tok->eos_id < 0 && eos_id >= 0 && eos_id < n) tok->eos_id = eos_id;
    enum lw_status status = t5_charsmap_set(tok, charsmap, charsmap_size, path, err);
    return status ? status : t5_model_finish(tok, path, err);
}

/* ---- tokenizer.json ---- */

static int base64_value(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Decodes standard base64 (padding optional); NULL with *size = 0 on a bad character. */
static uint8_t *base64_decode(const char *s, size_t *size) {
    size_t   n = strlen(s), out = 0;
    uint8_t *data = malloc(n / 4 * 3 + 3);
    uint32_t acc = 0;
    int      bits = 0;
    *size = 0;
    for (size_t i = 0; data && i < n && s[i] != '='; i++) {
        int v = base64_value((unsigned char)s[i]);
        if (v < 0) {
            free(data);
            return NULL;
        }
        acc = acc << 6 | (uint32_t)v, bits += 6;
        if (bits >= 8) bits -= 8, data[out++] = (uint8_t)(acc >> bits);
    }
    *size = out;
    return data;
}

static const char *json_str(const cJSON *obj, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

static bool json_bool(const cJSON *obj, const char *key, bool fallback) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsBool(item) ? cJSON_IsTrue(item) : fallback;
}

static enum lw_status add_normalizer(struct tok_t5 *tok, const cJSON *n, const char *path,
                                     int depth, struct lw_error *err) {
    if (!n || cJSON_IsNull(n)) return LW_OK;
    const char *type = json_str(n, "type");
    if (!type || depth > 4)
        return lw_error_set(err, LW_ERR_FORMAT, "%s: normalizer without a type", path);
    if (!strcmp(type, "Sequence")) {
        const cJSON *item, *list = cJSON_GetObjectItemCaseSensitive(n, "normalizers");
        cJSON_ArrayForEach(item, list) {
            enum lw_status status = add_normalizer(tok, item, path, depth + 1, err);
            if (status) return status;
        }
        return LW_OK;
    }
    if (tok->step_count == T5_MAX_STEPS)
        return lw_error_set(err, LW_ERR_UNSUPPORTED, "%s: more than %d normalizers", path,
                            T5_MAX_STEPS);
    int step = tok->step_count;
    if (!strcmp(type, "Precompiled")) {
        const char *b64 = json_str(n, "precompiled_charsmap");
        if (tok->trie)
            return lw_error_set(err, LW_ERR_UNSUPPORTED, "%s: two Precompiled normalizers", path);
        size_t   size = 0;
        uint8_t *blob = b64 ? base64_decode(b64, &size) : NULL;
        if (b64 && !blob)
            return lw_error_set(err, LW_ERR_FORMAT, "%s: precompiled_charsmap is not base64", path);
        enum lw_status status = t5_charsmap_set(tok, blob, size, path, err);
        free(blob);
        if (status) return status;
        tok->steps[step] = T5_STEP_CHARSMAP;
    } else if (!strcmp(type, "Replace")) {
        /* the converters' " {2,}" → " ": runs of spaces become one */
        const cJSON *pattern = cJSON_GetObjectItemCaseSensitive(n, "pattern");
        const char  *regex = json_str(pattern, "Regex"), *content = json_str(n, "content");
        if (!regex || strcmp(regex, " {2,}") || !content || strcmp(content, " "))
            return lw_error_set(err, LW_ERR_UNSUPPORTED,
                                "%s: Replace normalizer other than \" {2,}\" → \" \"", path);
        tok->steps[step] = T5_STEP_COLLAPSE_SPACES;
    } else if (!strcmp(type, "Strip")) {
        tok->steps[step] = T5_STEP_STRIP;
        tok->strip_left[step] = json_bool(n, "strip_left", json_bool(n, "left", true));
        tok->strip_right[step] = json_bool(n, "strip_right", json_bool(n, "right", true));
    } else {
        return lw_error_set(err, LW_ERR_UNSUPPORTED, "%s: normalizer type %s", path, type);
    }
    tok->step_count++;
    return LW_OK;
}

static enum lw_status add_pre_tokenizer(struct tok_t5 *tok, const cJSON *p, const char *path,
                                        int depth, struct lw_error *err) {
    if (!p || cJSON_IsNull(p)) return LW_OK;
    const char *type = json_str(p, "type");
    if (!type || depth > 4)
        return lw_error_set(err, LW_ERR_FORMAT, "%s: pre_tokenizer without a type", path);
    if (!strcmp(type, "Sequence")) {
        const cJSON *item, *list = cJSON_GetObjectItemCaseSensitive(p, "pretokenizers");
        cJSON_ArrayForEach(item, list) {
            enum lw_status status = add_pre_tokenizer(tok, item, path, depth + 1, err);
            if (status) return status;
        }
        return LW_OK;
    }
    if (!strcmp(type, "WhitespaceSplit") && !tok->metaspace) {
        tok->whitespace_split = true;
        return LW_OK;
    }
    if (!strcmp(type, "Metaspace") && !tok->metaspace) {
        const char *rep = json_str(p, "replacement"), *scheme = json_str(p, "prepend_scheme");
        size_t      len = rep ? strlen(rep) : 0;
        if (!rep || !len || len >= sizeof tok->replacement)
            return lw_error_set(err, LW_ERR_FORMAT, "%s: Metaspace replacement", path);
        memcpy(tok->replacement, rep, len + 1);
        tok->metaspace = true;
        tok->metaspace_split = json_bool(p, "split", true);
        if (!scheme)
            tok->prepend =
                json_bool(p, "add_prefix_space", true) ? T5_PREPEND_ALWAYS : T5_PREPEND_NEVER;
        else if (!strcmp(scheme, "always"))
            tok->prepend = T5_PREPEND_ALWAYS;
        else if (!strcmp(scheme, "first"))
            tok->prepend = T5_PREPEND_FIRST;
        else if (!strcmp(scheme, "never"))
            tok->prepend = T5_PREPEND_NEVER;
        else
            return lw_error_set(err, LW_ERR_FORMAT, "%s: Metaspace prepend_scheme %s", path,
                                scheme);
        return LW_OK;
    }
    return lw_error_set(err, LW_ERR_UNSUPPORTED, "%s: pre_tokenizer %s here", path, type);
}

static enum lw_status load_json(struct tok_t5 *tok, const char *text, size_t size, const char *path,
                                struct lw_error *err) {
    tok->hf = true;
    cJSON *root = cJSON_ParseWithLength(text, size);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return lw_error_set(err, LW_ERR_FORMAT, "%s: not a JSON object", path);
    }
    enum lw_status status = LW_OK;
    const cJSON   *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON   *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON   *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_id");
    const char    *type = json_str(model, "type");
    int            n = cJSON_GetArraySize(vocab);
    if (!type || strcmp(type, "Unigram"))
        status = lw_error_set(err, LW_ERR_UNSUPPORTED, "%s: model.type %s (only Unigram)", path,
                              type ? type : "missing");
    else if (!cJSON_IsArray(vocab) || !n)
        status = lw_error_set(err, LW_ERR_FORMAT, "%s: model.vocab is not a list of [piece, score]",
                              path);
    else if (n > MAX_PIECES)
        status = lw_error_set(err, LW_ERR_TOO_LARGE, "%s: more than %d pieces", path, MAX_PIECES);
    else if (!(tok->pieces = calloc((size_t)n, sizeof *tok->pieces)) ||
             !tok_map_init(&tok->lookup, (size_t)n))
        status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    tok->count = n;
    if (!status) {
        tok->unk_id = cJSON_IsNumber(unk) && unk->valuedouble >= 0 && unk->valuedouble < n
                          ? unk->valueint
                          : -1;
        tok->byte_fallback = json_bool(model, "byte_fallback", false);
        const cJSON **entries = malloc((size_t)n * sizeof *entries), *entry;
        int           i = 0;
        if (!entries) status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
        cJSON_ArrayForEach(entry, vocab) if (entries) entries[i++] = entry;
        /* tokenizers maps a repeated piece to its last id: insert from the end, first insert wins
         */
        for (i = n - 1; i >= 0 && !status; i--) {
            const cJSON *piece = cJSON_GetArrayItem(entries[i], 0),
                        *score = cJSON_GetArrayItem(entries[i], 1);
            if (!cJSON_IsString(piece) || !cJSON_IsNumber(score) || !piece->valuestring[0]) {
                status = lw_error_set(err, LW_ERR_FORMAT,
                                      "%s: model.vocab[%d] is not [piece, score]", path, i);
                break;
            }
            size_t len = strlen(piece->valuestring);
            tok->pieces[i].score = score->valuedouble;
            tok->pieces[i].type = i == tok->unk_id ? T5_UNKNOWN : T5_NORMAL;
            if (!tok_map_put(&tok->lookup, piece->valuestring, len, i, NULL))
                status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
        }
        for (i = 0; i < n && !status; i++) {
            const char *piece = cJSON_GetArrayItem(entries[i], 0)->valuestring;
            if (tok_map_get(&tok->lookup, piece, strlen(piece)) == i)
                note_byte_piece(tok, piece, strlen(piece), i);
        }
        free(entries);
        tok->eos_id = tok_map_get(&tok->lookup, "</s>", 4);
    }
    const cJSON *item, *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    int          added_n = cJSON_GetArraySize(added);
    if (!status && added_n > 0 && !(tok->added = calloc((size_t)added_n, sizeof *tok->added)))
        status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    cJSON_ArrayForEach(item, added) {
        if (status) break;
        const char  *content = json_str(item, "content");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "id");
        if (!content || !content[0] || !cJSON_IsNumber(id) || id->valuedouble < 0 ||
            id->valuedouble > INT32_MAX) {
            status =
                lw_error_set(err, LW_ERR_FORMAT, "%s: added_tokens[%d] needs an id and a content",
                             path, tok->added_count);
            break;
        }
        struct t5_added *a = &tok->added[tok->added_count++];
        a->len = strlen(content), a->id = id->valueint;
        a->lstrip = json_bool(item, "lstrip", false), a->rstrip = json_bool(item, "rstrip", false);
        if (!(a->content = strdup(content)))
            status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
        if (!strcmp(content, "</s>")) tok->eos_id = a->id;
    }
    if (!status)
        status =
            add_normalizer(tok, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), path, 0, err);
    if (!status)
        status = add_pre_tokenizer(tok, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"),
                                   path, 0, err);
    cJSON_Delete(root);
    return status ? status : t5_model_finish(tok, path, err);
}

/* ---- public ---- */

enum lw_status tok_t5_load(const char *path, struct tok_t5 **out, struct lw_error *err) {
    *out = NULL;
    if (!path) return lw_error_set(err, LW_ERR_ARGUMENT, "T5 tokenizer: no path");
    char file[4200];
    snprintf(file, sizeof file, "%s", path);
    if (tok_is_dir(
            path)) { /* a folder: its spiece.model or tokenizer.json, or FLUX's tokenizer_2/ */
        static const char *const names[] = {"spiece.model", "tokenizer.json",
                                            "tokenizer_2/spiece.model",
                                            "tokenizer_2/tokenizer.json"};
        for (size_t i = 0; i < 4; i++) {
            snprintf(file, sizeof file, "%s/%s", path, names[i]);
            FILE *f = fopen(file, "rb");
            if (f) {
                fclose(f);
                break;
            }
            if (i == 3)
                return lw_error_set(err, LW_ERR_FILE, "%s: no spiece.model or tokenizer.json",
                                    path);
        }
    }
    char          *data = NULL;
    size_t         size = 0;
    enum lw_status status = tok_file_read(file, MAX_FILE_BYTES, &data, &size, err);
    if (status) return status;
    struct tok_t5 *tok = calloc(1, sizeof *tok);
    if (!tok) {
        free(data);
        return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    }
    tok->unk_id = tok->eos_id = -1;
    for (int b = 0; b < 256; b++)
        tok->byte_ids[b] = -1;
    size_t lead = 0;
    while (lead < size && strchr(" \t\r\n", data[lead]) && data[lead])
        lead++;
    status = lead < size && data[lead] == '{'
                 ? load_json(tok, data, size, file, err)
                 : load_spm(tok, (const uint8_t *)data, size, file, err);
    free(data);
    if (status) {
        tok_t5_destroy(tok);
        return status;
    }
    *out = tok;
    return LW_OK;
}

void tok_t5_destroy(struct tok_t5 *tok) {
    if (!tok) return;
    tok_map_free(&tok->lookup);
    for (int i = 0; i < tok->added_count; i++)
        free(tok->added[i].content);
    free(tok->added);
    free(tok->pieces);
    free(tok->trie);
    free(tok->pool);
    free(tok);
}

int32_t tok_t5_vocab_size(const struct tok_t5 *tok) {
    int32_t n = tok->count;
    for (int i = 0; i < tok->added_count; i++)
        if (tok->added[i].id >= n) n = tok->added[i].id + 1;
    return n;
}
