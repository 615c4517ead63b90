/* LoRWeB's config.yaml (ai-toolkit's whole job config) read with libyaml: the fields inference
 * uses, config.process[0].network.network_kwargs.* and network.linear / linear_alpha
 * (spec-lorweb.md §1.7; the reference reads them in LoRWeB's inference.py).
 *
 * The event stream is walked once keeping the path of keys and sequence indices; every value
 * under config.process[0].network is recorded (scalars as text, mappings, sequences and aliases as
 * "not a scalar"), then each field is checked in one place: a wrong type or value is LW_ERR_FORMAT
 * and a missing required field LW_ERR_MISSING, both naming the file, the line and the field. Not a
 * general YAML-to-struct mapper: everything outside that section is skipped. */
#include "lorweb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_DEPTH 32
#define MAX_FIELDS 128
#define NETWORK "config.process.0.network."

struct field {
    char   path[192]; /* dotted, sequence indices as numbers */
    char  *value;     /* NULL: not a scalar */
    size_t line;
};

struct frame {
    bool seq, want_key;
    int  index;
    char key[128];
};

struct walk {
    struct frame frames[MAX_DEPTH];
    int          depth; /* -1 before the root */
    struct field fields[MAX_FIELDS];
    int          count;
};

/* Records the value now completed at the top frame's position if it lies in the network section. */
static void record(struct walk *w, const char *value, size_t line) {
    char   path[512] = "";
    size_t n = 0;
    for (int d = 0; d <= w->depth && n < sizeof path; d++) {
        const struct frame *f = &w->frames[d];
        if (f->seq)
            n += (size_t)snprintf(path + n, sizeof path - n, "%s%d", d ? "." : "", f->index);
        else
            n += (size_t)snprintf(path + n, sizeof path - n, "%s%s", d ? "." : "", f->key);
    }
    if (strncmp(path, NETWORK, strlen(NETWORK)) || n >= sizeof(w->fields[0].path) ||
        w->count == MAX_FIELDS)
        return;
    struct field *f = &w->fields[w->count];
    snprintf(f->path, sizeof f->path, "%s", path);
    f->value = value ? strdup(value) : NULL;
    f->line = line;
    if (!value || f->value) w->count++;
}

/* After a value at the top frame: the next scalar is a key (mapping) or the next item (sequence).
 */
static void advance(struct walk *w) {
    if (w->depth < 0) return;
    struct frame *f = &w->frames[w->depth];
    if (f->seq)
        f->index++;
    else
        f->want_key = true;
}

static enum lw_status walk_file(FILE *in, const char *path, struct walk *w, struct lw_error *err) {
    yaml_parser_t parser;
    yaml_event_t  ev;
    if (!yaml_parser_initialize(&parser))
        return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    yaml_parser_set_input_file(&parser, in);
    enum lw_status status = LW_OK;
    for (bool done = false; !done && status == LW_OK;) {
        if (!yaml_parser_parse(&parser, &ev)) {
            status =
                lw_error_set(err, LW_ERR_FORMAT, "%s: line %zu: YAML error: %s", path,
                             parser.problem_mark.line + 1, parser.problem ? parser.problem : "?");
            break;
        }
        size_t        line = ev.start_mark.line + 1;
        struct frame *top = w->depth >= 0 ? &w->frames[w->depth] : NULL;
        switch (ev.type) {
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            if (top && !top->seq && top->want_key) { /* a complex key: skip its contents' meaning */
                snprintf(top->key, sizeof top->key, "?");
                top->want_key = false;
            } else if (top) {
                record(w, NULL, line);
            }
            if (w->depth + 1 >= MAX_DEPTH) {
                status =
                    lw_error_set(err, LW_ERR_FORMAT, "%s: line %zu: nested deeper than %d levels",
                                 path, line, MAX_DEPTH);
                break;
            }
            w->frames[++w->depth] =
                (struct frame){.seq = ev.type == YAML_SEQUENCE_START_EVENT, .want_key = true};
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            w->depth--;
            advance(w);
            break;
        case YAML_SCALAR_EVENT:
        case YAML_ALIAS_EVENT: {
            const char *v =
                ev.type == YAML_SCALAR_EVENT ? (const char *)ev.data.scalar.value : NULL;
            if (!top) break;
            if (!top->seq && top->want_key) {
                snprintf(top->key, sizeof top->key, "%s", v ? v : "*");
                top->want_key = false;
            } else {
                record(w, v, line);
                advance(w);
            }
            break;
        }
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break; /* stream/document start and end */
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return status;
}

/* The field `name` of network_kwargs (or, for linear / linear_alpha, of network itself). */
static const struct field *find(const struct walk *w, const char *name, bool kwargs) {
    char path[192];
    snprintf(path, sizeof path, NETWORK "%s%s", kwargs ? "network_kwargs." : "", name);
    for (int i = 0; i < w->count; i++)
        if (!strcmp(w->fields[i].path, path)) return &w->fields[i];
    return NULL;
}

static enum lw_status bad(const char *file, const struct field *f, const char *want,
                          struct lw_error *err) {
    return lw_error_set(err, LW_ERR_FORMAT,
                        "%s: line %zu: field config.process[0].network.%s: %s%s%s "
                        "is not %s",
                        file, f->line, f->path + strlen(NETWORK), f->value ? "'" : "",
                        f->value ? f->value : "a mapping, sequence or alias", f->value ? "'" : "",
                        want);
}

static bool parse_int(const char *v, int64_t lo, int64_t *out) {
    char     *end;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || x < lo) return false;
    *out = x;
    return true;
}

static bool parse_bool(const char *v, bool *out) {
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "on", "On"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "off", "Off"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (!strcmp(v, yes[i])) return *out = true, true;
        if (!strcmp(v, no[i])) return *out = false, true;
    }
    return false;
}

