/* CLIP's byte-level BPE tokenizer (spec-lorweb.md §4.2), mirroring openai/CLIP simple_tokenizer.py
 * (the fixtures' reference; Hugging Face's CLIPTokenizer is the same apart from html.unescape).
 *
 * Text is cleaned by tokenizer_clean.c. Pre-tokens follow the reference regex, matched by hand:
 * the two special tokens, 's 't 're 've 'm 'll 'd, a run of letters, one digit, a run of other
 * non-space characters (case-insensitive, so U+017F ſ matches s). Each pre-token's UTF-8 bytes
 * become byte symbols, the last one with "</w>", and the lowest-ranked adjacent pair is merged
 * everywhere, left to right, until no ranked pair is left. Symbols are interned strings, so a merge
 * is a lookup of two symbol numbers. Only the first 48,894 merge lines count, as in the reference.
 * What it is not: a pre-token longer than 4,096 bytes is cut there (the reference's quadratic merge
 * loop would run for minutes on it), and tokenising stops once the 75 kept ids are known. */
#include "tokenizer.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_clean.h"
#include "tokenizer_util.h"

#define MAX_MERGES 48894 /* 49152 - 256 - 2 */
#define MAX_CONTENT 75
#define MAX_WORD 4096
#define MAX_FILE_BYTES (64u << 20)

struct tok_clip {
    struct tok_map symbols;   /* symbol string → symbol number */
    int32_t       *symbol_id; /* (symbol_count) vocabulary id, -1 outside the vocabulary */
    int32_t        symbol_count, symbol_cap;
    struct tok_map pairs;              /* two symbol numbers (8 bytes) → merge rank */
    int32_t        merged[MAX_MERGES]; /* rank → the merged symbol */
    int32_t        byte_symbol[256], byte_symbol_end[256]; /* a byte, alone and with "</w>" */
    int32_t        bos, eos, vocab_size;
};

/* The byte encoder: printable bytes keep their code point, the other 68 map to U+0100 on. */
static uint32_t byte_char(int b) {
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174) return (uint32_t)b;
    int n = 0;
    for (int k = 0; k < b; k++)
        n += !((k >= 33 && k <= 126) || (k >= 161 && k <= 172) || k >= 174);
    return 256u + (uint32_t)n;
}

/* ---- loading ---- */

static int32_t intern(struct tok_clip *t, const char *s, size_t len) {
    int32_t existing;
    if (t->symbol_count == t->symbol_cap) {
        int32_t  cap = t->symbol_cap ? t->symbol_cap * 2 : 1 << 16;
        int32_t *grown = realloc(t->symbol_id, (size_t)cap * sizeof *grown);
        if (!grown) return -1;
        t->symbol_id = grown, t->symbol_cap = cap;
    }
    if (!tok_map_put(&t->symbols, s, len, t->symbol_count, &existing)) return -1;
    if (existing >= 0) return existing;
    t->symbol_id[t->symbol_count] = -1;
    return t->symbol_count++;
}

static enum lw_status set_id(struct tok_clip *t, const char *s, size_t len, int32_t id) {
    int32_t sym = intern(t, s, len);
    if (sym < 0) return LW_ERR_HOST_MEMORY;
    t->symbol_id[sym] = id; /* a repeated key keeps its last id, as Python's dict does */
    if (id >= t->vocab_size) t->vocab_size = id + 1;
    return LW_OK;
}

static enum lw_status load_vocab_json(struct tok_clip *t, const char *path, struct lw_error *err) {
    char          *text;
    size_t         size;
    enum lw_status status = tok_file_read(path, MAX_FILE_BYTES, &text, &size, err);
    if (status) return status;
    cJSON *json = cJSON_ParseWithLength(text, size);
    free(text);
    if (!cJSON_IsObject(json)) {
        cJSON_Delete(json);
        return lw_error_set(err, LW_ERR_FORMAT, "%s: not a JSON object of token ids", path);
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, json) {
        double v = cJSON_IsNumber(item) ? item->valuedouble : -1;
        if (v < 0 || v > INT32_MAX - 1 || v != (double)(int32_t)v || !item->string) {
            status = lw_error_set(err, LW_ERR_FORMAT, "%s: entry \"%.40s\" is not a token id", path,
                                  item->string ? item->string : "?");
            break;
        }
        if (set_id(t, item->string, strlen(item->string), (int32_t)v))
            status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    }
    cJSON_Delete(json);
    return status;
}

