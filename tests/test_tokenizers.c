/* Both tokenizers against every row of the shared fixtures' tokens.tsv (ids made by the reference
 * tokenizers: exact match required), plus behaviour on hostile text: invalid UTF-8, control bytes,
 * very long input, empty input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tokenizer.h"

/* Undoes tokens.tsv's escapes: \\ \t \n \r. */
static void unescape(char *s) {
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            *o++ = *p == 't' ? '\t' : *p == 'n' ? '\n' : *p == 'r' ? '\r' : *p;
        } else *o++ = *p;
    }
    *o = '\0';
}

int main(void) {
    const char *fx = th_fixtures_dir();
    if (!fx) th_skip("no ../shared/fixtures: the tokenizer data and expected ids come from there");
    char clip_dir[4200], t5_path[4200], tsv[4200];
    snprintf(clip_dir, sizeof clip_dir, "%s/tokenizer_data/clip", fx);
    snprintf(t5_path, sizeof t5_path, "%s/tokenizer_data/t5/spiece.model", fx);
    snprintf(tsv, sizeof tsv, "%s/tokens.tsv", fx);
    struct tok_clip *clip = NULL;
    struct tok_t5   *t5 = NULL;
    struct lw_error  err = {0};
    th_check(tok_clip_load(clip_dir, &clip, &err) == LW_OK, "clip load: %s", err.message);
    th_check(tok_t5_load(t5_path, &t5, &err) == LW_OK, "t5 load: %s", err.message);
    if (!clip || !t5) return th_finish();
    FILE *f = fopen(tsv, "r");
    char  line[8192];
    int   rows = 0;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *kind = strtok(line, "\t"), *text = strtok(NULL, "\t"), *want = strtok(NULL, "\t");
        if (!kind || !text || !want) continue;
        unescape(text);
        int32_t ids[1024];
        int     n = 0;
        enum lw_status st = !strcmp(kind, "clip") ? tok_clip_encode(clip, text, ids, 1024, &n, &err)
                                                  : tok_t5_encode(t5, text, ids, 1024, &n, &err);
        char got[8192];
        size_t used = 0;
        for (int i = 0; i < n && used < sizeof got - 16; i++) used += (size_t)snprintf(got + used, sizeof got - used, i ? " %d" : "%d", ids[i]);
        got[used] = '\0';
        th_check(st == LW_OK && !strcmp(got, want), "%s '%s':\n   got  %s\n   want %s", kind, text, got, want);
        rows++;
    }
    if (f) fclose(f);
    th_check(rows == 65, "all 65 rows read (%d)", rows);
    /* hostile text */
    const char *nasty[] = {"", "\xff\xfe\xfd", "\xc3", "a\x01\x02b", "\xe2\x82", "<|endoftext|><|startoftext|>"};
    for (size_t i = 0; i < sizeof nasty / sizeof nasty[0]; i++) {
        int32_t ids[256];
        int     n = 0;
        th_check(tok_clip_encode(clip, nasty[i], ids, 256, &n, &err) == LW_OK && ids[0] == 49406 && ids[n - 1] == 49407,
                 "clip on hostile text %zu", i);
        th_check(tok_t5_encode(t5, nasty[i], ids, 256, &n, &err) == LW_OK && ids[n - 1] == 1, "t5 on hostile text %zu", i);
    }
    char *long_text = malloc(200001);
    for (int i = 0; i < 200000; i++) long_text[i] = "ab cd, 12 "[i % 10];
    long_text[200000] = '\0';
    int32_t ids[80];
    int     n = 0;
    th_check(tok_clip_encode(clip, long_text, ids, 80, &n, &err) == LW_OK && n == 77, "long CLIP text truncates to 77 (%d)", n);
    free(long_text);
    struct tok_clip *none = NULL;
    th_check(tok_clip_load("/nonexistent", &none, &err) == LW_ERR_FILE && strstr(err.message, "/nonexistent"),
             "missing vocab named: %s", err.message);
    tok_clip_destroy(clip);
    tok_t5_destroy(t5);
    return th_finish();
}