/* One of two words: sets *first when the value is the first. */
static bool parse_choice(const char *v, const char *a, const char *b, bool *first) {
    if (!strcmp(v, a)) return *first = true, true;
    if (!strcmp(v, b)) return *first = false, true;
    return false;
}

static enum lw_status fields_check(const char *path, const struct walk *w, struct lorweb_config *c,
                                   struct lw_error *err) {
    if (w->count == 0)
        return lw_error_set(err, LW_ERR_MISSING, "%s: no config.process[0].network section", path);
    const struct field *f;
    if (!(f = find(w, "lora_heads", true)))
        return lw_error_set(err, LW_ERR_MISSING,
                            "%s: field config.process[0].network.network_kwargs."
                            "lora_heads is missing",
                            path);
    if (!f->value || !parse_int(f->value, 1, &c->heads))
        return bad(path, f, "a positive integer", err);
    if ((f = find(w, "lora_softmax", true)) && (!f->value || !parse_bool(f->value, &c->softmax)))
        return bad(path, f, "true or false", err);
    if ((f = find(w, "mixing_coeffs_type", true)) &&
        (!f->value || !parse_choice(f->value, "mean", "sum", &c->mean)))
        return bad(path, f, "mean or sum", err);
    if ((f = find(w, "query_projection_type", true)) &&
        (!f->value || !parse_choice(f->value, "linear", "none", &c->project)))
        return bad(path, f, "linear or none", err);
    if ((f = find(w, "pooling_type", true)) &&
        (!f->value || !parse_choice(f->value, "max", "avg", &c->pool_max)))
        return bad(path, f, "avg or max", err);
    const char *strings[] = {"query_mode", "external_query_model"};
    char       *dest[] = {c->query_mode, c->query_model};
    size_t      sizes[] = {sizeof c->query_mode, sizeof c->query_model};
    for (int i = 0; i < 2; i++)
        if ((f = find(w, strings[i], true))) {
            if (!f->value || strlen(f->value) >= sizes[i])
                return bad(path, f, "a short string", err);
            snprintf(dest[i], sizes[i], "%s", f->value);
        }
    const char *counts[] = {"loras_num", "lora_keys_dim", "linear", "linear_alpha"};
    int64_t    *out[] = {&c->basis, &c->keys_dim, &c->rank, &c->alpha};
    for (int i = 0; i < 4; i++) {
        if (!(f = find(w, counts[i], i < 2)) && !(f = find(w, counts[i], i >= 2))) continue;
        char  *end = NULL;
        double v = f->value ? strtod(f->value, &end) : -1; /* alpha may be written 4.0 */
        if (!f->value || end == f->value || *end || !(v >= 0 && v < 1e9) ||
            v != (double)(int64_t)v || (i < 3 && !parse_int(f->value, 0, out[i])))
            return bad(path, f, "a non-negative integer", err);
        *out[i] = (int64_t)v;
    }
    return LW_OK;
}

enum lw_status lorweb_config_read(const char *path, struct lorweb_config *c, struct lw_error *err) {
    *c = (struct lorweb_config){
        .heads = 1, .softmax = true, .mean = true, .project = true, .pool_max = true};
    snprintf(c->query_mode, sizeof c->query_mode, "aa'bb'");
    snprintf(c->query_model, sizeof c->query_model, "openai/clip-vit-large-patch14");
    FILE *in = fopen(path, "rb");
    if (!in) return lw_error_set(err, LW_ERR_FILE, "%s: cannot open: %m", path);
    struct walk   *w = calloc(1, sizeof *w);
    enum lw_status status = LW_OK;
    if (!w)
        status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    else
        w->depth = -1;
    if (status == LW_OK) status = walk_file(in, path, w, err);
    fclose(in);
    if (status == LW_OK) status = fields_check(path, w, c, err);
    for (int i = 0; w && i < w->count; i++)
        free(w->fields[i].value);
    free(w);
    return status;
}
