/* `lorweb tokenize clip|t5 --vocab PATH TEXT`: prints the token ids, space separated, unpadded
 * (component-io.md). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "tokenizer.h"

int cli_tokenize(int argc, char **argv) {
    if (argc != 4 || strcmp(argv[1], "--vocab") || (strcmp(argv[0], "clip") && strcmp(argv[0], "t5"))) {
        fprintf(stderr, "usage: lorweb tokenize clip|t5 --vocab PATH TEXT\n");
        return 2;
    }
    struct lw_error err = {0};
    int32_t         ids[4096];
    int             n = 0;
    enum lw_status  st;
    if (!strcmp(argv[0], "clip")) {
        struct tok_clip *tok = NULL;
        st = tok_clip_load(argv[2], &tok, &err);
        if (st == LW_OK) st = tok_clip_encode(tok, argv[3], ids, 4096, &n, &err);
        tok_clip_destroy(tok);
    } else {
        struct tok_t5 *tok = NULL;
        st = tok_t5_load(argv[2], &tok, &err);
        if (st == LW_OK) st = tok_t5_encode(tok, argv[3], ids, 4096, &n, &err);
        tok_t5_destroy(tok);
    }
    if (st != LW_OK) {
        fprintf(stderr, "lorweb tokenize: %s: %s\n", lw_status_str(st), err.message);
        return 1;
    }
    for (int i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
    printf("\n");
    return 0;
}
