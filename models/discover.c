/* Model discovery (see discover.h): scan the usual folders, recognise each weight file by its
 * tensors, keep the best candidate per component and describe it (format, dtypes, sizes, a hash
 * prefix). The download table is spec-lorweb.md §5.1; the memory estimate follows §5.2's rules. */
#include "discover.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lorweb.h"
#include "names_flux.h"
#include "sha256.h"
#include "weights.h"

#define SCAN_DEPTH 3
#define QUICK_BYTES (1u << 20)

static const struct {
    const char *key, *title, *source;
} components[MD_COUNT] = {
    [MD_FLUX] =
        {"flux", "FLUX.1 Kontext transformer",
         "huggingface.co/black-forest-labs/FLUX.1-Kontext-dev: flux1-kontext-dev.safetensors "
         "(23.8 GB, bf16; gated: accept the FLUX.1 [dev] Non-Commercial License and download "
         "with a Hugging Face token) into ComfyUI's models/diffusion_models/; or its "
         "transformer/ folder (diffusers, 3 shards + index); or a GGUF from "
         "huggingface.co/QuantStack/FLUX.1-Kontext-dev-GGUF (Q8_0 12.7 GB, Q4_0 6.8 GB)"},
    [MD_AE] =
        {"ae", "autoencoder",
         "huggingface.co/black-forest-labs/FLUX.1-Kontext-dev: ae.safetensors (335 MB; gated as "
         "above) into models/vae/; or its vae/ folder"},
    [MD_CLIP_TEXT] =
        {"clip_text", "CLIP-L text encoder",
         "huggingface.co/comfyanonymous/flux_text_encoders: clip_l.safetensors (246 MB, not "
         "gated) into models/text_encoders/; or text_encoder/ of the FLUX.1 Kontext repository"},
    [MD_T5] =
        {"t5", "T5-XXL text encoder",
         "huggingface.co/comfyanonymous/flux_text_encoders: t5xxl_fp16.safetensors (9.79 GB) or "
         "t5xxl_fp8_e4m3fn.safetensors (4.89 GB), not gated, into models/text_encoders/; or a GGUF "
         "from huggingface.co/city96/t5-v1_1-xxl-encoder-gguf (Q8_0 5.06 GB); or "
         "text_encoder_2/ of the FLUX.1 Kontext repository"},
    [MD_TOKENIZER_CLIP] =
        {"tokenizer_clip", "CLIP tokenizer",
         "huggingface.co/black-forest-labs/FLUX.1-Kontext-dev: tokenizer/ (vocab.json, "
         "merges.txt); or the same two files from huggingface.co/openai/"
         "clip-vit-large-patch14 (not gated)"},
    [MD_TOKENIZER_T5] =
        {"tokenizer_t5", "T5 tokenizer",
         "huggingface.co/black-forest-labs/FLUX.1-Kontext-dev: tokenizer_2/spiece.model; or "
         "spiece.model from huggingface.co/google/t5-v1_1-xxl (not gated)"},
    [MD_CLIP_VISION] =
        {"clip_vision", "CLIP ViT-L/14 vision encoder",
         "huggingface.co/openai/clip-vit-large-patch14: model.safetensors (1.71 GB, fp32, not "
         "gated) into models/clip_vision/"},
    [MD_LORWEB] =
        {"lorweb", "LoRWeB basis",
         "huggingface.co/hilamanor/lorweb: the LoRWeB checkpoint (README: lorweb_model/"
         "lorweb_model.safetensors, about 1.67 GB, fp16; NVIDIA non-commercial licence) into "
         "models/loras/ or $XDG_DATA_HOME/lorweb/models/, with its config.yaml next to it"},
    [MD_LORWEB_CONFIG] =
        {"lorweb_config", "LoRWeB config.yaml",
         "huggingface.co/hilamanor/lorweb: config.yaml, into the folder of the LoRWeB "
         "checkpoint"},
};

