/* models.conf reading: a small INI-style key file parsed by hand (discover.h documents the keys).
 * Strict on purpose: a typo in a key is an error naming the file and line rather than a path that
 * is silently ignored. Values are taken verbatim after trimming; `~/` expands to $HOME. */
#include "discover.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONF_BYTES (1u << 20)

static const char *trim(char *s, size_t *len) {
    size_t n = *len;
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    *len = n;
    return s;
}

static enum lw_status set(char *dest, const char *value, size_t len, const char *name, int line,
                          const char *key, struct lw_error *err) {
    const char *home = getenv("HOME");
    bool        tilde = len >= 2 && value[0] == '~' && value[1] == '/' && home;
    size_t      need = len + (tilde ? strlen(home) - 1 : 0);
    if (len == 0 || need >= MD_PATH_MAX || memchr(value, 0, len))
        return lw_error_set(err, LW_ERR_FORMAT, "%s: line %d: %s: the value is %s", name, line, key,
                            len == 0 ? "empty" : "too long or has a NUL byte");
    if (tilde)
        snprintf(dest, MD_PATH_MAX, "%s%.*s", home, (int)len - 1, value + 1);
    else
        snprintf(dest, MD_PATH_MAX, "%.*s", (int)len, value);
    return LW_OK;
}

enum lw_status md_conf_parse(const char *text, size_t len, const char *name, struct md_conf *c,
                             struct lw_error *err) {
    memset(c, 0, sizeof *c);
    enum { NONE, MODELS, SEARCH } group = NONE;
    int line = 0;
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t      n = nl ? (size_t)(nl - (text + at)) : len - at;
        char        buf[MD_PATH_MAX + 256];
        line++;
        if (n >= sizeof buf)
            return lw_error_set(err, LW_ERR_FORMAT, "%s: line %d is longer than %zu bytes", name,
                                line, sizeof buf - 1);
        memcpy(buf, text + at, n);
        at += n + 1;
        const char *s = trim(buf, &n);
        if (n == 0 || s[0] == '#' || s[0] == ';') continue;
        if (s[0] == '[') {
            if (s[n - 1] != ']')
                return lw_error_set(err, LW_ERR_FORMAT, "%s: line %d: a group needs a closing ]",
                                    name, line);
            if (n == 8 && !memcmp(s, "[models]", 8))
                group = MODELS;
            else if (n == 8 && !memcmp(s, "[search]", 8))
                group = SEARCH;
            else
                return lw_error_set(err, LW_ERR_FORMAT,
                                    "%s: line %d: unknown group %.*s (groups: "
                                    "[models], [search])",
                                    name, line, (int)(n > 64 ? 64 : n), s);
            continue;
        }
        const char *eq = memchr(s, '=', n);
        if (!eq)
            return lw_error_set(err, LW_ERR_FORMAT,
                                "%s: line %d: neither a [group] nor key = value", name, line);
        size_t      klen = (size_t)(eq - s), vlen = n - klen - 1;
        const char *key = trim((char *)s, &klen), *value = trim((char *)eq + 1, &vlen);
        char        k[64];
        if (klen == 0 || klen >= sizeof k)
            return lw_error_set(err, LW_ERR_FORMAT, "%s: line %d: a key of %zu characters", name,
                                line, klen);
        snprintf(k, sizeof k, "%.*s", (int)klen, key);
        char          *dest = NULL;
        enum lw_status status = LW_OK;
        if (group == MODELS) {
            for (int i = 0; i < MD_COUNT && !dest; i++)
                if (!strcmp(k, md_component_key((enum md_component)i))) dest = c->paths[i];
        } else if (group == SEARCH) {
            if (!strcmp(k, "comfyui")) {
                if (c->comfyui_count == MD_MAX_DIRS)
                    return lw_error_set(err, LW_ERR_FORMAT,
                                        "%s: line %d: more than %d comfyui folders", name, line,
                                        MD_MAX_DIRS);
                dest = c->comfyui[c->comfyui_count++];
            } else if (!strcmp(k, "hf_cache")) {
                dest = c->hf_cache;
            } else if (!strcmp(k, "data_dir")) {
                dest = c->data_dir;
            }
        } else {
            return lw_error_set(err, LW_ERR_FORMAT,
                                "%s: line %d: key %s before any [models] or [search] group", name,
                                line, k);
        }
        if (!dest)
            return lw_error_set(err, LW_ERR_FORMAT, "%s: line %d: unknown key %s in [%s]", name,
                                line, k, group == MODELS ? "models" : "search");
        if ((status = set(dest, value, vlen, name, line, k, err)) != LW_OK) return status;
    }
    return LW_OK;
}

enum lw_status md_conf_read(const char *path, struct md_conf *c, struct lw_error *err) {
    memset(c, 0, sizeof *c);
    FILE *in = fopen(path, "rb");
    if (!in) return lw_error_set(err, LW_ERR_FILE, "%s: cannot open: %m", path);
    char  *text = malloc(MAX_CONF_BYTES + 1);
    size_t n = text ? fread(text, 1, MAX_CONF_BYTES + 1, in) : 0;
    fclose(in);
    enum lw_status status;
    if (!text)
        status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    else if (n > MAX_CONF_BYTES)
        status =
            lw_error_set(err, LW_ERR_FORMAT, "%s: larger than %u KiB", path, MAX_CONF_BYTES >> 10);
    else
        status = md_conf_parse(text, n, path, c, err);
    free(text);
    return status;
}
