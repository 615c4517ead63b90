/* T5's SentencePiece unigram tokenizer (spec-lorweb.md §4.4), written in C rather than wrapped.
 *
 * Why not Debian's libsentencepiece: the reference reads `tokenizer.json` (T5TokenizerFast), which
 * that library cannot load, so a tokenizer of our own is needed anyway; a damaged spiece.model
 * makes the library throw a C++ exception that ends the process (a plug-in must report it
 * instead); and the engine stays plain C with one fewer runtime library. The library is the test
 * oracle instead: tests/test_t5_oracle.cc compares both on thousands of strings when it is present.
 *
 * What it does, in the reference's order. spiece.model (SentencePiece 0.1.97 normalizer.cc and
 * unigram_model.cc EncodeOptimized): at each position the longest match of the precompiled
 * character map (nmt_nfkc) or one UTF-8 character (invalid bytes → U+FFFD); leading, trailing and
 * repeated spaces dropped; a dummy "▁" prefix; spaces escaped to "▁"; Viterbi over the unigram
 * lattice with float path scores; <unk> (score: lowest NORMAL score − 10) for a character no piece
 * covers; runs of <unk> fused; byte fallback when the model has it. tokenizer.json (Hugging Face
 * tokenizers' Unigram): added tokens split from the raw text first, then the map and the listed
 * normalisers, WhitespaceSplit/Metaspace pre-tokenisation, the same Viterbi in double precision per
 * word. What it is not: HF applies the map per grapheme cluster, we per longest byte match as
 * SentencePiece does (they differ only for clusters the map has no entry for as a whole). Output
 * ends with the end-of-sequence id; padding is the caller's job. */
#include "tokenizer_t5_internal.h"

#include <stdlib.h>
#include <string.h>

#define SPACE_SYMBOL "\xe2\x96\x81" /* U+2581 "▁" */

struct buf {
    char  *data;
    size_t len, cap;
    bool   failed;
};

