/* Both tokenizers: on tiny files made here (tok_samples.c, so the suite means something without
 * ../shared), on every row of the shared fixtures' tokens.tsv (ids made by the reference
 * tokenizers: exact match, through every file layout we read), and on hostile input: random bytes,
 * invalid UTF-8, controls, 200 kB of text, empty text, damaged model files. The expected ids for
 * the hand-made T5 model were produced by libsentencepiece 0.1.97 on the same file (test_t5_oracle
 * checks the agreement on thousands of strings). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tok_samples.h"
#include "tokenizer.h"

#define SEED 20261122u

static char           tmp_dir[64];
static enum lw_status status; /* the last encode call, checked by the th_check below it */

static const char *tmp_path(const char *name) {
    static char path[4][128];
    static int  next;
    char       *p = path[next++ % 4];
    snprintf(p, 128, "%s/%s", tmp_dir, name);
    return p;
}

static void ids_text(const int32_t *ids, int n, char *out, size_t size) {
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < n && used + 16 < size; i++)
        used += (size_t)snprintf(out + used, size - used, i ? " %d" : "%d", ids[i]);
}

/* Encodes with either tokenizer and compares with `want` (ids ending with -1). */
static void expect(const char *what, const struct tok_clip *clip, const struct tok_t5 *t5,
                   const char *text, const int32_t *want) {
    int32_t         got[512];
    int             n = 0, w = 0;
    struct lw_error err = {0};
    enum lw_status  st = clip ? tok_clip_encode(clip, text, got, 512, &n, &err)
                              : tok_t5_encode(t5, text, got, 512, &n, &err);
    while (want[w] >= 0)
        w++;
    char a[2048], b[2048];
    ids_text(got, n, a, sizeof a), ids_text(want, w, b, sizeof b);
    th_check(st == LW_OK && !strcmp(a, b), "%s \"%s\":\n   got  %s\n   want %s", what, text, a, b);
}

/* CLIP: the same ids for `text` and for `clean` (text the cleaning leaves alone). */
static void expect_clean(const struct tok_clip *clip, const char *text, const char *clean) {
    int32_t         a[512], b[512];
    int             na = 0, nb = 0;
    struct lw_error err = {0};
    tok_clip_encode(clip, text, a, 512, &na, &err);
    tok_clip_encode(clip, clean, b, 512, &nb, &err);
    char sa[2048], sb[2048];
    ids_text(a, na, sa, sizeof sa), ids_text(b, nb, sb, sizeof sb);
    th_check(na == nb && !strcmp(sa, sb),
             "clip cleaning \"%s\" should read as \"%s\":\n   got  %s\n   want %s", text, clean, sa,
             sb);
}

#define IDS(...) ((const int32_t[]){__VA_ARGS__, -1})
#define B(c) tks_clip_byte_id((unsigned char)(c), false)
#define E(c) tks_clip_byte_id((unsigned char)(c), true)
#define BOS TKS_CLIP_BOS
#define EOS TKS_CLIP_EOS

