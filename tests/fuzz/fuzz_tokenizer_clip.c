/* Fuzzes the CLIP tokenizer. The first byte picks what the rest is:
 *   0: prompt text, encoded with a fixed vocabulary (the fixtures' real one when ../shared is
 * there, else the tiny one of tok_samples.c); 1: a vocab.json, then a NUL, then a merges.txt,
 * loaded and used on a few hostile prompts; 2: OpenAI's bpe_simple_vocab_16e6.txt (plain or gzip),
 * likewise. Every input must give LW_OK or a clear error, and accepted prompts must come back
 * framed by the start and end ids with at most 77 ids. With LORWEB_FUZZ_SEEDS=DIR the target first
 * writes seed inputs of each kind there. */
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "tok_samples.h"
#include "tokenizer.h"

static struct tok_clip *fixed;
static int32_t          fixed_bos, fixed_eos;
static char             dir[64];

static void check(const struct tok_clip *tok, const char *text, size_t len) {
    char *copy = fuzz_cstring(text, len);
    int32_t         ids[80];
    int             n = 0;
    struct lw_error err = {0};
    if (tok_clip_encode(tok, copy, ids, 80, &n, &err) != LW_OK || n < 2 || n > 77) abort();
    if (tok == fixed && (ids[0] != fixed_bos || ids[n - 1] != fixed_eos)) abort();
    free(copy);
}

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) abort();
    char *data = malloc(1 << 20);
    *n = fread(data, 1, 1 << 20, f);
    fclose(f);
    return data;
}

static void write_seeds(const char *seeds) {
    char   path[4200];
    size_t nv, nm, ng;
    char  *v = slurp(strcat(strcpy(path, dir), "/vocab.json"), &nv);
    char  *m = slurp(strcat(strcpy(path, dir), "/merges.txt"), &nm);
    char  *g = slurp(strcat(strcpy(path, dir), "/bpe_simple_vocab_16e6.txt.gz"), &ng);
    char  *seed = malloc(nv + nm + 2);
    seed[0] = 1;
    memcpy(seed + 1, v, nv), seed[1 + nv] = '\0', memcpy(seed + 2 + nv, m, nm);
    snprintf(path, sizeof path, "%s/files", seeds);
    write_bytes(path, seed, nv + nm + 2);
    seed[0] = 2, memcpy(seed + 1, g, ng);
    snprintf(path, sizeof path, "%s/openai", seeds);
    write_bytes(path, seed, ng + 1);
    static const char *const texts[] = {
        "\0A photo of a Cat, &amp; ＡＢＣ ﬁne e\xcc\x81 \xe2\x80\x9cquoted\xe2\x80\x9d don't",
        "\0<|startoftext|>## tag\xce\xa3\xc4\xb0 1,000 \x1b[31m&#233;&ampx"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/text%d", seeds, i);
        write_bytes(path, texts[i], 1 + strlen(texts[i] + 1));
    }
    free(v), free(m), free(g), free(seed);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    snprintf(dir, sizeof dir, "/tmp/lorweb-fuzz-clip-%d", (int)getpid());
    mkdir(dir, 0700);
    if (!tks_write_clip(dir)) abort();
    struct lw_error err = {0};
    const char     *real = "../shared/fixtures/tokenizer_data/clip";
    if (tok_clip_load(real, &fixed, &err) == LW_OK)
        fixed_bos = 49406, fixed_eos = 49407;
    else if (tok_clip_load(dir, &fixed, &err) == LW_OK)
        fixed_bos = TKS_CLIP_BOS, fixed_eos = TKS_CLIP_EOS;
    else
        abort();
    const char *seeds = getenv("LORWEB_FUZZ_SEEDS");
    if (seeds) write_seeds(seeds);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!size) return 0;
    const char *rest = (const char *)data + 1;
    size_t      n = size - 1;
    if (data[0] % 3 == 0) {
        check(fixed, rest, strnlen(rest, n));
        return 0;
    }
    char vocab[128], merges[128];
    snprintf(vocab, sizeof vocab, "%s/vocab.json", dir);
    snprintf(merges, sizeof merges, "%s/merges.txt", dir);
    const char *path = vocab;
    if (data[0] % 3 == 1) {
        const char *nul = memchr(rest, 0, n);
        size_t      nv = nul ? (size_t)(nul - rest) : n;
        write_bytes(vocab, rest, nv);
        write_bytes(merges, nul ? nul + 1 : "", nul ? n - nv - 1 : 0);
    } else { /* the name says OpenAI's layout; gzread takes plain text as well */
        path = fuzz_file((const uint8_t *)rest, n, ".txt.gz");
    }
    struct tok_clip *tok = NULL;
    struct lw_error  err = {0};
    if (tok_clip_load(path, &tok, &err) == LW_OK) {
        static const char *const texts[] = {"hello cat", "## tag don't \xff",
                                            "<|endoftext|>a1b22!?",
                                            "\xc3\xa9\xe6\x9d\xb1 \xf0\x9f\x98\x80 &amp; x"};
        for (int i = 0; i < 4; i++)
            check(tok, texts[i], strlen(texts[i]));
        tok_clip_vocab_size(tok);
        tok_clip_destroy(tok);
    } else if (!err.message[0]) {
        abort(); /* an error must say what is wrong */
    }
    return 0;
}
