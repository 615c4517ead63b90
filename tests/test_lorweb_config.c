/* LoRWeB config.yaml: the shared fixture and a config written here read to the expected fields;
 * malformed variants (missing or wrong-typed fields, bad YAML, aliases, deep nesting) fail with the
 * right status and a message naming the file, the line and the field. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "lorweb.h"

static char dir[] = "/tmp/lorweb-yaml-XXXXXX";

static const char *write_yaml(const char *text) {
    static char path[256];
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

/* A config in ai-toolkit's layout with `kwargs` as the network_kwargs lines. */
static const char *config(const char *network_extra, const char *kwargs) {
    static char text[4096];
    snprintf(text, sizeof text,
             "job: extension\n"
             "config:\n"
             "  name: test\n"
             "  process:\n"
             "    - type: sd_trainer\n"
             "      network:\n"
             "        type: attlora\n"
             "%s"
             "        network_kwargs:\n"
             "%s"
             "      save:\n"
             "        dtype: float16\n"
             "    - network:\n"
             "        network_kwargs:\n"
             "          lora_heads: 7\n",
             network_extra, kwargs);
    return write_yaml(text);
}

static void expect(const char *what, const char *path, enum lw_status want, const char *n1,
                   const char *n2) {
    struct lorweb_config c;
    struct lw_error      err = {0};
    enum lw_status       st = lorweb_config_read(path, &c, &err);
    th_check(st == want && strstr(err.message, path) && strstr(err.message, n1) &&
                 (!n2 || strstr(err.message, n2)),
             "%s: status %d (want %d), message '%s'", what, st, want, err.message);
}

#define KW "          "

int main(void) {
    if (!mkdtemp(dir)) return 1;
    struct lorweb_config c;
    struct lw_error      err = {0};

    const char *full =
        config("        linear: 4\n        linear_alpha: 4.0\n",
               KW "loras_num: 32\n" KW "lora_keys_dim: 128\n" KW "lora_heads: 2\n" KW
                  "lora_softmax: false\n" KW "mixing_coeffs_type: sum\n" KW "pooling_type: avg\n" KW
                  "query_projection_type: none\n" KW "query_mode: \"cat-aa'b\"\n" KW
                  "external_query_model: openai/clip-vit-large-patch14\n");
    if (th_check(lorweb_config_read(full, &c, &err) == LW_OK, "full config: %s", err.message))
        th_check(c.heads == 2 && !c.softmax && !c.mean && !c.project && !c.pool_max &&
                     !strcmp(c.query_mode, "cat-aa'b") &&
                     !strcmp(c.query_model, "openai/clip-vit-large-patch14") && c.basis == 32 &&
                     c.keys_dim == 128 && c.rank == 4 && c.alpha == 4,
                 "full config fields (heads %lld, rank %lld, alpha %lld, basis %lld, keys %lld, "
                 "mode %s)",
                 (long long)c.heads, (long long)c.rank, (long long)c.alpha, (long long)c.basis,
                 (long long)c.keys_dim, c.query_mode);
    const char *minimal = config("", KW "lora_heads: 1\n");
    if (th_check(lorweb_config_read(minimal, &c, &err) == LW_OK, "minimal config: %s", err.message))
        th_check(c.heads == 1 && c.softmax && c.mean && c.project && c.pool_max &&
                     !strcmp(c.query_mode, "aa'bb'") && c.rank == 0,
                 "defaults of the reference loader");

    const char *fx = th_fixtures_dir();
    if (fx) {
        char path[4200];
        snprintf(path, sizeof path, "%s/lorweb_config.yaml", fx);
        if (th_check(lorweb_config_read(path, &c, &err) == LW_OK, "fixture: %s", err.message))
            th_check(c.heads == 1 && c.softmax && c.mean && c.project && !c.pool_max &&
                         !strcmp(c.query_mode, "cat-aa'b") && c.basis == 4 && c.keys_dim == 8 &&
                         c.rank == 2 && c.alpha == 2,
                     "fixture fields");
    } else {
        printf("fixtures not found: the fixture config is skipped\n");
    }

    expect("missing file", "/nonexistent/config.yaml", LW_ERR_FILE, "cannot open", NULL);
    expect("empty file", write_yaml(""), LW_ERR_MISSING, "network", NULL);
    expect("no network", write_yaml("config:\n  process:\n    - type: x\n"), LW_ERR_MISSING,
           "network", NULL);
    expect("process not a sequence",
           write_yaml("config:\n  process:\n    network:\n      linear: 4\n"), LW_ERR_MISSING,
           "network", NULL);
    expect("lora_heads missing", config("", KW "lora_softmax: true\n"), LW_ERR_MISSING,
           "lora_heads", NULL);
    expect("lora_heads zero", config("", KW "lora_heads: 0\n"), LW_ERR_FORMAT, "lora_heads",
           "line 9");
    expect("lora_heads a word", config("", KW "lora_heads: two\n"), LW_ERR_FORMAT, "lora_heads",
           "'two'");
    expect("lora_heads a sequence", config("", KW "lora_heads: [1]\n"), LW_ERR_FORMAT, "lora_heads",
           "sequence");
    expect("lora_heads a block mapping", config("", KW "lora_heads:\n" KW "  a: 1\n"),
           LW_ERR_FORMAT, "lora_heads", "mapping");
    expect("lora_softmax not a bool", config("", KW "lora_heads: 1\n" KW "lora_softmax: maybe\n"),
           LW_ERR_FORMAT, "lora_softmax", "true or false");
    expect("mixing type unknown",
           config("", KW "lora_heads: 1\n" KW "mixing_coeffs_type: median\n"), LW_ERR_FORMAT,
           "mixing_coeffs_type", "median");
    expect("projection a mapping",
           config("", KW "lora_heads: 1\n" KW "query_projection_type: {a: 1}\n"), LW_ERR_FORMAT,
           "query_projection_type", NULL);
    expect("pooling unknown", config("", KW "lora_heads: 1\n" KW "pooling_type: min\n"),
           LW_ERR_FORMAT, "pooling_type", NULL);
    expect("negative rank", config("        linear: -4\n", KW "lora_heads: 1\n"), LW_ERR_FORMAT,
           "network.linear", "-4");
    expect("fractional alpha", config("        linear_alpha: 4.5\n", KW "lora_heads: 1\n"),
           LW_ERR_FORMAT, "linear_alpha", NULL);
    expect("query_mode a sequence", config("", KW "lora_heads: 1\n" KW "query_mode: [a, b]\n"),
           LW_ERR_FORMAT, "query_mode", NULL);
    expect("an alias",
           write_yaml("base: &h 2\nconfig:\n  process:\n    - network:\n        network_kwargs:\n"
                      "          lora_heads: *h\n"),
           LW_ERR_FORMAT, "lora_heads", "alias");
    expect("bad YAML", write_yaml("config:\n  process: [\n    - network: {\n"), LW_ERR_FORMAT,
           "YAML error", "line");
    expect("tab indentation", write_yaml("config:\n\tprocess: 1\n"), LW_ERR_FORMAT, "YAML error",
           NULL);
    char deep[2048] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "[");
    for (int i = 0; i < 40; i++)
        strcat(deep, "]");
    expect("nested too deep", write_yaml(deep), LW_ERR_FORMAT, "nested", NULL);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return th_finish();
}