/* Reads merge lines 1..48894 ("A B"; line 0 is the header). `rebuild`: OpenAI's file, whose
 * vocabulary is rebuilt from the merges; `strip`: Hugging Face strips the file first. */
static enum lw_status load_merges(struct tok_clip *t, const char *path, bool rebuild, bool strip,
                                  struct lw_error *err) {
    char          *text;
    size_t         size;
    enum lw_status status = tok_file_read(path, MAX_FILE_BYTES, &text, &size, err);
    if (status) return status;
    char *line = text;
    if (strip) line += strspn(line, " \t\r\n\v\f");
    int32_t next_id = 512;
    for (int32_t n = -1; line && n < MAX_MERGES && !status; n++) {
        char *end = strchr(line, '\n'), *next = end ? end + 1 : NULL;
        if (end) *end = '\0';
        if (n < 0) { /* the header */
            line = next;
            continue;
        }
        const char *ws = " \t\r\v\f";
        char       *a = line + strspn(line, ws);
        size_t      al = strcspn(a, ws);
        char       *b = a + al + strspn(a + al, ws);
        size_t      bl = strcspn(b, ws);
        bool        pair = al && bl && !b[bl + strspn(b + bl, ws)];
        char        joined[512];
        if (al + bl >= sizeof joined) pair = false;
        if (pair) {
            memcpy(joined, a, al), memcpy(joined + al, b, bl);
            int32_t sa = intern(t, a, al), sb = intern(t, b, bl), sab = intern(t, joined, al + bl);
            int32_t key[2] = {sa, sb};
            if (sa < 0 || sb < 0 || sab < 0 ||
                !tok_map_set(&t->pairs, (const char *)key, sizeof key, n))
                status = LW_ERR_HOST_MEMORY;
            t->merged[n] = sab;
            if (rebuild && !status) status = set_id(t, joined, al + bl, next_id);
        } else if (rebuild && !status) { /* the reference still appends ''.join(parts) */
            size_t k = 0;
            for (char *p = a; *p && k < sizeof joined; p++)
                if (!strchr(ws, *p)) joined[k++] = *p;
            status = set_id(t, joined, k, next_id);
        }
        next_id++;
        line = next;
    }
    free(text);
    if (status == LW_ERR_HOST_MEMORY) return lw_error_set(err, status, "out of host memory");
    if (rebuild && !status) {
        if (set_id(t, "<|startoftext|>", 15, next_id) ||
            set_id(t, "<|endoftext|>", 13, next_id + 1))
            return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    }
    return status;
}

