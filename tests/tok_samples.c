/* Tiny tokenizer files for tests and fuzzing (see tok_samples.h). The T5 character map is a real
 * Darts-style double array, built here with one 256-unit block per trie node so that the XOR
 * addressing never collides. */
#include "tok_samples.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

const char *const tks_clip_merges[TKS_CLIP_MERGES] = {
    "h e",      "l l",     "he ll",    "hell o</w>", "c a",
    "ca t</w>", "# #</w>", "t h",      "th e</w>",   "' s</w>",
    "' t</w>",  "d o",     "do n</w>", "a t</w>",    "\xc4\xa0 \xc4\xa0",
};

static bool printable(int b) {
    return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
}

int tks_clip_byte_id(unsigned char byte, bool end_of_word) {
    int id = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int b = 0; b < 256; b++) {
            if (printable(b) != (pass == 0)) continue;
            if (b == byte) return id + (end_of_word ? 256 : 0);
            id++;
        }
    return -1;
}

static int byte_char(int b, char *out) { /* the byte encoder, as UTF-8 */
    unsigned cp = (unsigned)b;
    if (!printable(b)) {
        cp = 256;
        for (int k = 0; k < b; k++)
            cp += !printable(k);
    }
    if (cp < 0x80) return out[0] = (char)cp, 1;
    out[0] = (char)(0xc0 | cp >> 6), out[1] = (char)(0x80 | (cp & 63));
    return 2;
}

static void json_key(FILE *f, const char *s, size_t n) {
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') fputc('\\', f);
        fputc(s[i], f);
    }
    fputc('"', f);
}

bool tks_write_clip(const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    FILE *v = fopen(path, "w");
    snprintf(path, sizeof path, "%s/merges.txt", dir);
    FILE *m = fopen(path, "w");
    snprintf(path, sizeof path, "%s/bpe_simple_vocab_16e6.txt.gz", dir);
    gzFile g = gzopen(path, "wb");
    if (!v || !m || !g) {
        if (v) fclose(v);
        if (m) fclose(m);
        if (g) gzclose(g);
        return false;
    }
    fputc('{', v);
    for (int end = 0; end < 2; end++)
        for (int b = 0; b < 256; b++) {
            char s[8];
            int  n = byte_char(b, s);
            if (end) memcpy(s + n, "</w>", 4), n += 4;
            if (end || b) fputc(',', v);
            json_key(v, s, (size_t)n);
            fprintf(v, ":%d", tks_clip_byte_id((unsigned char)b, end));
        }
    fprintf(m, "#version: 0.2\n");
    gzprintf(g, "bpe_simple_vocab_16e6.txt#version: 0.2\n");
    for (int i = 0; i < TKS_CLIP_MERGES; i++) {
        const char *a = tks_clip_merges[i], *sp = strchr(a, ' ');
        char        joined[64];
        snprintf(joined, sizeof joined, "%.*s%s", (int)(sp - a), a, sp + 1);
        fputc(',', v);
        json_key(v, joined, strlen(joined));
        fprintf(v, ":%d", 512 + i);
        fprintf(m, "%s\n", a);
        /* no newline after the last line: OpenAI's reader would count the empty line after it */
        gzprintf(g, i + 1 < TKS_CLIP_MERGES ? "%s\n" : "%s", a);
    }
    fprintf(v, ",\"<|startoftext|>\":%d,\"<|endoftext|>\":%d}", TKS_CLIP_BOS, TKS_CLIP_EOS);
    bool ok = !ferror(v) && !ferror(m);
    ok = !fclose(v) && ok;
    ok = !fclose(m) && ok;
    return gzclose(g) == Z_OK && ok;
}

/* ---- T5 ---- */

static const struct {
    const char *piece;
    float       score;
    int         type; /* SentencePiece: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused */
} pieces[TKS_T5_FIRST_BYTE] = {
    {"<pad>", 0, 3},
    {"</s>", 0, 3},
    {"<unk>", 0, 2},
    {"\xe2\x96\x81", -2.0f, 1},
    {"a", -3.0f, 1},
    {"b", -3.0f, 1},
    {"c", -3.5f, 1},
    {"\xe2\x96\x81"
     "ab",
     -1.0f, 1},
    {"ab", -2.5f, 1},
    {"A", -4.0f, 1},
    {"\xe2\x96\x81"
     "a",
     -2.25f, 1},
    {"<sep>", 0, 4},
    {"zz", -1.0f, 5},
    {"A!", -1.5f, 1},
    {"AB!", -2.0f, 1},
};