static void test_clip_samples(void) {
    th_check(tks_write_clip(tmp_dir), "write the sample CLIP files to %s", tmp_dir);
    const char *paths[] = {tmp_dir, tmp_path("vocab.json"), tmp_path("merges.txt"),
                           tmp_path("bpe_simple_vocab_16e6.txt.gz")};
    for (int p = 0; p < 4; p++) {
        struct tok_clip *clip = NULL;
        struct lw_error  err = {0};
        if (!th_check(tok_clip_load(paths[p], &clip, &err) == LW_OK, "clip load %s: %s", paths[p],
                      err.message))
            continue;
        th_check(tok_clip_vocab_size(clip) == EOS + 1, "clip vocab size %d",
                 tok_clip_vocab_size(clip));
        expect("clip", clip, NULL, "Hello  cat", IDS(BOS, 512 + 3, 512 + 5, EOS));
        expect("clip", clip, NULL, "The cat's", IDS(BOS, 512 + 8, 512 + 5, 512 + 9, EOS));
        expect("clip", clip, NULL, "## tag",
               IDS(BOS, 512 + 6, B('t'), B('a'), E('g'), EOS)); /* a '#' merge line */
        expect("clip", clip, NULL, "don't", IDS(BOS, 512 + 12, 512 + 10, EOS));
        expect("clip", clip, NULL, "at",
               IDS(BOS, 512 + 13, EOS)); /* "c a" outranks "a t</w>" in "cat" */
        expect("clip", clip, NULL, "a1b22!?",
               IDS(BOS, E('a'), E('1'), E('b'), E('2'), E('2'), B('!'), E('?'), EOS));
        expect("clip", clip, NULL, "", IDS(BOS, EOS));
        expect("clip", clip, NULL, "x<|endoftext|>y <|startoftext|>",
               IDS(BOS, E('x'), EOS, E('y'), BOS, EOS));
        expect("clip", clip, NULL, "I'S", IDS(BOS, E('i'), 512 + 9, EOS));
        expect("clip", clip, NULL, "\xc3\xa9", IDS(BOS, B(0xc3), E(0xa9), EOS));
        /* ftfy, html.unescape, whitespace, lower case */
        expect_clean(clip, "\xef\xbc\xa8\xef\xbd\x85\xef\xbd\x8c\xef\xbd\x8c\xef\xbd\x8f", "hello");
        expect_clean(clip, "\xe2\x80\x9cquoted\xe2\x80\x9d \xe2\x80\x98single\xe2\x80\x99",
                     "\"quoted\" 'single'");
        expect_clean(clip, "\xef\xac\x81 \xef\xac\x82 \xef\xac\x83 \xef\xac\x85",
                     "fi fl ffi \xc5\xbft");
        expect_clean(clip, "e\xcc\x81 \xe2\x84\xab", "\xc3\xa9 \xc3\xa5");
        expect_clean(clip, "e\xcc\x82\xcc\xa3",
                     "\xe1\xbb\x87"); /* marks reordered, then composed */
        expect_clean(clip, "&amp;amp; tom &amp; jerry", "& tom & jerry");
        expect_clean(clip, "a < b &amp; c &lt;i&gt;", "a < b & c <i>");
        expect_clean(clip, "&#233;t&eacute; &EACUTE; &#x41;&#0; &ampfoo &check;",
                     "\xc3\xa9t\xc3\xa9 \xc3\xa9 a\xef\xbf\xbd &foo \xe2\x9c\x93");
        expect_clean(clip,
                     "\x1b[31mred\x1b[0m \x01\x7f\xef\xbb\xbf"
                     "bom",
                     "red bom");
        expect_clean(clip,
                     " a\xc2\xa0"
                     "b\xe3\x80\x80"
                     "c\td\ne\r\nf\xe2\x80\xa8g ",
                     "a b c d e f g");
        expect_clean(clip, "\xce\x9f\xce\x94\xce\x9f\xce\xa3 \xce\xa3\xce\x91",
                     "\xce\xbf\xce\xb4\xce\xbf\xcf\x82 \xcf\x83\xce\xb1");
        expect_clean(clip, "\xc4\xb0", "i\xcc\x87");
        expect_clean(clip, "\xc2\x92s \xc5\x89", "'s 'n");
        expect_clean(clip, "\xff\xc3", "\xef\xbf\xbd\xef\xbf\xbd");
        /* truncation keeps both special ids */
        int32_t ids[80];
        int     n = 0;
        char    text[400];
        for (int i = 0; i < 199; i++)
            text[2 * i] = 'a', text[2 * i + 1] = ' ';
        text[398] = '\0';
        status = tok_clip_encode(clip, text, ids, 80, &n, &err);
        th_check(status == LW_OK && n == 77 && ids[0] == BOS && ids[76] == EOS,
                 "clip truncates to 75 content ids (%d)", n);
        status = tok_clip_encode(clip, text, ids, 10, &n, &err);
        th_check(status == LW_OK && n == 10 && ids[9] == EOS, "clip truncates to max (%d)", n);
        status = tok_clip_encode(clip, text, ids, 1, &n, &err);
        th_check(status == LW_ERR_ARGUMENT, "clip refuses max 1");
        /* found by fuzz_tokenizer_clip: a line that cleaning empties compared an empty (NULL) buffer */
        status = tok_clip_encode(clip, "\x01", ids, 80, &n, &err);
        th_check(status == LW_OK && n == 2 && ids[0] == BOS && ids[1] == EOS, "a control character alone (%d ids)", n);
        tok_clip_destroy(clip);
    }
}