const char *md_component_key(enum md_component c) {
    return (unsigned)c < MD_COUNT ? components[c].key : "?";
}

const char *md_component_title(enum md_component c) {
    return (unsigned)c < MD_COUNT ? components[c].title : "?";
}

const char *md_component_source(enum md_component c) {
    return (unsigned)c < MD_COUNT ? components[c].source : "?";
}

uint64_t md_memory(const struct md_found *f, const char *precision) {
    double per; /* bytes per matrix element */
    if (!strcmp(precision, "stored")) return f->matrix_bytes + 4 * f->vector_params;
    if (!strcmp(precision, "bf16"))
        per = 2;
    else if (!strcmp(precision, "fp8"))
        per = 1;
    else if (!strcmp(precision, "q8_0"))
        per = 34.0 / 32;
    else if (!strcmp(precision, "q4_0"))
        per = 18.0 / 32;
    else
        return 0;
    return (uint64_t)((double)f->matrix_params * per) + 4 * f->vector_params;
}

/* ---------------------------------------------------------------------------------------------- */
/* Candidates */

struct candidate {
    int  comp, origin, rank; /* lower origin and rank win */
    char path[MD_PATH_MAX];
};

struct scan {
    struct candidate *c;
    size_t            count, capacity;
    int               origin;
};

static void add(struct scan *s, int comp, const char *path, int rank) {
    if (s->count == s->capacity) {
        size_t            capacity = s->capacity ? 2 * s->capacity : 32;
        struct candidate *grown = realloc(s->c, capacity * sizeof *grown);
        if (!grown) return; /* discovery is best effort: a candidate less */
        s->c = grown, s->capacity = capacity;
    }
    struct candidate *c = &s->c[s->count++];
    c->comp = comp, c->origin = s->origin, c->rank = rank;
    snprintf(c->path, sizeof c->path, "%s", path);
}

static bool has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool contains_nocase(const char *s, const char *word) {
    for (size_t n = strlen(word); *s; s++) {
        size_t i = 0;
        while (i < n && s[i] && tolower((unsigned char)s[i]) == word[i])
            i++;
        if (i == n) return true;
    }
    return false;
}

static bool is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool lorweb_file(const struct wt_file *f) {
    for (size_t i = 0; i < wt_count(f); i++)
        if (has_suffix(wt_at(f, i)->name, ".lora_keys") ||
            has_suffix(wt_at(f, i)->name, ".lora_keys.weight"))
            return true;
    return false;
}

/* The components a weight file can serve (a whole CLIP model serves both towers). */
static unsigned classify(const struct wt_file *f) {
    unsigned m = 0;
    if (wt_flux_layout(f) != WT_FLUX_UNKNOWN) m |= 1u << MD_FLUX;
    if (wt_find(f, "encoder.conv_in.weight") && wt_find(f, "decoder.conv_in.weight"))
        m |= 1u << MD_AE;
    if (wt_find(f, "text_model.embeddings.token_embedding.weight")) m |= 1u << MD_CLIP_TEXT;
    if (wt_find(f, "vision_model.embeddings.patch_embedding.weight") &&
        wt_find(f, "visual_projection.weight"))
        m |= 1u << MD_CLIP_VISION;
    if (wt_find(f, "encoder.block.0.layer.0.SelfAttention.q.weight") ||
        wt_find(f, "enc.blk.0.attn_q.weight"))
        m |= 1u << MD_T5;
    if (lorweb_file(f)) m |= 1u << MD_LORWEB;
    return m;
}

static void consider_weights(struct scan *s, const char *path) {
    struct wt_file *f = NULL;
    if (wt_open(path, &f, NULL) != LW_OK) return; /* not weights we read: not a candidate */
    unsigned m = classify(f);
    wt_close(f);
    for (int c = 0; c < MD_COUNT; c++)
        if (m & 1u << c) add(s, c, path, c == MD_FLUX && !contains_nocase(path, "kontext"));
}