enum lw_status tok_clip_load(const char *path, struct tok_clip **out, struct lw_error *err) {
    *out = NULL;
    if (!path) return lw_error_set(err, LW_ERR_ARGUMENT, "CLIP tokenizer: no path");
    char vocab[4200] = "", merges[4200] = "";
    bool openai = false;
    if (tok_is_dir(path)) { /* vocab.json + merges.txt, the OpenAI file, or FLUX's tokenizer/ */
        static const char *const dirs[] = {"", "/tokenizer"};
        for (int d = 0; d < 2 && !merges[0]; d++) {
            snprintf(vocab, sizeof vocab, "%s%s/vocab.json", path, dirs[d]);
            snprintf(merges, sizeof merges, "%s%s/merges.txt", path, dirs[d]);
            FILE *v = fopen(vocab, "rb"), *m = fopen(merges, "rb");
            if (!v || !m) merges[0] = '\0';
            if (v) fclose(v);
            if (m) fclose(m);
            if (!merges[0]) {
                snprintf(merges, sizeof merges, "%s%s/bpe_simple_vocab_16e6.txt.gz", path, dirs[d]);
                FILE *g = fopen(merges, "rb");
                openai = g != NULL;
                if (g)
                    fclose(g);
                else
                    merges[0] = '\0';
            }
        }
        if (!merges[0])
            return lw_error_set(err, LW_ERR_FILE,
                                "%s: no vocab.json + merges.txt or bpe_simple_vocab_16e6.txt.gz",
                                path);
    } else {
        const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
        int         dir = (int)(base - path);
        size_t      blen = strlen(base);
        if (!strncmp(base, "bpe_simple_vocab", 16) ||
            (blen > 3 && !strcmp(base + blen - 3, ".gz"))) {
            openai = true;
            snprintf(merges, sizeof merges, "%s", path);
        } else if (!strcmp(base, "merges.txt")) {
            snprintf(merges, sizeof merges, "%s", path);
            snprintf(vocab, sizeof vocab, "%.*svocab.json", dir, path);
        } else {
            snprintf(vocab, sizeof vocab, "%s", path);
            snprintf(merges, sizeof merges, "%.*smerges.txt", dir, path);
        }
    }
    struct tok_clip *t = calloc(1, sizeof *t);
    if (!t || !tok_map_init(&t->symbols, 1 << 17) || !tok_map_init(&t->pairs, MAX_MERGES)) {
        tok_clip_destroy(t);
        return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    }
    for (int i = 0; i < MAX_MERGES; i++)
        t->merged[i] = -1;
    enum lw_status status = LW_OK;
    for (int b = 0; b < 256 && !status; b++) { /* byte symbols, and OpenAI's first ids */
        char   s[8];
        size_t len = (size_t)tok_utf8_encode(byte_char(b), s);
        memcpy(s + len, "</w>", 4);
        t->byte_symbol[b] = intern(t, s, len);
        t->byte_symbol_end[b] = intern(t, s, len + 4);
        if (t->byte_symbol[b] < 0 || t->byte_symbol_end[b] < 0) status = LW_ERR_HOST_MEMORY;
    }
    if (openai && !status) { /* ids 0..511 in the byte encoder's order: printable bytes first */
        int32_t id = 0;
        for (int pass = 0; pass < 2; pass++)
            for (int b = 0; b < 256; b++) {
                bool printable = byte_char(b) == (uint32_t)b;
                if (printable != (pass == 0)) continue;
                t->symbol_id[t->byte_symbol[b]] = id;
                t->symbol_id[t->byte_symbol_end[b]] = id + 256;
                id++;
            }
        t->vocab_size = 512;
    }
    if (status) status = lw_error_set(err, status, "out of host memory");
    if (!status && !openai) status = load_vocab_json(t, vocab, err);
    if (!status) status = load_merges(t, merges, openai, !openai, err);
    if (!status) {
        t->bos = tok_map_get(&t->symbols, "<|startoftext|>", 15);
        t->eos = tok_map_get(&t->symbols, "<|endoftext|>", 13);
        t->bos = t->bos >= 0 ? t->symbol_id[t->bos] : -1;
        t->eos = t->eos >= 0 ? t->symbol_id[t->eos] : -1;
        if (t->bos < 0 || t->eos < 0)
            status = lw_error_set(err, LW_ERR_MISSING, "%s: no <|startoftext|> or <|endoftext|> id",
                                  openai ? merges : vocab);
    }
    if (status) {
        tok_clip_destroy(t);
        return status;
    }
    *out = t;
    return LW_OK;
}

void tok_clip_destroy(struct tok_clip *tok) {
    if (!tok) return;
    tok_map_free(&tok->symbols);
    tok_map_free(&tok->pairs);
    free(tok->symbol_id);
    free(tok);
}

int32_t tok_clip_vocab_size(const struct tok_clip *tok) {
    return tok->vocab_size;
}

/* ---- encoding ---- */

struct content {
    int32_t ids[MAX_CONTENT];
    int     count, limit;
};

static void emit(struct content *c, int32_t id) {
    if (c->count < c->limit) c->ids[c->count++] = id;
}

