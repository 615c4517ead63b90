/* CLIP's byte-level BPE tokenizer (spec-lorweb.md §4.2; Hugging Face CLIPTokenizer with ftfy).
 *
 * Text cleaning: the ftfy fixes that change prompts in practice — HTML entities, curly quotes,
 * Latin ligatures, full-width forms — then canonical composition (NFC), whitespace collapsed,
 * lower-cased. ftfy's mojibake repair is not replicated. Pre-tokens follow the reference regex
 * (special tokens, 's 't 're 've 'm 'll 'd, runs of letters, single digits, runs of other non-space
 * characters); each is byte-encoded and merged by rank. Vocabulary and merges live in hash tables. */
#include "tokenizer.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "unicode_tables.h"

#define CLIP_BOS 49406
#define CLIP_EOS 49407
#define MAX_MERGES 48894

struct entry {
    char   *key;
    int32_t value;
};

struct table {
    struct entry *slots;
    size_t        mask;
};

struct tok_clip {
    struct table vocab;  /* symbol → id */
    struct table merges; /* "a b" → rank */
    uint32_t     byte_symbol[256];
};

static uint64_t hash(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

static bool table_init(struct table *t, size_t entries) {
    size_t size = 1;
    while (size < entries * 2) size <<= 1;
    t->slots = calloc(size, sizeof *t->slots);
    t->mask = size - 1;
    return t->slots != NULL;
}

static bool table_put(struct table *t, const char *key, int32_t value) {
    size_t i = hash(key, strlen(key)) & t->mask;
    while (t->slots[i].key) {
        if (!strcmp(t->slots[i].key, key)) return true; /* first wins, as in the reference dicts */
        i = (i + 1) & t->mask;
    }
    t->slots[i].key = strdup(key);
    t->slots[i].value = value;
    return t->slots[i].key != NULL;
}

static int32_t table_get(const struct table *t, const char *key, size_t n) {
    size_t i = hash(key, n) & t->mask;
    while (t->slots[i].key) {
        if (strlen(t->slots[i].key) == n && !memcmp(t->slots[i].key, key, n)) return t->slots[i].value;
        i = (i + 1) & t->mask;
    }
    return -1;
}

static void table_free(struct table *t) {
    for (size_t i = 0; t->slots && i <= t->mask; i++) free(t->slots[i].key);
    free(t->slots);
}

static char *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char  *data = NULL;
    size_t n = 0, cap = 0, got;
    char   chunk[65536];
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (n + got + 1 > cap) {
            cap = (n + got + 1) * 2;
            char *grown = realloc(data, cap);
            if (!grown) {
                free(data);
                fclose(f);
                return NULL;
            }
            data = grown;
        }
        memcpy(data + n, chunk, got);
        n += got;
    }
    fclose(f);
    if (!data) data = calloc(1, 1);
    else data[n] = '\0';
    *size = n;
    return data;
}

static int utf8_put(uint32_t cp, char *out) {
    if (cp < 0x80) return out[0] = (char)cp, 1;
    if (cp < 0x800) return out[0] = (char)(0xc0 | cp >> 6), out[1] = (char)(0x80 | (cp & 63)), 2;
    if (cp < 0x10000)
        return out[0] = (char)(0xe0 | cp >> 12), out[1] = (char)(0x80 | ((cp >> 6) & 63)), out[2] = (char)(0x80 | (cp & 63)), 3;
    out[0] = (char)(0xf0 | cp >> 18), out[1] = (char)(0x80 | ((cp >> 12) & 63));
    out[2] = (char)(0x80 | ((cp >> 6) & 63)), out[3] = (char)(0x80 | (cp & 63));
    return 4;
}

/* Decodes one UTF-8 character; invalid bytes decode as U+FFFD and advance by one. */
static uint32_t utf8_get(const unsigned char *s, size_t n, size_t *len) {
    unsigned char c = s[0];
    int           need = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : -1;
    if (need < 0 || (size_t)need + 1 > n) {
        *len = 1;
        return 0xfffd;
    }
    if (need == 0) {
        *len = 1;
        return c;
    }
    uint32_t cp = need == 1 ? c & 0x1f : need == 2 ? c & 0x0f : c & 0x07;
    for (int i = 1; i <= need; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *len = 1;
            return 0xfffd;
        }
        cp = cp << 6 | (s[i] & 0x3f);
    }
    *len = (size_t)need + 1;
    return cp;
}

