/* Fuzzes the T5 tokenizer. The first byte picks what the rest is:
 *   0: prompt text, encoded with fixed models (the fixtures' spiece.model when ../shared is there,
 *      and the tiny spiece.model and tokenizer.json of tok_samples.c, with byte fallback);
 *   1: a spiece.model, loaded and used on a few hostile prompts;
 *   2: a tokenizer.json, likewise.
 * Every input must give LW_OK or a clear error, accepted prompts must end with the end-of-sequence
 * id, and every id must be below the vocabulary size. With LORWEB_FUZZ_SEEDS=DIR the target first
 * writes seed inputs of each kind there. */
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "tok_samples.h"
#include "tokenizer.h"

static struct tok_t5 *fixed[3];
static char           dir[64];

static void check(const struct tok_t5 *tok, const char *text, size_t len) {
    char *copy = fuzz_cstring(text, len);
    int32_t         ids[1024];
    int             n = 0;
    struct lw_error err = {0};
    if (tok_t5_encode(tok, copy, ids, 1024, &n, &err) != LW_OK || n < 1 || n > 1024) abort();
    int32_t vocab = tok_t5_vocab_size(tok);
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= vocab) abort();
    free(copy);
}

static void write_seed(const char *seeds, const char *name, int kind, const char *from) {
    FILE *f = fopen(from, "rb");
    if (!f) abort();
    char  *data = malloc(1 << 20);
    size_t n = fread(data + 1, 1, (1 << 20) - 1, f);
    fclose(f);
    data[0] = (char)kind;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", seeds, name);
    write_bytes(path, data, n + 1);
    free(data);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    snprintf(dir, sizeof dir, "/tmp/lorweb-fuzz-t5-%d", (int)getpid());
    mkdir(dir, 0700);
    char model[128], json[128];
    snprintf(model, sizeof model, "%s/spiece.model", dir);
    snprintf(json, sizeof json, "%s/tokenizer.json", dir);
    struct lw_error err = {0};
    if (!tks_write_t5_model(model, TKS_T5_BYTES) || tok_t5_load(model, &fixed[0], &err)) abort();
    if (!tks_write_t5_json(json, TKS_T5_BYTES) || tok_t5_load(json, &fixed[1], &err)) abort();
    tok_t5_load("../shared/fixtures/tokenizer_data/t5/spiece.model", &fixed[2], &err);
    const char *seeds = getenv("LORWEB_FUZZ_SEEDS");
    if (seeds) {
        write_seed(seeds, "spiece", 1, model);
        write_seed(seeds, "json", 2, json);
        tks_write_t5_model(model, 0);
        write_seed(seeds, "spiece_nobytes", 1, model);
        tks_write_t5_json(json, TKS_T5_NO_CHARSMAP);
        write_seed(seeds, "json_nomap", 2, json);
        static const char text[] =
            "\0a photo of a Cat \xef\xbc\xa1\xef\xbc\xa2 ab<sep>zz</s> \t x\xef\xac\x81 "
            "\xe6\x9d\xb1\xe4\xba\xac \xff\xe2\x96\x81 \xef\xb7\xba";
        char path[4200];
        snprintf(path, sizeof path, "%s/text", seeds);
        write_bytes(path, text, sizeof text - 1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!size) return 0;
    const char *rest = (const char *)data + 1;
    size_t      n = size - 1;
    if (data[0] % 3 == 0) {
        for (int i = 0; i < 3; i++)
            if (fixed[i]) check(fixed[i], rest, strnlen(rest, n));
        return 0;
    }
    const char *path = fuzz_file((const uint8_t *)rest, n, data[0] % 3 == 1 ? ".model" : ".json");
    struct tok_t5  *tok = NULL;
    struct lw_error err = {0};
    if (tok_t5_load(path, &tok, &err) == LW_OK) {
        static const char *const texts[] = {
            "a photo of a cat", " \xef\xbc\xa1\xef\xbc\xa2\tx ab  ab ", "</s><pad><sep>zz\xff\xc3",
            "\xe6\x9d\xb1 \xf0\x9f\x98\x80 \xef\xb7\xba"};
        for (int i = 0; i < 4; i++)
            check(tok, texts[i], strlen(texts[i]));
        tok_t5_destroy(tok);
    } else if (!err.message[0]) {
        abort();
    }
    return 0;
}