static void consider_config(struct scan *s, const char *path) {
    struct lorweb_config cfg;
    if (lorweb_config_read(path, &cfg, NULL) == LW_OK) add(s, MD_LORWEB_CONFIG, path, 0);
}

static int name_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted entries of a folder (hidden ones skipped); the caller frees. */
static char **list_dir(const char *path, size_t *count) {
    DIR *d = opendir(path);
    *count = 0;
    if (!d) return NULL;
    char         **names = NULL;
    size_t         capacity = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (*count == capacity) {
            capacity = capacity ? 2 * capacity : 32;
            char **grown = realloc(names, capacity * sizeof *names);
            if (!grown) break;
            names = grown;
        }
        if ((names[*count] = strdup(e->d_name))) (*count)++;
    }
    closedir(d);
    if (names) qsort(names, *count, sizeof *names, name_cmp);
    return names;
}

static bool weight_name(const char *name) {
    return has_suffix(name, ".safetensors") || has_suffix(name, ".sft") ||
           has_suffix(name, ".gguf");
}

/* A folder read as one weight set: it has an index, or numbered shards. */
static bool sharded(char **names, size_t count) {
    for (size_t i = 0; i < count; i++)
        if (has_suffix(names[i], ".safetensors.index.json") ||
            (has_suffix(names[i], ".safetensors") && strstr(names[i], "-of-")))
            return true;
    return false;
}