#define T5(...) IDS(__VA_ARGS__, TKS_EOS)
#define BYTE(c) (TKS_T5_FIRST_BYTE + (c))

static void test_t5_samples(void) {
    const char *model = tmp_path("spiece.model"), *json = tmp_path("tokenizer.json");
    for (int bytes = 0; bytes < 2; bytes++) {
        unsigned flags = bytes ? TKS_T5_BYTES : 0;
        th_check(tks_write_t5_model(model, flags) && tks_write_t5_json(json, flags),
                 "write the sample T5 files");
        struct tok_t5  *spm = NULL, *hf = NULL;
        struct lw_error err = {0};
        th_check(tok_t5_load(model, &spm, &err) == LW_OK, "t5 load %s: %s", model, err.message);
        th_check(tok_t5_load(json, &hf, &err) == LW_OK, "t5 load %s: %s", json, err.message);
        for (int k = 0; k < 2; k++) {
            const struct tok_t5 *t = k ? hf : spm;
            const char          *what = k ? "t5 tokenizer.json" : "t5 spiece.model";
            if (!t) continue;
            expect(what, NULL, t, "ab ab", T5(TKS_SPACE_AB, TKS_SPACE_AB));
            expect(what, NULL, t, "  a  ", T5(TKS_SPACE_A));
            expect(what, NULL, t,
                   "\xef\xbc\xa1"
                   "b\tx c",
                   T5(TKS_SPACE, TKS_CAP_A, TKS_B, TKS_SPACE, TKS_C));
            expect(what, NULL, t, "\xef\xbc\xa1\xef\xbc\xa2",
                   T5(TKS_SPACE, TKS_AB_BANG)); /* longest rule */
            expect(what, NULL, t, "AAA", T5(TKS_SPACE, TKS_CAP_A, TKS_CAP_A, TKS_CAP_A));
            expect(what, NULL, t,
                   "a\xe2\x96\x81"
                   "b",
                   T5(TKS_SPACE_A, TKS_SPACE, TKS_B));
            expect(what, NULL, t, "", IDS(TKS_EOS));
            expect(what, NULL, t, " \t x ", IDS(TKS_EOS));
            if (bytes) {
                expect(what, NULL, t, "xyz", T5(TKS_SPACE, BYTE('y'), BYTE('z')));
                expect(what, NULL, t, "\xef\xac\x81", T5(TKS_SPACE, BYTE('f'), BYTE('i')));
            } else {
                expect(what, NULL, t, "xyz", T5(TKS_SPACE, TKS_UNK)); /* y z fused */
                expect(what, NULL, t, "qq rr", T5(TKS_SPACE, TKS_UNK, TKS_SPACE, TKS_UNK));
            }
        }
        /* where the two references differ by design */
        expect("t5 spiece.model", NULL, spm, "a<sep>b", T5(TKS_SPACE_A, TKS_SEP, TKS_B));
        expect("t5 tokenizer.json", NULL, hf, "a<sep>b",
               T5(TKS_SPACE_A, TKS_SEP, TKS_SPACE, TKS_B));
        expect("t5 tokenizer.json", NULL, hf, "zz", T5(TKS_SPACE, TKS_ZZ));
        expect("t5 tokenizer.json", NULL, hf, "</s><pad>", T5(TKS_EOS, TKS_PAD));
        if (bytes)
            expect("t5 spiece.model", NULL, spm, "zz", T5(TKS_SPACE, BYTE('z'), BYTE('z')));
        else
            expect("t5 spiece.model", NULL, spm, "zz",
                   T5(TKS_SPACE, TKS_UNK)); /* UNUSED never matches */
        th_check(spm && tok_t5_vocab_size(spm) == TKS_T5_FIRST_BYTE + (bytes ? 256 : 0),
                 "t5 vocab size");
        /* truncation keeps the end-of-sequence id */
        int32_t ids[8];
        int     n = 0;
        th_check(
            spm && tok_t5_encode(spm, "ab ab ab ab ab ab ab ab ab ab", ids, 4, &n, &err) == LW_OK &&
                n == 4 && ids[2] == TKS_SPACE_AB && ids[3] == TKS_EOS,
            "t5 truncates to max (%d)", n);
        tok_t5_destroy(spm);
        tok_t5_destroy(hf);
    }
    /* folder forms: spiece.model preferred, tokenizer_2/ of a FLUX folder */
    struct tok_t5  *t = NULL;
    struct lw_error err = {0};
    th_check(tok_t5_load(tmp_dir, &t, &err) == LW_OK, "t5 from a folder: %s", err.message);
    tok_t5_destroy(t);
}

