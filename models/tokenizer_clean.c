/* CLIP prompt cleaning, mirroring openai/CLIP simple_tokenizer.py (the fixtures' reference, with
 * ftfy 6.3.1): `whitespace_clean(basic_clean(text)).lower()`, where basic_clean is
 * ftfy.fix_text(text) followed by html.unescape twice and strip.
 *
 * ftfy.fix_text is reproduced step by step, per line, repeated until the line stops changing as
 * ftfy does: HTML entities (only when the text has no '<' so far, ftfy's "auto"), C1 controls read
 * as Windows-1252, Latin ligatures, full-width and half-width forms, curly quotes and U+02BC, line
 * breaks, terminal escapes, control characters removed, NFC. html.unescape is Python's (numeric
 * references with its replacements for invalid ones, names with or without ';', the longest legacy
 * prefix), both with the HTML 5 names. lower() is Python's full lower case (İ → i̇, final sigma).
 * What it is not: ftfy's mojibake repair (fix_encoding) is not replicated. */
#include "tokenizer_clean.h"

#include <stdlib.h>
#include <string.h>

#include "tokenizer_util.h"
#include "unicode_tables.h"

#define MAX_FTFY_ROUNDS 16

struct cps {
    uint32_t *d;
    size_t    n, cap;
    bool      failed;
};

static void put(struct cps *v, uint32_t c) {
    if (v->failed) return;
    if (v->n == v->cap) {
        size_t    cap = v->cap ? v->cap * 2 : 64;
        uint32_t *grown = realloc(v->d, cap * sizeof *grown);
        if (!grown) {
            v->failed = true;
            return;
        }
        v->d = grown, v->cap = cap;
    }
    v->d[v->n++] = c;
}

/* Replaces *in by *out (one cleaning step's result). */
static void take(struct cps *in, struct cps *out) {
    bool failed = in->failed || out->failed;
    free(in->d);
    *in = *out;
    in->failed = failed;
    *out = (struct cps){0};
}

/* ---- Unicode lookups ---- */

static bool in_ranges(const struct uni_range *r, unsigned n, uint32_t cp) {
    unsigned lo = 0, hi = n;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (cp < r[mid].first)
            hi = mid;
        else if (cp > r[mid].last)
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

/* U+0345 is Mn, but the reference's case-insensitive [\p{L}] matches it through its case variants.
 */
bool tok_uni_letter(uint32_t cp) {
    return in_ranges(uni_letters, uni_letters_count, cp) || cp == 0x345;
}
bool tok_uni_number(uint32_t cp) {
    return in_ranges(uni_numbers, uni_numbers_count, cp);
}
bool tok_uni_space(uint32_t cp) {
    return in_ranges(uni_spaces, uni_spaces_count, cp);
}

static uint32_t map_find(const struct uni_map *m, unsigned n, uint32_t cp) {
    unsigned lo = 0, hi = n;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (cp < m[mid].from)
            hi = mid;
        else if (cp > m[mid].from)
            lo = mid + 1;
        else
            return m[mid].to;
    }
    return 0;
}

static unsigned combining_class(uint32_t cp) {
    if (cp < 0x300) return 0;
    unsigned lo = 0, hi = uni_combining_count;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (cp < uni_combining[mid].first)
            hi = mid;
        else if (cp > uni_combining[mid].last)
            lo = mid + 1;
        else
            return uni_combining[mid].ccc;
    }
    return 0;
}

/* ---- NFC (UAX #15: canonical decomposition, canonical order, composition) ---- */

#define HANGUL_S 0xac00u
#define HANGUL_L 0x1100u
#define HANGUL_V 0x1161u
#define HANGUL_T 0x11a7u
#define HANGUL_SYLLABLES 11172u

static void decompose(uint32_t cp, struct cps *out, int depth) {
    if (cp >= HANGUL_S && cp < HANGUL_S + HANGUL_SYLLABLES) {
        uint32_t s = cp - HANGUL_S;
        put(out, HANGUL_L + s / 588), put(out, HANGUL_V + (s % 588) / 28);
        if (s % 28) put(out, HANGUL_T + s % 28);
        return;
    }
    uint32_t single =
        cp >= 0xc0 && depth < 8 ? map_find(uni_singleton, uni_singleton_count, cp) : 0;
    if (single) {
        decompose(single, out, depth + 1);
        return;
    }
    unsigned lo = 0, hi = cp >= 0xc0 && depth < 8 ? uni_decompose_count : 0;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (cp < uni_decompose[mid].a)
            hi = mid;
        else if (cp > uni_decompose[mid].a)
            lo = mid + 1;
        else {
            decompose(uni_decompose[mid].b, out, depth + 1);
            decompose(uni_decompose[mid].c, out, depth + 1);
            return;
        }
    }
    put(out, cp);
}