static const struct {
    const char *from, *to;
} rules[] = {{"\xef\xbc\xa1", "A"},
             {"\xef\xbc\xa1\xef\xbc\xa2", "AB!"},
             {"\t", " "},
             {"x", ""},
             {"\xef\xac\x81", "fi"}};

/* Builds the character-map blob: uint32 trie size, the double array, the NUL-terminated pool. */
static uint8_t *charsmap(size_t *size) {
    enum { MAX_NODES = 32 };
    struct {
        int     parent, value;
        uint8_t byte;
    } node[MAX_NODES] = {{-1, -1, 0}};
    int  nodes = 1;
    char pool[64];
    int  pool_len = 0;
    for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
        int at = 0;
        for (const unsigned char *k = (const unsigned char *)rules[r].from; *k; k++) {
            int child = -1;
            for (int i = 1; i < nodes && child < 0; i++)
                if (node[i].parent == at && node[i].byte == *k) child = i;
            if (child < 0) {
                child = nodes++;
                node[child].parent = at, node[child].byte = *k, node[child].value = -1;
            }
            at = child;
        }
        node[at].value = pool_len;
        memcpy(pool + pool_len, rules[r].to, strlen(rules[r].to) + 1);
        pool_len += (int)strlen(rules[r].to) + 1;
    }
    size_t    units_n = (size_t)(nodes + 1) * 256;
    uint32_t *units = calloc(units_n, sizeof *units);
    /* node i's children live in block i + 1: positions (i + 1) * 256 ^ byte */
    units[0] = 256u << 10;
    for (int i = 1; i < nodes; i++) {
        uint32_t pos = (uint32_t)(node[i].parent + 1) * 256 + node[i].byte,
                 base = (uint32_t)(i + 1) * 256;
        units[pos] = node[i].byte | (pos ^ base) << 10 | (node[i].value >= 0 ? 1u << 8 : 0);
        if (node[i].value >= 0) units[base] = 1u << 31 | (uint32_t)node[i].value;
    }
    *size = 4 + units_n * 4 + (size_t)pool_len;
    uint8_t *blob = malloc(*size);
    uint32_t trie = (uint32_t)(units_n * 4);
    for (int b = 0; b < 4; b++)
        blob[b] = (uint8_t)(trie >> (8 * b));
    for (size_t i = 0; i < units_n; i++)
        for (int b = 0; b < 4; b++)
            blob[4 + 4 * i + b] = (uint8_t)(units[i] >> (8 * b));
    memcpy(blob + 4 + trie, pool, (size_t)pool_len);
    free(units);
    return blob;
}

struct pbuf {
    uint8_t data[1 << 16];
    size_t  len;
};