/* Damaged files: every prefix length class and random byte flips give LW_OK or a clear error. */
static void test_damaged_files(struct th_rng *rng) {
    const char *model = tmp_path("spiece.model"), *bad = tmp_path("bad.model");
    tks_write_t5_model(model, TKS_T5_BYTES);
    FILE  *f = fopen(model, "rb");
    char  *data = malloc(1 << 16);
    size_t size = f ? fread(data, 1, 1 << 16, f) : 0;
    if (f) fclose(f);
    int loaded = 0, refused = 0;
    for (int trial = 0; trial < 300; trial++) {
        char  *copy = malloc(size);
        size_t n = trial < 60 ? size * (size_t)trial / 60 : size;
        memcpy(copy, data, size);
        for (int k = 0; trial >= 60 && k < 1 + trial % 8; k++)
            copy[th_rng_u32(rng) % size] ^= (char)(1 + th_rng_u32(rng) % 255);
        FILE *o = fopen(bad, "wb");
        fwrite(copy, 1, n, o);
        fclose(o);
        free(copy);
        struct tok_t5  *t = NULL;
        struct lw_error err = {0};
        if (tok_t5_load(bad, &t, &err) == LW_OK) {
            int32_t ids[64];
            int     c = 0;
            status = tok_t5_encode(t,
                                   "A\xef\xbc\xa1"
                                   "b x\t\xff ab",
                                   ids, 64, &c, &err);
            th_check(status == LW_OK && c >= 1, "damaged model %d loads and encodes", trial);
            loaded++;
        } else {
            refused++;
            th_check(err.message[0] && strstr(err.message, "bad.model"),
                     "damaged model %d: error names the file: %s", trial, err.message);
        }
        tok_t5_destroy(t);
    }
    printf("damaged spiece.model: %d loaded, %d refused with an error\n", loaded, refused);
    free(data);
    struct tok_clip *clip = NULL;
    struct lw_error  err = {0};
    th_check(tok_clip_load("/nonexistent", &clip, &err) == LW_ERR_FILE &&
                 strstr(err.message, "/nonexistent"),
             "missing CLIP folder named: %s", err.message);
    f = fopen(tmp_path("vocab.json"), "w");
    fputs("{\"a\": \"x\"}", f);
    fclose(f);
    th_check(tok_clip_load(tmp_path("vocab.json"), &clip, &err) == LW_ERR_FORMAT &&
                 strstr(err.message, "vocab.json"),
             "bad vocab.json named: %s", err.message);
    struct tok_t5 *t5 = NULL;
    f = fopen(tmp_path("tokenizer.json"), "w");
    fputs("{\"model\": {\"type\": \"BPE\", \"vocab\": {}}}", f);
    fclose(f);
    th_check(tok_t5_load(tmp_path("tokenizer.json"), &t5, &err) == LW_ERR_UNSUPPORTED,
             "BPE tokenizer.json refused: %s", err.message);
}