/* BPE of one pre-token's UTF-8 bytes w[0..m). `syms` has room for m symbols. */
static void bpe(const struct tok_clip *t, const unsigned char *w, size_t m, int32_t *syms,
                struct content *c) {
    for (size_t i = 0; i < m; i++)
        syms[i] = i + 1 < m ? t->byte_symbol[w[i]] : t->byte_symbol_end[w[i]];
    size_t n = m;
    while (n > 1) {
        int32_t best = INT32_MAX, first = -1, second = -1;
        for (size_t i = 0; i + 1 < n; i++) {
            int32_t key[2] = {syms[i], syms[i + 1]};
            int32_t rank = tok_map_get(&t->pairs, (const char *)key, sizeof key);
            if (rank >= 0 && rank < best) best = rank, first = syms[i], second = syms[i + 1];
        }
        if (best == INT32_MAX) break;
        size_t out = 0;
        for (size_t i = 0; i < n; i++) { /* every occurrence, left to right */
            if (i + 1 < n && syms[i] == first && syms[i + 1] == second)
                syms[out++] = t->merged[best], i++;
            else
                syms[out++] = syms[i];
        }
        n = out;
    }
    for (size_t i = 0; i < n; i++) {
        int32_t id = t->symbol_id[syms[i]];
        emit(c, id >= 0 ? id : t->eos); /* unknown symbols read as <|endoftext|> (HF's unk) */
    }
}

/* Case-insensitive match of the ASCII literal `lit` at cps[i..n) (ſ counts as s, as in the
 * reference's re.IGNORECASE). */
static bool match_literal(const uint32_t *cps, size_t n, size_t i, const char *lit) {
    for (size_t k = 0; lit[k]; k++) {
        if (i + k >= n) return false;
        uint32_t c = cps[i + k];
        if (c == 0x17f) c = 's';
        if (c != (uint32_t)lit[k]) return false;
    }
    return true;
}

enum lw_status tok_clip_encode(const struct tok_clip *tok, const char *text, int32_t *ids, int max,
                               int *count, struct lw_error *err) {
    if (!tok || !ids || !count || max < 2)
        return lw_error_set(err, LW_ERR_ARGUMENT, "CLIP tokenizer: room for %d ids", max);
    *count = 0;
    text = text ? text : "";
    uint32_t      *cps;
    size_t         n;
    unsigned char *word = malloc(MAX_WORD + 4);
    int32_t       *syms = malloc(MAX_WORD * sizeof *syms);
    if (!word || !syms || tok_clean_clip(text, strlen(text), &cps, &n)) {
        free(word), free(syms);
        return lw_error_set(err, LW_ERR_HOST_MEMORY, "CLIP tokenizer: out of host memory");
    }
    struct content           c = {.limit = max - 2 < MAX_CONTENT ? max - 2 : MAX_CONTENT};
    static const char *const tails[] = {"s", "t", "re", "ve", "m", "ll", "d"};
    for (size_t i = 0, j; i < n && c.count < c.limit; i = j) {
        uint32_t ch = cps[i];
        j = i + 1;
        if (tok_uni_space(ch)) continue;
        if (match_literal(cps, n, i, "<|startoftext|>")) {
            emit(&c, tok->bos), j = i + 15;
            continue;
        }
        if (match_literal(cps, n, i, "<|endoftext|>")) {
            emit(&c, tok->eos), j = i + 13;
            continue;
        }
        bool contraction = false;
        for (int k = 0; k < 7 && ch == '\'' && !contraction; k++)
            if (match_literal(cps, n, i + 1, tails[k]))
                j = i + 1 + strlen(tails[k]), contraction = true;
        if (!contraction && tok_uni_letter(ch))
            while (j < n && tok_uni_letter(cps[j]))
                j++;
        else if (!contraction && !tok_uni_number(ch))
            while (j < n && !tok_uni_space(cps[j]) && !tok_uni_letter(cps[j]) &&
                   !tok_uni_number(cps[j]))
                j++;
        size_t m = 0; /* the pre-token's UTF-8 bytes, cut at MAX_WORD */
        for (size_t k = i; k < j && m + 4 <= MAX_WORD; k++)
            m += (size_t)tok_utf8_encode(cps[k], (char *)word + m);
        bpe(tok, word, m, syms, &c);
    }
    free(cps), free(word), free(syms);
    ids[0] = tok->bos;
    memcpy(ids + 1, c.ids, (size_t)c.count * sizeof *ids);
    ids[c.count + 1] = tok->eos;
    *count = c.count + 2;
    return LW_OK;
}