static void pb_varint(struct pbuf *b, uint64_t v) {
    do {
        b->data[b->len++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
}

static void pb_bytes(struct pbuf *b, int field, const void *data, size_t n) {
    pb_varint(b, (uint64_t)field << 3 | 2);
    pb_varint(b, n);
    memcpy(b->data + b->len, data, n);
    b->len += n;
}

static bool write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    bool ok = fwrite(data, 1, n, f) == n;
    return !fclose(f) && ok;
}

bool tks_write_t5_model(const char *path, unsigned flags) {
    static struct pbuf model, sub;
    model.len = 0;
    int count = TKS_T5_FIRST_BYTE + (flags & TKS_T5_BYTES ? 256 : 0);
    for (int i = 0; i < count; i++) {
        char        name[8];
        const char *piece = i < TKS_T5_FIRST_BYTE ? pieces[i].piece : name;
        float       score = i < TKS_T5_FIRST_BYTE ? pieces[i].score : 0;
        int         type = i < TKS_T5_FIRST_BYTE ? pieces[i].type : 6;
        snprintf(name, sizeof name, "<0x%02X>", (i - TKS_T5_FIRST_BYTE) & 255);
        sub.len = 0;
        pb_bytes(&sub, 1, piece, strlen(piece));
        uint32_t bits;
        memcpy(&bits, &score, 4);
        pb_varint(&sub, 2 << 3 | 5);
        for (int b = 0; b < 4; b++)
            sub.data[sub.len++] = (uint8_t)(bits >> (8 * b));
        pb_varint(&sub, 3 << 3), pb_varint(&sub, (uint64_t)type);
        pb_bytes(&model, 1, sub.data, sub.len);
    }
    sub.len = 0; /* TrainerSpec: unigram, unk 2, bos -1, eos 1, pad 0, byte_fallback */
    pb_varint(&sub, 3 << 3), pb_varint(&sub, 1);
    pb_varint(&sub, 35 << 3), pb_varint(&sub, flags & TKS_T5_BYTES ? 1 : 0);
    pb_varint(&sub, 40 << 3), pb_varint(&sub, 2);
    pb_varint(&sub, 41 << 3), pb_varint(&sub, (uint64_t)-1);
    pb_varint(&sub, 42 << 3), pb_varint(&sub, 1);
    pb_varint(&sub, 43 << 3), pb_varint(&sub, 0);
    pb_bytes(&model, 2, sub.data, sub.len);
    sub.len = 0; /* NormalizerSpec */
    pb_bytes(&sub, 1, "nmt_nfkc", 8);
    if (!(flags & TKS_T5_NO_CHARSMAP)) {
        size_t   n;
        uint8_t *blob = charsmap(&n);
        pb_bytes(&sub, 2, blob, n);
        free(blob);
    }
    for (int field = 3; field <= 5; field++)
        pb_varint(&sub, (uint64_t)field << 3), pb_varint(&sub, 1);
    pb_bytes(&model, 3, sub.data, sub.len);
    return write_file(path, model.data, model.len);
}

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

bool tks_write_t5_json(const char *path, unsigned flags) {
    FILE *f = fopen(path, "w");
    if (!f) return false;
    int count = TKS_T5_FIRST_BYTE + (flags & TKS_T5_BYTES ? 256 : 0);
    fprintf(f, "{\"version\":\"1.0\",\"added_tokens\":[");
    for (int i = 0; i < 3; i++) {
        fprintf(f, "%s{\"id\":%d,\"content\":", i ? "," : "", i);
        json_string(f, pieces[i].piece);
        fprintf(f, ",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,"
                   "\"special\":true}");
    }
    fprintf(f, ",{\"id\":%d,\"content\":\"<sep>\",\"special\":false}],\"normalizer\":", TKS_SEP);
    if (flags & TKS_T5_NO_CHARSMAP) {
        fprintf(f, "null");
    } else {
        static const char tab[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t   n;
        uint8_t *blob = charsmap(&n);
        fprintf(f, "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Precompiled\","
                   "\"precompiled_charsmap\":\"");
        for (size_t i = 0; i < n; i += 3) {
            uint32_t v = (uint32_t)blob[i] << 16 | (i + 1 < n ? (uint32_t)blob[i + 1] << 8 : 0) |
                         (i + 2 < n ? blob[i + 2] : 0);
            fprintf(f, "%c%c%c%c", tab[v >> 18], tab[(v >> 12) & 63],
                    i + 1 < n ? tab[(v >> 6) & 63] : '=', i + 2 < n ? tab[v & 63] : '=');
        }
        free(blob);
        fprintf(f,
                "\"},{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" {2,}\"},\"content\":\" \"}]}");
    }
    fprintf(
        f, ",\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":"
           "\"WhitespaceSplit\"},"
           "{\"type\":\"Metaspace\",\"replacement\":\"\xe2\x96\x81\",\"prepend_scheme\":\"always\","
           "\"split\":true}]},\"model\":{\"type\":\"Unigram\",\"unk_id\":2,\"vocab\":[");
    for (int i = 0; i < count; i++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", (i - TKS_T5_FIRST_BYTE) & 255);
        fprintf(f, "%s[", i ? "," : "");
        json_string(f, i < TKS_T5_FIRST_BYTE ? pieces[i].piece : name);
        fprintf(f, ",%.9g]", i < TKS_T5_FIRST_BYTE ? (double)pieces[i].score : 0.0);
    }
    fprintf(f, "],\"byte_fallback\":%s}}", flags & TKS_T5_BYTES ? "true" : "false");
    return !fclose(f);
}
