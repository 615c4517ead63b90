/* LoRWeB config.yaml reading with libyaml (spec-lorweb.md §1.7). */
#include "lorweb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Walks the YAML events keeping the path of mapping keys; records the scalars under
 * config.process[0].network.(network_kwargs.)?KEY. Sequences are tracked by index. */
struct walker {
    char path[16][64];
    int  depth;
    int  seq_index[16];
    bool in_seq[16];
    bool expect_key[16];
};

static bool is_bool(const char *v, bool *out) {
    if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "yes")) return *out = true, true;
    if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "no")) return *out = false, true;
    return false;
}

static enum lw_status take(const char *file, const char *key, const char *value,
                           struct lorweb_config *c, struct lw_error *err) {
    char *end;
    if (!strcmp(key, "lora_heads")) {
        c->heads = strtoll(value, &end, 10);
        if (*end || c->heads <= 0) goto bad;
    } else if (!strcmp(key, "lora_softmax")) {
        if (!is_bool(value, &c->softmax)) goto bad;
    } else if (!strcmp(key, "mixing_coeffs_type")) {
        if (strcmp(value, "mean") && strcmp(value, "sum")) goto bad;
        c->mean = !strcmp(value, "mean");
    } else if (!strcmp(key, "query_projection_type")) {
        if (strcmp(value, "linear") && strcmp(value, "none")) goto bad;
        c->project = !strcmp(value, "linear");
    } else if (!strcmp(key, "query_mode")) {
        snprintf(c->query_mode, sizeof c->query_mode, "%s", value);
    } else if (!strcmp(key, "linear")) {
        c->rank = strtoll(value, &end, 10);
        if (*end) goto bad;
    } else if (!strcmp(key, "linear_alpha")) {
        c->alpha = strtoll(value, &end, 10);
        if (*end) goto bad;
    }
    return LW_OK;
bad:
    return lw_error_set(err, LW_ERR_FORMAT, "%s: field %s has an invalid value '%s'", file, key, value);
}

enum lw_status lorweb_config_read(const char *path, struct lorweb_config *c, struct lw_error *err) {
    *c = (struct lorweb_config){.heads = 1, .softmax = true, .mean = true, .project = true};
    snprintf(c->query_mode, sizeof c->query_mode, "aa'bb'");
    FILE *f = fopen(path, "rb");
    if (!f) return lw_error_set(err, LW_ERR_FILE, "%s: cannot open: %m", path);
    yaml_parser_t parser;
    yaml_event_t  ev;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    struct walker  w = {0};
    enum lw_status status = LW_OK;
    bool           found = false, done = false;
    char           key[64] = "";
    w.depth = -1;
    while (!done && status == LW_OK) {
        if (!yaml_parser_parse(&parser, &ev)) {
            status = lw_error_set(err, LW_ERR_FORMAT, "%s: YAML error at line %zu: %s", path,
                                  parser.problem_mark.line + 1, parser.problem ? parser.problem : "?");
            break;
        }
        int d = w.depth;
        switch (ev.type) {
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            if (d + 1 >= 16) {
                status = lw_error_set(err, LW_ERR_FORMAT, "%s: nesting deeper than 16 levels", path);
                break;
            }
            if (d >= 0 && !w.in_seq[d]) snprintf(w.path[d], sizeof w.path[d], "%s", key);
            if (d >= 0 && w.in_seq[d]) snprintf(w.path[d], sizeof w.path[d], "%d", w.seq_index[d]++);
            if (d >= 0 && !w.in_seq[d]) w.expect_key[d] = true;
            w.depth = ++d;
            w.in_seq[d] = ev.type == YAML_SEQUENCE_START_EVENT;
            w.expect_key[d] = true;
            w.seq_index[d] = 0;
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT: w.depth--; break;
        case YAML_SCALAR_EVENT: {
            const char *v = (const char *)ev.data.scalar.value;
            if (d < 0) break;
            if (w.in_seq[d]) {
                w.seq_index[d]++;
            } else if (w.expect_key[d]) {
                snprintf(key, sizeof key, "%s", v);
                w.expect_key[d] = false;
            } else {
                w.expect_key[d] = true;
                /* config.process.0.network[.network_kwargs].KEY */
                bool network = d >= 3 && !strcmp(w.path[0], "config") && !strcmp(w.path[1], "process") &&
                               !strcmp(w.path[2], "0") && !strcmp(w.path[3], "network");
                if (network && (d == 4 || (d == 5 && !strcmp(w.path[4], "network_kwargs")))) {
                    found = true;
                    status = take(path, key, v, c, err);
                }
            }
            break;
        }
        case YAML_STREAM_END_EVENT: done = true; break;
        default: break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    fclose(f);
    if (status == LW_OK && !found)
        status = lw_error_set(err, LW_ERR_MISSING, "%s: no config.process[0].network section", path);
    return status;
}