static uint32_t compose(uint32_t a, uint32_t b) {
    if (a >= HANGUL_L && a < HANGUL_L + 19 && b >= HANGUL_V && b < HANGUL_V + 21)
        return HANGUL_S + ((a - HANGUL_L) * 21 + (b - HANGUL_V)) * 28;
    if (a >= HANGUL_S && a < HANGUL_S + HANGUL_SYLLABLES && (a - HANGUL_S) % 28 == 0 &&
        b > HANGUL_T && b < HANGUL_T + 28)
        return a + (b - HANGUL_T);
    unsigned lo = 0, hi = uni_compose_count;
    while (lo < hi) {
        unsigned                  mid = (lo + hi) / 2;
        const struct uni_compose *c = &uni_compose[mid];
        if (a < c->a || (a == c->a && b < c->b))
            hi = mid;
        else if (a > c->a || b > c->b)
            lo = mid + 1;
        else
            return c->c;
    }
    return 0;
}

static void nfc(struct cps *v) {
    bool simple = true; /* below U+0300 text is already NFC */
    for (size_t i = 0; i < v->n && simple; i++)
        simple = v->d[i] < 0x300;
    if (simple || v->failed) return;
    struct cps d = {0};
    for (size_t i = 0; i < v->n; i++)
        decompose(v->d[i], &d, 0);
    for (size_t i = 1; i < d.n; i++) { /* stable sort of each run of non-starters by class */
        uint32_t c = d.d[i];
        unsigned cc = combining_class(c);
        size_t   j = i;
        while (cc && j > 0 && combining_class(d.d[j - 1]) > cc)
            d.d[j] = d.d[j - 1], j--;
        d.d[j] = c;
    }
    size_t   out = 0, starter = SIZE_MAX;
    unsigned last = 256; /* class of the last character kept after the starter; 256: none */
    for (size_t i = 0; i < d.n; i++) {
        uint32_t c = d.d[i];
        unsigned cc = combining_class(c);
        if (starter != SIZE_MAX && (last == 256 || (last != 0 && last < cc))) {
            uint32_t composed = compose(d.d[starter], c);
            if (composed) {
                d.d[starter] = composed;
                continue;
            }
        }
        if (cc == 0)
            starter = out, last = 256;
        else
            last = cc;
        d.d[out++] = c;
    }
    d.n = out;
    take(v, &d);
}

/* ---- ftfy.fix_text steps ---- */

/* Windows-1252 for 0x80..0x9f; ftfy's "sloppy" variant keeps the five undefined bytes as they are.
 */
static const uint16_t cp1252[32] = {0x20ac, 0x81,   0x201a, 0x192,  0x201e, 0x2026, 0x2020, 0x2021,
                                    0x2c6,  0x2030, 0x160,  0x2039, 0x152,  0x8d,   0x17d,  0x8f,
                                    0x90,   0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
                                    0x2dc,  0x2122, 0x161,  0x203a, 0x153,  0x9d,   0x17e,  0x178};

static const struct uni_entity *entity_find(const char *name) {
    unsigned lo = 0, hi = uni_entities_count;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        int      c = strcmp(name, uni_entities[mid].name);
        if (c < 0)
            hi = mid;
        else if (c > 0)
            lo = mid + 1;
        else
            return &uni_entities[mid];
    }
    return NULL;
}

/* Python's html._replace_charref for a numeric reference: UINT32_MAX when it decodes to nothing. */
static uint32_t charref(uint64_t num) {
    if (num == 0) return 0xfffd;
    if (num == 0x0d) return '\r';
    if (num >= 0x80 && num <= 0x9f) return cp1252[num - 0x80];
    if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return 0xfffd;
    if ((num >= 1 && num <= 8) || num == 0xb || (num >= 0xe && num <= 0x1f) || num == 0x7f ||
        (num >= 0xfdd0 && num <= 0xfdef) || (num & 0xfffe) == 0xfffe)
        return UINT32_MAX;
    return (uint32_t)num;
}