static bool in_ranges(const struct uni_range *r, unsigned n, uint32_t cp) {
    unsigned lo = 0, hi = n;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (cp < r[mid].first) hi = mid;
        else if (cp > r[mid].last) lo = mid + 1;
        else return true;
    }
    return false;
}

static bool is_letter(uint32_t cp) { return in_ranges(uni_letters, uni_letters_count, cp); }
static bool is_number(uint32_t cp) { return in_ranges(uni_numbers, uni_numbers_count, cp); }
static bool is_space(uint32_t cp) { return in_ranges(uni_spaces, uni_spaces_count, cp); }

static uint32_t to_lower(uint32_t cp) {
    unsigned lo = 0, hi = uni_lower_count;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (cp < uni_lower[mid].from) hi = mid;
        else if (cp > uni_lower[mid].from) lo = mid + 1;
        else return uni_lower[mid].to;
    }
    return cp;
}

static uint32_t compose(uint32_t base, uint32_t mark) {
    for (unsigned i = 0; i < uni_compose_count; i++) /* short table, rare lookups */
        if (uni_compose[i].base == base && uni_compose[i].mark == mark) return uni_compose[i].composed;
    return 0;
}

/* ftfy-style fixes of one code point (0 = drop), possibly expanding to a short ASCII string. */
static const char *fix_char(uint32_t cp, uint32_t *out) {
    static const struct {
        uint32_t    cp;
        const char *text;
    } ligatures[] = {{0xfb00, "ff"}, {0xfb01, "fi"}, {0xfb02, "fl"}, {0xfb03, "ffi"}, {0xfb04, "ffl"},
                     {0xfb05, "st"}, {0xfb06, "st"}, {0x0132, "IJ"}, {0x0133, "ij"}, {0x01c7, "LJ"},
                     {0x01c8, "Lj"}, {0x01c9, "lj"}, {0x01ca, "NJ"}, {0x01cb, "Nj"}, {0x01cc, "nj"}};
    for (size_t i = 0; i < sizeof ligatures / sizeof ligatures[0]; i++)
        if (ligatures[i].cp == cp) return ligatures[i].text;
    if (cp >= 0xff01 && cp <= 0xff5e) cp -= 0xfee0; /* full-width ASCII */
    else if (cp == 0x3000) cp = ' ';
    else if (cp == 0x2018 || cp == 0x2019 || cp == 0x201a || cp == 0x201b) cp = '\'';
    else if (cp == 0x201c || cp == 0x201d || cp == 0x201e || cp == 0x201f) cp = '"';
    *out = cp;
    return NULL;
}