/* Random bytes and strings of hostile pieces never fail and keep the framing ids. */
static void test_hostile_text(const struct tok_clip *clip, const struct tok_t5 *t5,
                              struct th_rng *rng, int32_t bos, int32_t eos) {
    static const char *const pieces[] = {"a",
                                         " ",
                                         "\xff",
                                         "\xc3",
                                         "\xe2\x82",
                                         "\xed\xa0\x80",
                                         "&amp",
                                         "&#",
                                         ";",
                                         "<",
                                         "|endoftext|>",
                                         "'",
                                         "s",
                                         "\x1b[",
                                         "\xcc\x81",
                                         "\xce\xa3",
                                         "\xef\xbc\xa1",
                                         "\t",
                                         "\r",
                                         "\xc2\x85",
                                         "\xe2\x96\x81",
                                         "0",
                                         "\xf0\x9f\x98\x80",
                                         "\x01"};
    char                     text[600];
    int                      bad = 0;
    for (int trial = 0; trial < 2000; trial++) {
        size_t n = 0;
        if (trial % 2) {
            for (size_t len = th_rng_u32(rng) % 300; n < len; n++)
                text[n] = (char)(1 + th_rng_u32(rng) % 255);
        } else {
            for (int k = (int)(th_rng_u32(rng) % 40); k > 0; k--) {
                const char *p = pieces[th_rng_u32(rng) % (sizeof pieces / sizeof pieces[0])];
                memcpy(text + n, p, strlen(p)), n += strlen(p);
            }
        }
        text[n] = '\0';
        int32_t         ids[512];
        int             c = 0;
        struct lw_error err = {0};
        if (clip && (tok_clip_encode(clip, text, ids, 77, &c, &err) != LW_OK || c < 2 ||
                     ids[0] != bos || ids[c - 1] != eos))
            bad++;
        if (t5 &&
            (tok_t5_encode(t5, text, ids, 512, &c, &err) != LW_OK || c < 1 || ids[c - 1] != 1))
            bad++;
    }
    th_check(bad == 0, "hostile text: %d of 2000 strings failed", bad);
    char *long_text = malloc(200001);
    for (int i = 0; i < 200000; i++)
        long_text[i] = "ab cd, 12 \xc3\xa9"[i % 12];
    long_text[200000] = '\0';
    int32_t         ids[512];
    int             c = 0;
    struct lw_error err = {0};
    if (clip) status = tok_clip_encode(clip, long_text, ids, 77, &c, &err);
    th_check(status == LW_OK && c == 77, "200 kB CLIP text (%d)", c);
    if (t5) status = tok_t5_encode(t5, long_text, ids, 512, &c, &err);
    th_check(status == LW_OK && c == 512, "200 kB T5 text (%d)", c);
    memset(long_text, 'a', 200000); /* one 200 kB word */
    if (clip) status = tok_clip_encode(clip, long_text, ids, 77, &c, &err);
    th_check(status == LW_OK && c == 77, "200 kB CLIP word (%d)", c);
    free(long_text);
}

/* Undoes tokens.tsv's escapes: \\ \t \n \r. */
static void unescape(char *s) {
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            *o++ = *p == 't' ? '\t' : *p == 'n' ? '\n' : *p == 'r' ? '\r' : *p;
        } else
            *o++ = *p;
    }
    *o = '\0';
}