static bool is_alnum(uint32_t c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int hex_value(uint32_t c) {
    return c >= '0' && c <= '9'                 ? (int)(c - '0')
           : (c | 32) >= 'a' && (c | 32) <= 'f' ? (int)((c | 32) - 'a' + 10)
                                                : -1;
}

/* Parses digits of s[0..n) in `base` (saturating); returns how many were used. */
static size_t parse_number(const uint32_t *s, size_t n, int base, uint64_t *num) {
    size_t i = 0;
    *num = 0;
    for (; i < n; i++) {
        int v = base == 16 ? hex_value(s[i]) : s[i] >= '0' && s[i] <= '9' ? (int)(s[i] - '0') : -1;
        if (v < 0) break;
        *num = *num > 0x110000 ? *num : *num * (uint64_t)base + (uint64_t)v;
    }
    return i;
}

/* ftfy's unescape_html: `&#?[0-9A-Za-z]{1,24};` replaced when it is an HTML entity (or an
 * upper-cased one), or a numeric reference that html.unescape decodes whole. */
static void ftfy_unescape(struct cps *v) {
    struct cps out = {0};
    for (size_t i = 0; i < v->n;) {
        const uint32_t *s = v->d + i;
        size_t          n = v->n - i, k = 1 + (n > 1 && s[1] == '#'), end = k;
        while (end < n && end - k < 25 && is_alnum(s[end]))
            end++;
        if (s[0] != '&' || end == k || end - k > 24 || end >= n || s[end] != ';') {
            put(&out, v->d[i++]);
            continue;
        }
        uint32_t decoded[2] = {UINT32_MAX, 0};
        bool     found = false;
        if (k == 1) {
            char name[32], lower[32];
            for (size_t j = 1; j < end; j++) {
                name[j - 1] = (char)s[j];
                lower[j - 1] = (char)(s[j] >= 'A' && s[j] <= 'Z' ? s[j] | 32 : s[j]);
            }
            name[end - 1] = lower[end - 1] = '\0';
            const struct uni_entity *e = entity_find(name), *l = e ? NULL : entity_find(lower);
            bool                     upper = true; /* name == lower.upper() */
            for (size_t j = 0; name[j]; j++)
                upper = upper && !(name[j] >= 'a' && name[j] <= 'z');
            if (e) decoded[0] = e->value[0], decoded[1] = e->value[1], found = true;
            else if (l && l->upper[0] && upper)
                decoded[0] = l->upper[0], decoded[1] = l->upper[1], found = true;
        } else {
            uint64_t num;
            bool     hex = s[2] == 'x' || s[2] == 'X';
            size_t   digits = parse_number(s + 2 + hex, end - 2 - hex, hex ? 16 : 10, &num);
            if (digits && 2 + hex + digits == end) decoded[0] = charref(num), found = true;
        }
        if (!found) {
            put(&out, v->d[i++]);
            continue;
        }
        if (decoded[0] != UINT32_MAX) put(&out, decoded[0]);
        if (decoded[1]) put(&out, decoded[1]);
        i += end + 1;
    }
    take(v, &out);
}

/* Python's html.unescape. */
static void py_unescape(struct cps *v) {
    struct cps out = {0};
    for (size_t i = 0; i < v->n;) {
        const uint32_t *s = v->d + i;
        size_t          n = v->n - i;
        if (s[0] != '&' || n < 2) {
            put(&out, v->d[i++]);
            continue;
        }
        if (s[1] == '#') { /* &#[0-9]+;? or &#[xX][0-9a-fA-F]+;? */
            bool     hex = n > 2 && (s[2] == 'x' || s[2] == 'X');
            uint64_t num;
            size_t   digits = parse_number(s + 2 + hex, n - 2 - hex, hex ? 16 : 10, &num);
            if (!digits) {
                put(&out, v->d[i++]);
                continue;
            }
            size_t   used = 2 + hex + digits;
            uint32_t c = charref(num);
            if (used < n && s[used] == ';') used++;
            if (c != UINT32_MAX) put(&out, c);
            i += used;
            continue;
        }
        /* a name: [^\t\n\f <&#;]{1,32};? (non-ASCII characters match no entity) */
        char   name[33];
        size_t len = 0;
        while (len < 32 && 1 + len < n &&
               !(s[1 + len] < 128 && strchr("\t\n\f <&#;", (int)s[1 + len])))
            name[len] = s[1 + len] < 128 ? (char)s[1 + len] : '\x01', len++;
        name[len] = '\0';
        bool                     semi = 1 + len < n && s[1 + len] == ';';
        const struct uni_entity *e = len ? entity_find(name) : NULL;
        if (e && (semi || e->legacy)) {
            put(&out, e->value[0]);
            if (e->value[1]) put(&out, e->value[1]);
            i += 1 + len + semi;
            continue;
        }
        /* else the longest legacy name that leaves at least one character of "name;" over */
        size_t x = len + semi > 0 ? len + semi - 1 : 0;
        for (x = x < len ? x : len; x >= 2; x--) {
            char saved = name[x];
            name[x] = '\0';
            e = entity_find(name);
            name[x] = saved;
            if (e && e->legacy) break;
        }
        if (x >= 2) {
            put(&out, e->value[0]);
            if (e->value[1]) put(&out, e->value[1]);
            i += 1 + x;
            continue;
        }
        put(&out, v->d[i++]);
    }
    take(v, &out);
}

/* ftfy's LIGATURES table. */
static const struct {
    uint32_t cp, text[3];
} ligatures[] = {
    {0x132, {'I', 'J'}},       {0x133, {'i', 'j'}},       {0x149, {0x2bc, 'n'}},
    {0x1c4, {'D', 0x17d}},     {0x1c5, {'D', 0x17e}},     {0x1c6, {'d', 0x17e}},
    {0x1c7, {'L', 'J'}},       {0x1c8, {'L', 'j'}},       {0x1c9, {'l', 'j'}},
    {0x1ca, {'N', 'J'}},       {0x1cb, {'N', 'j'}},       {0x1cc, {'n', 'j'}},
    {0x1f1, {'D', 'Z'}},       {0x1f2, {'D', 'z'}},       {0x1f3, {'d', 'z'}},
    {0xfb00, {'f', 'f'}},      {0xfb01, {'f', 'i'}},      {0xfb02, {'f', 'l'}},
    {0xfb03, {'f', 'f', 'i'}}, {0xfb04, {'f', 'f', 'l'}}, {0xfb05, {0x17f, 't'}},
    {0xfb06, {'s', 't'}},
};

static bool removed_control(uint32_t c) { /* ftfy's remove_control_chars */
    return c <= 8 || c == 0xb || (c >= 0xe && c <= 0x1f) || c == 0x7f ||
           (c >= 0x206a && c <= 0x206f) || c == 0xfeff || (c >= 0xfff9 && c <= 0xfffc);
}

/* One round of ftfy's fixers after unescape_html, in ftfy's order. */
static void ftfy_round(struct cps *v) {
    struct cps out = {0};
    for (size_t i = 0; i < v->n; i++) { /* the character-by-character fixers */
        uint32_t c = v->d[i];
        if (c >= 0x80 && c <= 0x9f) c = cp1252[c - 0x80]; /* fix_c1_controls */
        size_t lig = 0;
        while (lig < sizeof ligatures / sizeof ligatures[0] && ligatures[lig].cp != c)
            lig++;
        if (lig < sizeof ligatures / sizeof ligatures[0]) { /* fix_latin_ligatures */
            for (int j = 0; j < 3 && ligatures[lig].text[j]; j++) {
                uint32_t l = ligatures[lig].text[j];
                put(&out, l == 0x2bc ? '\'' : l); /* uncurl_quotes comes next */
            }
            continue;
        }
        if (c >= 0xff01 && c <= 0xffef && uni_width[c - 0xff01].a) { /* fix_character_width */
            put(&out, uni_width[c - 0xff01].a);
            if (uni_width[c - 0xff01].b) put(&out, uni_width[c - 0xff01].b);
            continue;
        }
        if (c == 0x3000) c = ' ';
        if (c == 0x2bc || (c >= 0x2018 && c <= 0x201b))
            c = '\''; /* uncurl_quotes */
        else if (c >= 0x201c && c <= 0x201f)
            c = '"';
        if (c == '\r' && i + 1 < v->n && v->d[i + 1] == '\n') continue; /* fix_line_breaks */
        if (c == '\r' || c == 0x2028 || c == 0x2029 || c == 0x85) c = '\n';
        put(&out, c);
    }
    take(v, &out);
    for (size_t i = 0; i < v->n; i++) { /* remove_terminal_escapes: ESC [ [0-9;]* [A-Za-z] */
        size_t j = i + 2;
        if (v->d[i] != 0x1b || j > v->n || v->d[i + 1] != '[') {
            put(&out, v->d[i]);
            continue;
        }
        while (j < v->n && ((v->d[j] >= '0' && v->d[j] <= '9') || v->d[j] == ';'))
            j++;
        uint32_t f = j < v->n ? v->d[j] | 32 : 0;
        if (f >= 'a' && f <= 'z' && v->d[j] < 128)
            i = j;
        else
            put(&out, v->d[i]);
    }
    take(v, &out);
    for (size_t i = 0; i < v->n; i++) /* remove_control_chars */
        if (!removed_control(v->d[i])) put(&out, v->d[i]);
    take(v, &out);
    nfc(v);
}

/* ftfy.fix_text: line by line, each repeated until it stops changing. */
static void ftfy_fix_text(struct cps *v) {
    struct cps out = {0};
    bool       html = true; /* "auto": off from the first line that contains '<' */
    for (size_t start = 0; start < v->n && !out.failed;) {
        size_t end = start;
        while (end < v->n && v->d[end] != '\n')
            end++;
        end += end < v->n;
        struct cps line = {0}, before = {0};
        for (size_t i = start; i < end; i++) {
            put(&line, v->d[i]);
            html = html && v->d[i] != '<';
        }
        for (int round = 0; round < MAX_FTFY_ROUNDS && !line.failed; round++) {
            before.n = 0;
            for (size_t i = 0; i < line.n; i++)
                put(&before, line.d[i]);
            if (html) ftfy_unescape(&line);
            ftfy_round(&line);
            if (before.failed ||
                (line.n == before.n && (!line.n || !memcmp(line.d, before.d, line.n * sizeof *line.d))))
                break;
        }
        for (size_t i = 0; i < line.n; i++)
            put(&out, line.d[i]);
        out.failed |= line.failed || before.failed;
        free(line.d), free(before.d);
        start = end;
    }
    take(v, &out);
}

/* ---- whitespace and case ---- */

/* Python's str.lower(): full mappings (İ → i + U+0307) and the Final_Sigma context for Σ. */
static void py_lower(struct cps *v) {
    struct cps out = {0};
    for (size_t i = 0; i < v->n; i++) {
        uint32_t c = v->d[i];
        if (c == 0x130) {
            put(&out, 'i'), put(&out, 0x307);
            continue;
        }
        if (c == 0x3a3) {
            size_t j = i;
            while (j > 0 && in_ranges(uni_case_ignorable, uni_case_ignorable_count, v->d[j - 1]))
                j--;
            bool final = j > 0 && in_ranges(uni_cased, uni_cased_count, v->d[j - 1]);
            for (j = i + 1; final && j < v->n; j++)
                if (!in_ranges(uni_case_ignorable, uni_case_ignorable_count, v->d[j])) {
                    final = !in_ranges(uni_cased, uni_cased_count, v->d[j]);
                    break;
                }
            put(&out, final ? 0x3c2 : 0x3c3);
            continue;
        }
        uint32_t l = c < 0x41 ? 0 : map_find(uni_lower, uni_lower_count, c);
        put(&out, l ? l : c);
    }
    take(v, &out);
}

enum lw_status tok_clean_clip(const char *text, size_t len, uint32_t **out, size_t *count) {
    struct cps v = {0};
    for (size_t i = 0, used; i < len; i += used) {
        uint32_t c = tok_utf8_decode((const unsigned char *)text + i, len - i, &used);
        put(&v, c == UINT32_MAX ? 0xfffd : c);
    }
    ftfy_fix_text(&v);
    py_unescape(&v);
    py_unescape(&v);
    /* strip, every whitespace run to one space, strip again */
    size_t k = 0;
    bool   space = true;
    for (size_t i = 0; i < v.n && !v.failed; i++) {
        bool s = tok_uni_space(v.d[i]);
        if (s && !space)
            v.d[k++] = ' ';
        else if (!s)
            v.d[k++] = v.d[i];
        space = s;
    }
    if (k && v.d[k - 1] == ' ') k--;
    v.n = k;
    py_lower(&v);
    if (v.failed) {
        free(v.d);
        return LW_ERR_HOST_MEMORY;
    }
    *out = v.d, *count = v.n;
    return LW_OK;
}
