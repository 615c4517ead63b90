/* `lorweb tokenize clip|t5 --vocab PATH TEXT`: prints the token ids, space separated, unpadded
 * (component-io.md): CLIP with its start and end ids and at most 75 content ids, T5 every content
 * id and the end-of-sequence id (the pipeline truncates to 512). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tokenizer.h"

int cli_tokenize(int argc, char **argv) {
    if (argc != 4 || strcmp(argv[1], "--vocab") ||
        (strcmp(argv[0], "clip") && strcmp(argv[0], "t5"))) {
        fprintf(stderr, "usage: lorweb tokenize clip|t5 --vocab PATH TEXT\n"
                        "  PATH: CLIP vocab.json + merges.txt (or their folder, or "
                        "bpe_simple_vocab_16e6.txt.gz);\n"
                        "        T5 spiece.model or tokenizer.json (or their folder)\n");
        return 2;
    }
    struct lw_error err = {0};
    /* T5 ids are at most one per byte of normalised text, which the tokenizer bounds by 16x + 4096
     */
    size_t         room = strlen(argv[3]) * 16 + 4096;
    int32_t       *ids = malloc(room * sizeof *ids);
    int            n = 0;
    enum lw_status st = ids && room < 0x7fffffff
                            ? LW_OK
                            : lw_error_set(&err, LW_ERR_HOST_MEMORY, "out of host memory");
    if (st == LW_OK && !strcmp(argv[0], "clip")) {
        struct tok_clip *tok = NULL;
        st = tok_clip_load(argv[2], &tok, &err);
        if (st == LW_OK) st = tok_clip_encode(tok, argv[3], ids, (int)room, &n, &err);
        tok_clip_destroy(tok);
    } else if (st == LW_OK) {
        struct tok_t5 *tok = NULL;
        st = tok_t5_load(argv[2], &tok, &err);
        if (st == LW_OK) st = tok_t5_encode(tok, argv[3], ids, (int)room, &n, &err);
        tok_t5_destroy(tok);
    }
    if (st != LW_OK) {
        fprintf(stderr, "lorweb tokenize: %s: %s\n", lw_status_str(st), err.message);
        free(ids);
        return 1;
    }
    for (int i = 0; i < n; i++)
        printf(i ? " %d" : "%d", ids[i]);
    printf("\n");
    free(ids);
    return 0;
}