static void test_fixtures(const char *fx, struct th_rng *rng) {
    char clip_dir[4200], gz[4300], t5_path[4200], tsv[4200];
    snprintf(clip_dir, sizeof clip_dir, "%s/tokenizer_data/clip", fx);
    snprintf(gz, sizeof gz, "%s/bpe_simple_vocab_16e6.txt.gz", clip_dir);
    snprintf(t5_path, sizeof t5_path, "%s/tokenizer_data/t5/spiece.model", fx);
    snprintf(tsv, sizeof tsv, "%s/tokens.tsv", fx);
    struct tok_clip *clip = NULL, *clip_gz = NULL;
    struct tok_t5   *t5 = NULL;
    struct lw_error  err = {0};
    th_check(tok_clip_load(clip_dir, &clip, &err) == LW_OK, "clip load: %s", err.message);
    th_check(tok_clip_load(gz, &clip_gz, &err) == LW_OK, "clip load %s: %s", gz, err.message);
    th_check(tok_t5_load(t5_path, &t5, &err) == LW_OK, "t5 load: %s", err.message);
    FILE *f = fopen(tsv, "r");
    char  line[8192];
    int   rows = 0;
    while (clip && clip_gz && t5 && f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *kind = strtok(line, "\t"), *text = strtok(NULL, "\t"), *want = strtok(NULL, "\t");
        if (!kind || !text || !want) continue;
        unescape(text);
        for (int layout = 0; layout < (strcmp(kind, "clip") ? 1 : 2); layout++) {
            int32_t        ids[1024];
            int            n = 0;
            enum lw_status st =
                !strcmp(kind, "clip")
                    ? tok_clip_encode(layout ? clip_gz : clip, text, ids, 1024, &n, &err)
                    : tok_t5_encode(t5, text, ids, 1024, &n, &err);
            char got[8192];
            ids_text(ids, n, got, sizeof got);
            th_check(st == LW_OK && !strcmp(got, want), "%s%s '%s':\n   got  %s\n   want %s", kind,
                     layout ? " (OpenAI .gz)" : "", text, got, want);
        }
        rows++;
    }
    if (f) fclose(f);
    th_check(rows >= 65, "tokens.tsv: %d rows read", rows);
    printf("tokens.tsv: %d rows compared\n", rows);
    if (clip && t5) test_hostile_text(clip, t5, rng, 49406, 49407);
    tok_clip_destroy(clip);
    tok_clip_destroy(clip_gz);
    tok_t5_destroy(t5);
}

int main(void) {
    printf("seed %u\n", SEED);
    struct th_rng rng;
    th_rng_seed(&rng, SEED);
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/lorweb-tok-XXXXXX");
    if (!mkdtemp(tmp_dir)) th_skip("cannot make a temporary folder");
    test_clip_samples();
    test_t5_samples();
    struct tok_clip *clip = NULL;
    struct tok_t5   *t5 = NULL;
    struct lw_error  err = {0};
    tok_clip_load(tmp_dir, &clip, &err);
    tks_write_t5_model(tmp_path("spiece.model"), 0);
    tok_t5_load(tmp_path("spiece.model"), &t5, &err);
    test_hostile_text(clip, t5, &rng, BOS, EOS);
    tok_clip_destroy(clip);
    tok_t5_destroy(t5);
    test_damaged_files(&rng);
    const char *fx = th_fixtures_dir();
    if (fx)
        test_fixtures(fx, &rng);
    else
        printf("SKIP fixture rows: no ../shared/fixtures (tokens.tsv and tokenizer_data come from "
               "there)\n");
    static const char *const files[] = {
        "vocab.json",   "merges.txt",     "bpe_simple_vocab_16e6.txt.gz",
        "spiece.model", "tokenizer.json", "bad.model"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        unlink(tmp_path(files[i]));
    rmdir(tmp_dir);
    return th_finish();
}