static void scan_dir(struct scan *s, const char *dir, int depth) {
    size_t count;
    char **names = list_dir(dir, &count);
    bool   shards = sharded(names, count), vocab = false, merges = false;
    if (shards) consider_weights(s, dir);
    for (size_t i = 0; i < count; i++) {
        char path[MD_PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= (int)sizeof path) continue;
        if (is_dir(path)) {
            if (depth > 0) scan_dir(s, path, depth - 1);
        } else if (weight_name(names[i])) {
            if (!shards) consider_weights(s, path);
        } else if (!strcmp(names[i], "spiece.model")) {
            add(s, MD_TOKENIZER_T5, dir, 0);
        } else if (!strcmp(names[i], "config.yaml")) {
            consider_config(s, path);
        }
        vocab |= !strcmp(names[i], "vocab.json");
        merges |= !strcmp(names[i], "merges.txt");
    }
    if (vocab && merges) add(s, MD_TOKENIZER_CLIP, dir, 0);
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

static void scan_comfyui(struct scan *s, const char *models) {
    static const char *const subdirs[] = {
        "diffusion_models", "unet", "vae", "text_encoders", "clip", "clip_vision", "loras"};
    for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
        char path[MD_PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", models, subdirs[i]);
        if (is_dir(path)) scan_dir(s, path, SCAN_DEPTH - 1);
    }
}

/* The hub cache: models--ORG--NAME/snapshots/REV/, REV from refs/main when present. */
static void scan_hf_cache(struct scan *s, const char *cache) {
    size_t count;
    char **repos = list_dir(cache, &count);
    for (size_t i = 0; i < count; i++) {
        char path[MD_PATH_MAX], rev[128] = "";
        if (strncmp(repos[i], "models--", 8)) continue;
        if (snprintf(path, sizeof path, "%s/%s/refs/main", cache, repos[i]) >= (int)sizeof path)
            continue;
        FILE *ref = fopen(path, "r");
        if (ref) {
            if (!fgets(rev, sizeof rev, ref)) rev[0] = 0;
            fclose(ref);
            rev[strcspn(rev, "\r\n")] = 0;
        }
        bool fits = snprintf(path, sizeof path, "%s/%s/snapshots/%s", cache, repos[i], rev) <
                    (int)sizeof path;
        if (!fits || !rev[0] || strchr(rev, '/') ||
            !is_dir(path)) { /* no usable ref: the last snapshot */
            size_t n;
            char   snapshots[MD_PATH_MAX];
            if (snprintf(snapshots, sizeof snapshots, "%s/%s/snapshots", cache, repos[i]) >=
                (int)sizeof snapshots)
                continue;
            char **revs = list_dir(snapshots, &n);
            if (n &&
                snprintf(path, sizeof path, "%s/%s", snapshots, revs[n - 1]) >= (int)sizeof path)
                n = 0;
            for (size_t k = 0; k < n; k++)
                free(revs[k]);
            free(revs);
            if (!n) continue;
        }
        scan_dir(s, path, SCAN_DEPTH - 1);
    }
    for (size_t i = 0; i < count; i++)
        free(repos[i]);
    free(repos);
}

/* ---------------------------------------------------------------------------------------------- */
/* Describing the chosen file */

static void hash_file(const char *path, bool full, struct sha256 *h) {
    FILE *in = fopen(path, "rb");
    if (!in) return;
    static uint8_t buf[QUICK_BYTES];
    size_t         n;
    if (full) {
        while ((n = fread(buf, 1, sizeof buf, in)) > 0)
            sha256_update(h, buf, n);
    } else { /* first and last MiB and the size: cheap, and changes with any real difference */
        n = fread(buf, 1, sizeof buf, in);
        sha256_update(h, buf, n);
        if (fseek(in, -(long)QUICK_BYTES, SEEK_END) == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
            sha256_update(h, buf, n);
        long size = fseek(in, 0, SEEK_END) == 0 ? ftell(in) : -1;
        sha256_update(h, &size, sizeof size);
    }
    fclose(in);
}

static uint64_t file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void describe_weights(struct md_found *m, bool full_hash) {
    struct wt_file *f = NULL;
    struct sha256   h;
    uint8_t         digest[32];
    sha256_init(&h);
    if (wt_open(m->path, &f, NULL) != LW_OK) return;
    uint64_t by_dtype[LW_DTYPE_COUNT] = {0};
    for (size_t i = 0; i < wt_count(f); i++) {
        const struct wt_tensor *t = wt_at(f, i);
        uint64_t                n = wt_elements(t);
        if (t->ndim >= 2)
            m->matrix_params += n, m->matrix_bytes += t->bytes;
        else
            m->vector_params += n;
        by_dtype[t->dtype] += t->bytes;
    }
    for (int k = 0; k < 2; k++) { /* the two dtypes holding most bytes */
        int best = -1;
        for (int d = 0; d < LW_DTYPE_COUNT; d++)
            if (by_dtype[d] && (best < 0 || by_dtype[d] > by_dtype[best])) best = d;
        if (best < 0) break;
        size_t len = strlen(m->dtype);
        snprintf(m->dtype + len, sizeof m->dtype - len, "%s%s", k ? "+" : "",
                 lw_dtype_info(best)->name);
        by_dtype[best] = 0;
    }
    size_t files = wt_file_count(f);
    for (size_t i = 0; i < files; i++) {
        m->file_bytes += file_size(wt_file_path(f, i));
        hash_file(wt_file_path(f, i), full_hash, &h);
    }
    if (files > 1)
        snprintf(m->format, sizeof m->format, "%s, %zu files", wt_format(f), files);
    else
        snprintf(m->format, sizeof m->format, "%s", wt_format(f));
    sha256_final(&h, digest);
    sha256_hex(digest, 6, m->hash);
    /* BFL's published checksum of flux1-kontext-dev.safetensors (spec-flux-kontext.md §1.10) */
    if (full_hash && has_suffix(m->path, "/flux1-kontext-dev.safetensors") &&
        strcmp(m->hash, "843a26dc765d"))
        snprintf(m->note, sizeof m->note,
                 "sha256 differs from BFL's release (843a26dc765d…): a "
                 "different or damaged file");
    wt_close(f);
}

static void describe_other(struct md_found *m, bool full_hash) {
    static const char *const tokenizer_files[] = {"vocab.json", "merges.txt", "spiece.model"};
    struct sha256            h;
    uint8_t                  digest[32];
    sha256_init(&h);
    if (is_file(m->path)) {
        m->file_bytes = file_size(m->path);
        hash_file(m->path, full_hash, &h);
        snprintf(m->format, sizeof m->format, "yaml");
    } else {
        for (size_t i = 0; i < 3; i++) {
            char path[MD_PATH_MAX + 16];
            snprintf(path, sizeof path, "%s/%s", m->path, tokenizer_files[i]);
            if (!is_file(path)) continue;
            m->file_bytes += file_size(path);
            hash_file(path, full_hash, &h);
        }
        snprintf(m->format, sizeof m->format, "tokenizer");
    }
    sha256_final(&h, digest);
    sha256_hex(digest, 6, m->hash);
}

/* Whether `path` is a file directly inside the folder holding `other`. */
static bool same_folder(const char *path, const char *other) {
    const char *slash = strrchr(other, '/');
    size_t      dir = slash ? (size_t)(slash - other) : 0;
    return strlen(path) > dir && !strncmp(path, other, dir) && path[dir] == '/' &&
           !strchr(path + dir + 1, '/');
}

static const char *const origins[] = {"models.conf", "data folder", "ComfyUI", "HF cache"};

/* Picks the best candidate per component; the LoRWeB config next to the chosen checkpoint first. */
static void choose(struct scan *s, struct md_result *r) {
    for (int c = 0; c < MD_COUNT; c++) {
        const struct candidate *best = NULL;
        int                     n = 0;
        for (size_t i = 0; i < s->count; i++) {
            const struct candidate *k = &s->c[i];
            if (k->comp != c) continue;
            n++;
            bool better = !best || k->origin < best->origin ||
                          (k->origin == best->origin && k->rank < best->rank);
            if (c == MD_LORWEB_CONFIG &&
                r->comp[MD_LORWEB].found) { /* same folder as the checkpoint */
                bool here = same_folder(k->path, r->comp[MD_LORWEB].path);
                if (best && here != same_folder(best->path, r->comp[MD_LORWEB].path)) better = here;
            }
            if (better) best = k;
        }
        if (!best) continue;
        struct md_found *m = &r->comp[c];
        m->found = true;
        m->alternatives = n - 1;
        snprintf(m->path, sizeof m->path, "%s", best->path);
        snprintf(m->origin, sizeof m->origin, "%s", origins[best->origin]);
        if (c == MD_FLUX && best->rank)
            snprintf(m->note, sizeof m->note,
                     "not named Kontext: FLUX.1 dev or schnell has the same tensors "
                     "but cannot edit images");
    }
}

static void default_dir(char *out, const char *env, const char *home_rel, const char *suffix) {
    const char *base = getenv(env), *home = getenv("HOME");
    if (base && *base)
        snprintf(out, MD_PATH_MAX, "%s/%s", base, suffix);
    else if (home)
        snprintf(out, MD_PATH_MAX, "%s/%s/%s", home, home_rel, suffix);
    else
        out[0] = 0;
}

enum lw_status md_discover(const struct md_options *o, struct md_result *r, struct lw_error *err) {
    memset(r, 0, sizeof *r);
    struct md_conf *conf = calloc(1, sizeof *conf);
    if (!conf) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    char conf_path[MD_PATH_MAX];
    if (o->config)
        snprintf(conf_path, sizeof conf_path, "%s", o->config);
    else
        default_dir(conf_path, "XDG_CONFIG_HOME", ".config", "lorweb/models.conf");
    enum lw_status status = LW_OK;
    if (o->config || is_file(conf_path)) status = md_conf_read(conf_path, conf, err);
    if (status != LW_OK) {
        free(conf);
        return status;
    }
    struct scan s = {0};
    /* 0: paths the configuration names (a folder may be a weight set or a tokenizer folder) */
    for (int c = 0; c < MD_COUNT; c++) {
        const char *p = conf->paths[c];
        if (!p[0]) continue;
        if (c == MD_TOKENIZER_CLIP || c == MD_TOKENIZER_T5) {
            if (is_dir(p)) add(&s, c, p, 0);
        } else if (c == MD_LORWEB_CONFIG) {
            consider_config(&s, p);
        } else {
            struct wt_file *f = NULL;
            if (wt_open(p, &f, NULL) == LW_OK && classify(f) & 1u << c)
                add(&s, c, p, c == MD_FLUX && !contains_nocase(p, "kontext"));
            wt_close(f);
        }
        if (!s.count || s.c[s.count - 1].comp != c)
            snprintf(r->comp[c].note, sizeof r->comp[c].note,
                     "models.conf names %.100s, which is missing or "
                     "not a %s",
                     p, md_component_title((enum md_component)c));
    }
    /* 1: our data folder, 2: ComfyUI trees, 3: the hub cache */
    char data[MD_PATH_MAX], hf[MD_PATH_MAX];
    if (o->data_dir)
        snprintf(data, sizeof data, "%s", o->data_dir);
    else if (conf->data_dir[0])
        snprintf(data, sizeof data, "%s", conf->data_dir);
    else
        default_dir(data, "XDG_DATA_HOME", ".local/share", "lorweb/models");
    s.origin = 1;
    if (data[0] && is_dir(data)) scan_dir(&s, data, SCAN_DEPTH - 1);
    s.origin = 2;
    const char *home = getenv("HOME");
    char        home_comfy[MD_PATH_MAX] = "";
    if (home) snprintf(home_comfy, sizeof home_comfy, "%s/ComfyUI/models", home);
    const char *comfy[2 * MD_MAX_DIRS + 1] = {0};
    int         nc = 0;
    for (int i = 0; i < MD_MAX_DIRS && o->comfyui[i]; i++)
        comfy[nc++] = o->comfyui[i];
    for (int i = 0; i < conf->comfyui_count; i++)
        comfy[nc++] = conf->comfyui[i];
    if (home_comfy[0]) comfy[nc++] = home_comfy;
    for (int i = 0; i < nc; i++)
        if (is_dir(comfy[i])) scan_comfyui(&s, comfy[i]);
    if (o->hf_cache)
        snprintf(hf, sizeof hf, "%s", o->hf_cache);
    else if (conf->hf_cache[0])
        snprintf(hf, sizeof hf, "%s", conf->hf_cache);
    else if (getenv("HF_HUB_CACHE"))
        snprintf(hf, sizeof hf, "%s", getenv("HF_HUB_CACHE"));
    else if (getenv("HF_HOME"))
        snprintf(hf, sizeof hf, "%s/hub", getenv("HF_HOME"));
    else
        default_dir(hf, "XDG_CACHE_HOME", ".cache", "huggingface/hub");
    s.origin = 3;
    if (hf[0] && is_dir(hf)) scan_hf_cache(&s, hf);
    snprintf(r->searched[0], MD_PATH_MAX, "%s", conf_path);
    snprintf(r->searched[1], MD_PATH_MAX, "%s", data);
    snprintf(r->searched[2], MD_PATH_MAX, "%s", nc ? comfy[0] : "");
    snprintf(r->searched[3], MD_PATH_MAX, "%s", hf);
    /* the LoRWeB checkpoint first: its folder decides which config.yaml goes with it */
    choose(&s, r);
    for (int c = 0; c < MD_COUNT; c++) {
        struct md_found *m = &r->comp[c];
        if (!m->found) continue;
        if (c == MD_TOKENIZER_CLIP || c == MD_TOKENIZER_T5 || c == MD_LORWEB_CONFIG)
            describe_other(m, o->full_hash);
        else
            describe_weights(m, o->full_hash);
    }
    free(s.c);
    free(conf);
    return LW_OK;
}