static void buf_add(struct buf *b, const char *s, size_t n) {
    if (b->failed || !n) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char  *grown = realloc(b->data, cap);
        if (!grown) {
            b->failed = true;
            return;
        }
        b->data = grown, b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

struct ids {
    int32_t *data;
    size_t   len, cap;
    bool     failed;
};

static void ids_add(struct ids *v, int32_t id) {
    if (v->failed) return;
    if (v->len == v->cap) {
        size_t   cap = v->cap ? v->cap * 2 : 64;
        int32_t *grown = realloc(v->data, cap * sizeof *grown);
        if (!grown) {
            v->failed = true;
            return;
        }
        v->data = grown, v->cap = cap;
    }
    v->data[v->len++] = id;
}

/* ---- normalisation ---- */

static uint32_t unit_offset(uint32_t u) {
    return (u >> 10) << ((u & (1u << 9)) >> 6);
}

/* Longest key of the map's double array (Darts-clone commonPrefixSearch) that prefixes s[0..n);
 * returns its length, 0 when none, and its replacement. Every index is checked against the array.
 */
static size_t charsmap_match(const struct tok_t5 *t, const unsigned char *s, size_t n,
                             const char **rep, size_t *rep_len) {
    const uint32_t *units = t->trie;
    if (!t->trie_units) return 0;
    size_t pos = unit_offset(units[0]), best = 0;
    for (size_t i = 0; i < n; i++) {
        pos ^= s[i];
        if (pos >= t->trie_units) break;
        uint32_t unit = units[pos];
        if ((unit & 0x800000ffu) != s[i]) break;
        pos ^= unit_offset(unit);
        if (pos >= t->trie_units) break;
        if ((unit >> 8) & 1) {
            uint32_t value = units[pos] & 0x7fffffffu;
            if (value >= t->pool_size) continue; /* a value outside the pool: no rule */
            *rep = t->pool + value;
            *rep_len = strnlen(*rep, t->pool_size - value);
            best = i + 1;
        }
    }
    return best;
}

/* One normalisation step at s[0..n) (n ≥ 1): a user-defined piece kept as is (SentencePiece's
 * prefix matcher), else the map's longest rule, else one UTF-8 character (an invalid byte becomes
 * U+FFFD). Returns the input bytes consumed; *out gets the replacement. */
static size_t norm_prefix(const struct tok_t5 *t, const char *s, size_t n, const char **out,
                          size_t *out_len) {
    if (t->has_user_defined) {
        for (size_t len = n < t->longest ? n : t->longest; len > 0; len--) {
            int32_t id = tok_map_get(&t->lookup, s, len);
            if (id >= 0 && t->pieces[id].type == T5_USER_DEFINED) {
                *out = s, *out_len = len;
                return len;
            }
        }
    }
    size_t len = charsmap_match(t, (const unsigned char *)s, n, out, out_len);
    if (len) return len;
    if (tok_utf8_decode((const unsigned char *)s, n, &len) == UINT32_MAX) {
        *out = "\xef\xbf\xbd", *out_len = 3;
        return 1;
    }
    *out = s, *out_len = len;
    return len;
}

/* SentencePiece's Normalizer::Normalize with its whitespace rules. */
static void normalize_spm(const struct tok_t5 *t, const char *s, size_t n, struct buf *out) {
    const char *rep;
    size_t      rep_len, used;
    if (t->remove_extra_whitespaces) /* leading whitespace */
        while (n && (used = norm_prefix(t, s, n, &rep, &rep_len)) && rep_len == 1 && rep[0] == ' ')
            s += used, n -= used;
    if (!n) return;
    if (t->add_dummy_prefix)
        buf_add(out, t->escape_whitespaces ? SPACE_SYMBOL : " ", t->escape_whitespaces ? 3 : 1);
    bool prev_space = t->remove_extra_whitespaces;
    while (n) {
        used = norm_prefix(t, s, n, &rep, &rep_len);
        if (prev_space && t->remove_extra_whitespaces)
            while (rep_len && rep[0] == ' ')
                rep++, rep_len--;
        if (rep_len) {
            for (size_t i = 0; i < rep_len; i++) {
                if (rep[i] == ' ' && t->escape_whitespaces)
                    buf_add(out, SPACE_SYMBOL, 3);
                else
                    buf_add(out, rep + i, 1);
            }
            prev_space = rep[rep_len - 1] == ' ';
        }
        if (!t->remove_extra_whitespaces) prev_space = false;
        s += used, n -= used;
    }
    if (t->remove_extra_whitespaces && !out->failed) { /* trailing whitespace */
        const char *sp = t->escape_whitespaces ? SPACE_SYMBOL : " ";
        size_t      sl = strlen(sp);
        while (out->len >= sl && !memcmp(out->data + out->len - sl, sp, sl))
            out->len -= sl;
    }
}

/* Unicode White_Space (Rust's char::is_whitespace), for tokenizers' WhitespaceSplit and Strip. */
static size_t whitespace_len(const char *s, size_t n) {
    size_t   len;
    uint32_t c = tok_utf8_decode((const unsigned char *)s, n, &len);
    bool     ws = (c >= 9 && c <= 13) || c == 32 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
              (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
              c == 0x205f || c == 0x3000;
    return ws ? len : 0;
}

/* Length of the whitespace character that ends s[0..n), 0 if none (they are all ≤ 3 bytes). */
static size_t whitespace_before(const char *s, size_t n) {
    for (size_t k = 1; k <= 3 && k <= n; k++)
        if (whitespace_len(s + n - k, k) == k) return k;
    return 0;
}

/* tokenizers' normaliser sequence on one segment between added tokens. */
static void normalize_hf(const struct tok_t5 *t, const char *s, size_t n, struct buf *out) {
    const char *rep;
    size_t      rep_len, used;
    for (size_t i = 0; i < n; i += used) { /* the map, or just U+FFFD for invalid bytes */
        used = norm_prefix(t, s + i, n - i, &rep, &rep_len);
        buf_add(out, rep, rep_len);
    }
    for (int k = 0; k < t->step_count && !out->failed && out->data; k++) {
        if (t->steps[k] == T5_STEP_COLLAPSE_SPACES) {
            size_t j = 0;
            for (size_t i = 0; i < out->len; i++)
                if (!(out->data[i] == ' ' && j && out->data[j - 1] == ' '))
                    out->data[j++] = out->data[i];
            out->len = j;
        } else if (t->steps[k] == T5_STEP_STRIP) {
            size_t start = 0, len;
            while (t->strip_left[k] && start < out->len &&
                   (len = whitespace_len(out->data + start, out->len - start)))
                start += len;
            memmove(out->data, out->data + start, out->len - start);
            out->len -= start;
            while (t->strip_right[k] && (len = whitespace_before(out->data, out->len)))
                out->len -= len;
        }
    }
}

/* ---- segmentation ---- */

struct node {
    double  score; /* best path score ending here (a float value for spiece.model) */
    int32_t start; /* where the last piece of that path starts, -1 when unreached */
    int32_t id;
};

static void emit_unknown(const struct tok_t5 *t, const char *s, size_t n, struct ids *out) {
    if (!t->byte_fallback) {
        ids_add(out, t->unk_id);
        return;
    }
    bool all = true; /* tokenizers falls back only if every byte has a piece */
    for (size_t i = 0; i < n; i++)
        all = all && t->byte_ids[(unsigned char)s[i]] >= 0;
    if (t->hf && !all) {
        ids_add(out, t->unk_id);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int32_t id = t->byte_ids[(unsigned char)s[i]];
        ids_add(out, id >= 0 ? id : t->unk_id);
    }
}

/* Viterbi over the unigram lattice of s[0..n) (a normalised string), then the pieces in order with
 * runs of <unk> fused. Lattice starts move by whole characters; a piece may end anywhere. */
static enum lw_status segment(const struct tok_t5 *t, const char *s, size_t n, struct ids *out) {
    if (!n) return LW_OK;
    if (n > INT32_MAX - 1) return LW_ERR_TOO_LARGE;
    struct node *best = malloc((n + 1) * sizeof *best);
    if (!best) return LW_ERR_HOST_MEMORY;
    for (size_t i = 0; i <= n; i++)
        best[i] = (struct node){0, -1, -1};
    /* spiece.model: float arithmetic as in unigram_model.cc; tokenizer.json: double */
    float unk_f = (float)t->min_score - 10.0f;
    for (size_t start = 0; start < n;) {
        double till = best[start].score;
        size_t mblen = (size_t) "\1\1\1\1\1\1\1\1\1\1\1\1\2\2\3\4"[(unsigned char)s[start] >> 4];
        if (mblen > n - start) mblen = n - start;
        bool     single = false;
        uint64_t h = tok_hash_start();
        size_t   limit = n - start < t->longest ? n - start : t->longest;
        for (size_t len = 1; len <= limit; len++) {
            h = tok_hash_step(h, (unsigned char)s[start + len - 1]);
            int32_t id = tok_map_get_hashed(&t->lookup, s + start, len, h);
            if (id < 0 || (!t->hf && t->pieces[id].type == T5_UNUSED)) continue;
            double score = t->pieces[id].score;
            if (!t->hf && t->pieces[id].type == T5_USER_DEFINED) /* always preferred */
                score = (double)((float)len * (float)t->max_score) - 0.1;
            double       cand = score + till;
            struct node *node = &best[start + len];
            if (node->start < 0 || cand > node->score) {
                node->score = t->hf ? cand : (double)(float)cand;
                node->start = (int32_t)start, node->id = id;
            }
            if (len == mblen) single = true;
        }
        if (!single) { /* no piece covers this character: an <unk> node over it */
            double       cand = t->hf ? t->min_score - 10.0 + till : (double)(unk_f + (float)till);
            struct node *node = &best[start + mblen];
            if (node->start < 0 || cand > node->score) {
                node->score = cand;
                node->start = (int32_t)start, node->id = t->unk_id;
            }
        }
        start += mblen;
    }
    /* Backtrack, reusing `best[end].score` as the link to the next piece (its end). */
    for (size_t end = n; end > 0;) {
        size_t start = (size_t)best[end].start;
        best[start].score = (double)end;
        end = start;
    }
    for (size_t start = 0; start < n;) {
        size_t end = (size_t)best[start].score;
        if (best[end].id == t->unk_id) {
            size_t run_end = end;
            while (run_end < n && best[(size_t)best[run_end].score].id == t->unk_id)
                run_end = (size_t)best[run_end].score;
            emit_unknown(t, s + start, run_end - start, out);
            start = run_end;
        } else {
            ids_add(out, best[end].id);
            start = end;
        }
    }
    free(best);
    return out->failed ? LW_ERR_HOST_MEMORY : LW_OK;
}

/* Pre-tokenises one normalised tokenizer.json segment (WhitespaceSplit, then Metaspace: spaces to
 * the replacement, a prefix per prepend scheme, a split before each replacement) and segments each
 * word. `first` is true for a segment at the start of the text (prepend scheme "first"). */
static enum lw_status segment_words(const struct tok_t5 *t, const char *s, size_t n, bool first,
                                    struct ids *out) {
    size_t rl = strlen(t->replacement), len;
    for (size_t i = 0, end, word = 0; i < n; i = end, word++) {
        if (t->whitespace_split) {
            while (i < n && (len = whitespace_len(s + i, n - i)))
                i += len;
            if (i == n) break;
            for (end = i; end < n && !whitespace_len(s + end, n - end); end += len)
                tok_utf8_decode((const unsigned char *)s + end, n - end, &len);
        } else {
            end = n;
        }
        if (!t->metaspace) {
            enum lw_status status = segment(t, s + i, end - i, out);
            if (status) return status;
            continue;
        }
        struct buf w = {0};
        bool       prefix = t->prepend == T5_PREPEND_ALWAYS ||
                      (t->prepend == T5_PREPEND_FIRST && first && word == 0 && i == 0);
        if (prefix && s[i] != ' ' && !(end - i >= rl && !memcmp(s + i, t->replacement, rl)))
            buf_add(&w, t->replacement, rl);
        for (size_t k = i; k < end; k++)
            buf_add(&w, s[k] == ' ' ? t->replacement : s + k, s[k] == ' ' ? rl : 1);
        enum lw_status status = w.failed ? LW_ERR_HOST_MEMORY : LW_OK;
        for (size_t a = 0, b; !status && a < w.len;
             a = b) { /* a piece per replacement (MergedWithNext) */
            for (b = a + 1; t->metaspace_split && b < w.len; b++)
                if (w.len - b >= rl && !memcmp(w.data + b, t->replacement, rl)) break;
            if (!t->metaspace_split) b = w.len;
            status = segment(t, w.data + a, b - a, out);
        }
        free(w.data);
        if (status) return status;
    }
    return LW_OK;
}

static enum lw_status encode_hf(const struct tok_t5 *t, const char *text, size_t n, size_t limit,
                                struct ids *out) {
    for (size_t i = 0, seg = 0; i <= n; i++) {
        const struct t5_added *match = NULL;
        for (int k = 0; i < n && k < t->added_count; k++) { /* leftmost-longest */
            const struct t5_added *a = &t->added[k];
            if (a->len <= n - i && !memcmp(text + i, a->content, a->len) &&
                (!match || a->len > match->len))
                match = a;
        }
        if (!match && i < n) continue;
        size_t seg_end = i, next = match ? i + match->len : n;
        if (match && match->lstrip)
            while (seg_end > seg && strchr(" \t\n\r\f\v", text[seg_end - 1]))
                seg_end--;
        if (match && match->rstrip)
            while (next < n && strchr(" \t\n\r\f\v", text[next]))
                next++;
        struct buf norm = {0};
        normalize_hf(t, text + seg, seg_end - seg, &norm);
        enum lw_status status = norm.failed        ? LW_ERR_HOST_MEMORY
                                : norm.len > limit ? LW_ERR_TOO_LARGE
                                                   : LW_OK;
        if (!status) status = segment_words(t, norm.data, norm.len, seg == 0, out);
        free(norm.data);
        if (status || !match) return status;
        ids_add(out, match->id);
        seg = next, i = next - 1;
    }
    return LW_OK;
}

enum lw_status tok_t5_encode(const struct tok_t5 *tok, const char *text, int32_t *ids, int max,
                             int *count, struct lw_error *err) {
    if (!tok || !ids || !count || max < 1)
        return lw_error_set(err, LW_ERR_ARGUMENT, "T5 tokenizer: room for %d ids", max);
    *count = 0;
    text = text ? text : "";
    size_t         n = strlen(text);
    size_t         limit = n * 16 + 4096; /* nmt_nfkc expands at most 11x (U+FDFA) */
    struct ids     out = {0};
    enum lw_status status;
    if (tok->hf) {
        status = encode_hf(tok, text, n, limit, &out);
    } else {
        struct buf norm = {0};
        normalize_spm(tok, text, n, &norm);
        status = norm.failed ? LW_ERR_HOST_MEMORY : norm.len > limit ? LW_ERR_TOO_LARGE : LW_OK;
        if (!status) status = segment(tok, norm.data, norm.len, &out);
        free(norm.data);
    }
    if (!status && out.failed) status = LW_ERR_HOST_MEMORY;
    if (status) {
        free(out.data);
        return lw_error_set(
            err, status, "T5 tokenizer: %s for %zu bytes of text",
            status == LW_ERR_TOO_LARGE ? "normalised text too long" : "out of host memory", n);
    }
    /* truncation keeps the end-of-sequence id, as the reference's truncation=True does */
    size_t keep = out.len < (size_t)max - 1 ? out.len : (size_t)max - 1;
    if (keep) memcpy(ids, out.data, keep * sizeof *ids);
    ids[keep] = tok->eos_id;
    *count = (int)keep + 1;
    free(out.data);
    return LW_OK;
}