/* Cleans `text` into code points: HTML entities, ftfy fixes, NFC, whitespace collapse, lowercase. */
static uint32_t *clean(const char *text, size_t *count) {
    size_t    n = strlen(text), m = 0;
    uint32_t *cps = malloc((n * 3 + 1) * sizeof *cps);
    if (!cps) return NULL;
    static const struct {
        const char *entity;
        uint32_t    cp;
    } entities[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&#39;", '\''}, {"&apos;", '\''}};
    for (size_t i = 0; i < n;) {
        bool entity = false;
        for (size_t e = 0; e < sizeof entities / sizeof entities[0] && !entity; e++) {
            size_t len = strlen(entities[e].entity);
            if (!strncmp(text + i, entities[e].entity, len)) cps[m++] = entities[e].cp, i += len, entity = true;
        }
        if (entity) continue;
        size_t   len;
        uint32_t cp = utf8_get((const unsigned char *)text + i, n - i, &len), fixed = 0;
        i += len;
        const char *expansion = fix_char(cp, &fixed);
        if (expansion)
            for (const char *c = expansion; *c; c++) cps[m++] = (uint32_t)*c;
        else if (m && compose(cps[m - 1], fixed))
            cps[m - 1] = compose(cps[m - 1], fixed);
        else cps[m++] = fixed;
    }
    /* collapse whitespace, strip, lowercase */
    size_t k = 0;
    bool   space = true;
    for (size_t i = 0; i < m; i++) {
        if (is_space(cps[i])) {
            if (!space) cps[k++] = ' ';
            space = true;
        } else {
            cps[k++] = to_lower(cps[i]);
            space = false;
        }
    }
    if (k && cps[k - 1] == ' ') k--;
    *count = k;
    return cps;
}

/* BPE of one pre-token (code points) appended to ids. */
static enum lw_status bpe(const struct tok_clip *tok, const uint32_t *cps, size_t n, int32_t *ids, int max,
                          int *count, struct lw_error *err) {
    /* symbols: byte-encoded strings, the last one with "</w>" */
    char   utf8[4 * 64 + 8];
    size_t bytes = 0;
    char   buf[4096];
    size_t symbols = 0, start[1024], len[1024];
    for (size_t i = 0; i < n; i++) {
        int k = utf8_put(cps[i], utf8);
        for (int b = 0; b < k && symbols < 1000; b++) {
            char sym[8];
            int  sl = utf8_put(tok->byte_symbol[(uint8_t)utf8[b]], sym);
            if (bytes + (size_t)sl + 5 >= sizeof buf) break;
            start[symbols] = bytes, len[symbols] = (size_t)sl;
            memcpy(buf + bytes, sym, (size_t)sl);
            bytes += (size_t)sl, symbols++;
        }
    }
    if (!symbols) return LW_OK;
    memcpy(buf + bytes, "</w>", 4);
    len[symbols - 1] += 4, bytes += 4;
    /* Symbols are contiguous in buf: merging joins neighbours. */
    while (symbols > 1) {
        int32_t best = -1;
        size_t  at = 0;
        char    pair[1024];
        for (size_t i = 0; i + 1 < symbols; i++) {
            size_t pl = len[i] + 1 + len[i + 1];
            if (pl >= sizeof pair) continue;
            memcpy(pair, buf + start[i], len[i]);
            pair[len[i]] = ' ';
            memcpy(pair + len[i] + 1, buf + start[i + 1], len[i + 1]);
            int32_t rank = table_get(&tok->merges, pair, pl);
            if (rank >= 0 && (best < 0 || rank < best)) best = rank, at = i;
        }
        if (best < 0) break;
        /* merge every occurrence of that pair, left to right */
        char first[512], second[512];
        size_t fl = len[at], sl = len[at + 1];
        memcpy(first, buf + start[at], fl);
        memcpy(second, buf + start[at + 1], sl);
        size_t out = 0;
        for (size_t i = 0; i < symbols;) {
            if (i + 1 < symbols && len[i] == fl && len[i + 1] == sl && !memcmp(buf + start[i], first, fl) &&
                !memcmp(buf + start[i + 1], second, sl)) {
                start[out] = start[i], len[out] = fl + sl, out++, i += 2;
            } else {
                start[out] = start[i], len[out] = len[i], out++, i++;
            }
        }
        symbols = out;
    }
    for (size_t i = 0; i < symbols; i++) {
        int32_t id = table_get(&tok->vocab, buf + start[i], len[i]);
        if (*count >= max) return lw_error_set(err, LW_ERR_ARGUMENT, "CLIP tokenizer: more than %d ids", max);
        ids[(*count)++] = id >= 0 ? id : CLIP_EOS;
    }
    return LW_OK;
}

enum lw_status tok_clip_encode(const struct tok_clip *tok, const char *text, int32_t *ids, int max, int *count,
                               struct lw_error *err) {
    if (max < 2) return lw_error_set(err, LW_ERR_ARGUMENT, "CLIP tokenizer: room for %d ids", max);
    size_t    n;
    uint32_t *cps = clean(text ? text : "", &n);
    if (!cps) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    int32_t content[256];
    int     c = 0;
    enum lw_status status = LW_OK;
    for (size_t i = 0; i < n && status == LW_OK && c < 200;) {
        uint32_t cp = cps[i];
        size_t   j = i + 1;
        if (cp == ' ') {
            i++;
            continue;
        }
        static const char *const specials[] = {"<|startoftext|>", "<|endoftext|>"};
        bool special = false;
        for (int s = 0; s < 2 && !special; s++) {
            size_t l = strlen(specials[s]), k = 0;
            while (k < l && i + k < n && cps[i + k] == (uint32_t)specials[s][k]) k++;
            if (k == l) content[c++] = s ? CLIP_EOS : CLIP_BOS, i += l, special = true;
        }
        if (special) continue;
        if (cp == '\'' && i + 1 < n) { /* contractions */
            static const char *const tails[] = {"s", "t", "re", "ve", "m", "ll", "d"};
            size_t best = 0;
            for (int t = 0; t < 7; t++) {
                size_t l = strlen(tails[t]), k = 0;
                while (k < l && i + 1 + k < n && cps[i + 1 + k] == (uint32_t)tails[t][k]) k++;
                if (k == l && l > best) best = l;
            }
            if (best) j = i + 1 + best;
        }
        if (j == i + 1) {
            if (is_letter(cp))
                while (j < n && is_letter(cps[j])) j++;
            else if (!is_number(cp))
                while (j < n && cps[j] != ' ' && !is_space(cps[j]) && !is_letter(cps[j]) && !is_number(cps[j])) j++;
        }
        status = bpe(tok, cps + i, j - i, content, 256, &c, err);
        i = j;
    }
    free(cps);
    if (status != LW_OK) return status;
    if (c > 75) c = 75;
    if (c + 2 > max) return lw_error_set(err, LW_ERR_ARGUMENT, "CLIP tokenizer: %d ids do not fit in %d", c + 2, max);
    ids[0] = CLIP_BOS;
    memcpy(ids + 1, content, (size_t)c * sizeof *ids);
    ids[c + 1] = CLIP_EOS;
    *count = c + 2;
    return LW_OK;
}

enum lw_status tok_clip_load(const char *path, struct tok_clip **out, struct lw_error *err) {
    *out = NULL;
    char        vocab_path[4096], merges_path[4096];
    struct stat st;
    if (path && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(vocab_path, sizeof vocab_path, "%s/vocab.json", path);
        snprintf(merges_path, sizeof merges_path, "%s/merges.txt", path);
    } else {
        snprintf(vocab_path, sizeof vocab_path, "%s", path ? path : "");
        const char *slash = strrchr(vocab_path, '/');
        snprintf(merges_path, sizeof merges_path, "%.*smerges.txt", slash ? (int)(slash - vocab_path + 1) : 0, vocab_path);
    }
    struct tok_clip *tok = calloc(1, sizeof *tok);
    size_t           vsize = 0, msize = 0;
    char            *vtext = read_file(vocab_path, &vsize), *mtext = read_file(merges_path, &msize);
    enum lw_status   status = LW_OK;
    cJSON           *json = NULL;
    if (!tok) status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    else if (!vtext) status = lw_error_set(err, LW_ERR_FILE, "%s: cannot read", vocab_path);
    else if (!mtext) status = lw_error_set(err, LW_ERR_FILE, "%s: cannot read", merges_path);
    else if (!(json = cJSON_ParseWithLength(vtext, vsize)) || !cJSON_IsObject(json))
        status = lw_error_set(err, LW_ERR_FORMAT, "%s: not a JSON object of token ids", vocab_path);
    else if (!table_init(&tok->vocab, (size_t)cJSON_GetArraySize(json) + 1) || !table_init(&tok->merges, MAX_MERGES + 1))
        status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    if (status == LW_OK) {
        const cJSON *item;
        cJSON_ArrayForEach(item, json) {
            if (!cJSON_IsNumber(item) || !item->string) {
                status = lw_error_set(err, LW_ERR_FORMAT, "%s: entry %s is not a number", vocab_path,
                                      item->string ? item->string : "?");
                break;
            }
            table_put(&tok->vocab, item->string, (int32_t)item->valuedouble);
        }
        /* merges.txt: a "#version" header, then "a b" lines; the first 48,894 count */
        int   rank = 0;
        char *line = mtext, *next;
        for (; line && *line && rank < MAX_MERGES; line = next) {
            next = strchr(line, '\n');
            if (next) *next++ = '\0';
            size_t l = strlen(line);
            if (l && line[l - 1] == '\r') line[--l] = '\0';
            if (!l || line[0] == '#') continue;
            if (!strchr(line, ' ')) {
                status = lw_error_set(err, LW_ERR_FORMAT, "%s: merge line %d has no space", merges_path, rank + 1);
                break;
            }
            table_put(&tok->merges, line, rank++);
        }
        /* byte encoder: printable ranges keep their code point, the other 68 bytes map to U+0100… */
        uint32_t next_cp = 256;
        for (int b = 0; b < 256; b++)
            tok->byte_symbol[b] = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174) ? (uint32_t)b : next_cp++;
    }
    cJSON_Delete(json);
    free(vtext), free(mtext);
    if (status != LW_OK) {
        tok_clip_destroy(tok);
        return status;
    }
    *out = tok;
    return LW_OK;
}

void tok_clip_destroy(struct tok_clip *tok) {
    if (!tok) return;
    table_free(&tok->vocab);
    table_free(&tok->merges);
    free(tok);
}
int32_t tok_clip_vocab_size(const struct tok_clip *tok) { (void)tok; return 49408; }
