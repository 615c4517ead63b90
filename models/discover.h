/* Model discovery: where the files a LoRWeB-on-Kontext run needs are on this machine, found in the
 * places users already keep them (a ComfyUI models/ tree, the Hugging Face hub cache, our own data
 * folder) or named in $XDG_CONFIG_HOME/lorweb/models.conf, and what is missing and where to get it
 * (spec-lorweb.md §5). Files are recognised by their tensors, not their names (only "Kontext" in a
 * name tells FLUX.1 Kontext from FLUX.1 dev, which have the same tensors).
 *
 * This is a helper for front ends (`lorweb models`, the plug-in's settings); the engine itself
 * takes plain paths (pipeline.h). Reads file headers only: nothing is uploaded. Not thread-safe
 * with respect to the environment variables it reads. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define MD_PATH_MAX 4096
#define MD_MAX_DIRS 8

enum md_component {
    MD_FLUX = 0,       /* FLUX.1 Kontext transformer */
    MD_AE,             /* autoencoder */
    MD_CLIP_TEXT,      /* CLIP-L text encoder */
    MD_T5,             /* T5-XXL encoder */
    MD_TOKENIZER_CLIP, /* folder with vocab.json + merges.txt */
    MD_TOKENIZER_T5,   /* folder with spiece.model */
    MD_CLIP_VISION,    /* CLIP ViT-L/14 vision tower + projection (the LoRWeB query encoder) */
    MD_LORWEB,         /* LoRWeB basis checkpoint */
    MD_LORWEB_CONFIG,  /* its config.yaml */
    MD_COUNT
};

/* models.conf: an INI-style key file (groups in [brackets], `key = value`, # or ; comments):
 *   [models]   flux, ae, clip_text, t5, tokenizer_clip, tokenizer_t5, clip_vision, lorweb,
 *              lorweb_config = a path each (a file or a folder; ~/ expands to $HOME)
 *   [search]   comfyui = a ComfyUI models/ folder (repeatable), hf_cache = the hub cache folder,
 *              data_dir = a folder of model files
 * Unknown groups or keys, lines that are neither, and over-long values are LW_ERR_FORMAT naming the
 * file and line. */
struct md_conf {
    char paths[MD_COUNT][MD_PATH_MAX]; /* "" when not given */
    char comfyui[MD_MAX_DIRS][MD_PATH_MAX];
    int  comfyui_count;
    char hf_cache[MD_PATH_MAX], data_dir[MD_PATH_MAX];
};
enum lw_status md_conf_read(const char *path, struct md_conf *out, struct lw_error *err);
/* The same from text in memory (`name` for messages). */
enum lw_status md_conf_parse(const char *text, size_t len, const char *name, struct md_conf *out,
                             struct lw_error *err);

struct md_options {
    const char *config; /* NULL: $XDG_CONFIG_HOME/lorweb/models.conf (absent is fine) */
    const char *comfyui[MD_MAX_DIRS]; /* extra ComfyUI models/ folders (NULL-padded) */
    const char *hf_cache;             /* NULL: conf, else $HF_HUB_CACHE, $HF_HOME/hub, else
                                       * $XDG_CACHE_HOME/huggingface/hub (~/.cache/…) */
    const char *data_dir;             /* NULL: conf, else $XDG_DATA_HOME/lorweb/models */
    bool        full_hash; /* sha256 of whole files (slow) instead of a quick fingerprint */
};

struct md_found {
    bool     found;
    char     path[MD_PATH_MAX];
    char     origin[32]; /* "models.conf", "data folder", "ComfyUI", "HF cache" */
    char     format[48]; /* "safetensors", "safetensors, 3 files", "gguf", "yaml", "tokenizer" */
    char     dtype[48];  /* the dtypes of its weights, most bytes first: "BF16", "Q8_0+F32" */
    char     hash[24];   /* 12 hex digits: sha256 prefix ("…" fingerprint unless full_hash) */
    char     note[160];  /* a warning worth printing, e.g. not named Kontext; "" when none */
    uint64_t file_bytes; /* on disk */
    uint64_t matrix_params, vector_params; /* elements in ≥2-D / ≤1-D tensors */
    uint64_t matrix_bytes;                 /* stored bytes of the ≥2-D tensors */
    int      alternatives;                 /* further candidates found for this component */
};

struct md_result {
    struct md_found comp[MD_COUNT];
    char            searched[4][MD_PATH_MAX]; /* the folders looked in ("" for none) */
};

/* Searches (in this priority: models.conf, data folder, ComfyUI folders, HF cache) and fills one
 * entry per component. LW_OK even when components are missing; LW_ERR_FORMAT for a malformed
 * models.conf. */
enum lw_status md_discover(const struct md_options *options, struct md_result *out,
                           struct lw_error *err);

const char *md_component_key(enum md_component c);   /* the models.conf key: "flux", … */
const char *md_component_title(enum md_component c); /* "FLUX.1 Kontext transformer", … */
/* Where to get a missing component: repository, file name, size, licence, where to put it. */
const char *md_component_source(enum md_component c);

/* Device memory a found component needs with its ≥2-D weights at `precision` ("stored", "bf16",
 * "fp8", "q8_0" or "q4_0") and vectors in f32; 0 for an unknown precision. */
uint64_t md_memory(const struct md_found *found, const char *precision);
