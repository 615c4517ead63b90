/* Where the plug-in finds its model: an explicit folder (the procedure's model-dir argument),
 * $LORWEB_MODEL_DIR, the user's $XDG_CONFIG_HOME/lorweb/models.conf (an INI key file, group
 * [model]: dir, flux, ae, clip_vision, clip_text, t5, tokenizer, lorweb, lorweb_config; relative
 * paths are relative to the file), $XDG_DATA_HOME/lorweb/models, then the embedded default model
 * installed with lorweb. The engine takes plain paths (pipeline.h); the search of ComfyUI trees and
 * the Hugging Face cache belongs to the engine's model discovery and is not repeated here. */
#include <string.h>

#include "plugin.h"

static gboolean usable_dir(const char *dir) {
    if (!dir || !*dir) return FALSE;
    gchar   *path = g_build_filename(dir, "flux.safetensors", NULL);
    gboolean ok = g_file_test(path, G_FILE_TEST_EXISTS);
    g_free(path);
    return ok;
}

static void set_path(char *out, const char *base, const char *value) {
    gchar *path = NULL;
    if (value[0] == '~' && value[1] == '/')
        path = g_build_filename(g_get_home_dir(), value + 2, NULL);
    else if (g_path_is_absolute(value))
        path = g_strdup(value);
    else
        path = g_build_filename(base, value, NULL);
    g_strlcpy(out, path, PLUGIN_PATH_MAX);
    g_free(path);
}

/* models.conf: true when it names at least the folder or the transformer. */
static gboolean read_conf(const char *file, struct plugin_model *m) {
    GKeyFile *kf = g_key_file_new();
    gboolean  found = FALSE;
    if (g_key_file_load_from_file(kf, file, G_KEY_FILE_NONE, NULL)) {
        gchar      *base = g_path_get_dirname(file);
        const char *keys[] = {"dir", "flux",      "ae",     "clip_vision",  "clip_text",
                              "t5",  "tokenizer", "lorweb", "lorweb_config"};
        char *fields[] = {m->model_dir, m->flux,          m->ae,     m->clip_vision,  m->clip_text,
                          m->t5,        m->tokenizer_dir, m->lorweb, m->lorweb_config};
        for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
            gchar *value = g_key_file_get_string(kf, "model", keys[i], NULL);
            if (value && *value) set_path(fields[i], base, g_strstrip(value));
            g_free(value);
        }
        found = m->model_dir[0] || m->flux[0];
        g_free(base);
    }
    g_key_file_free(kf);
    return found;
}

char *plugin_model_find(const char *explicit_dir, struct plugin_model *m) {
    memset(m, 0, sizeof *m);
    if (explicit_dir &&
        *explicit_dir) { /* scripts: taken as given; the engine names what is missing */
        g_strlcpy(m->model_dir, explicit_dir, sizeof m->model_dir);
        return NULL;
    }
    const char *env = g_getenv("LORWEB_MODEL_DIR");
    if (env && *env) {
        g_strlcpy(m->model_dir, env, sizeof m->model_dir);
        return NULL;
    }
    gchar *conf = g_build_filename(g_get_user_config_dir(), "lorweb", "models.conf", NULL);
    gchar *data = g_build_filename(g_get_user_data_dir(), "lorweb", "models", NULL);
    char  *notice = NULL;
    if (read_conf(conf, m)) {
    } else if (usable_dir(data)) {
        g_strlcpy(m->model_dir, data, sizeof m->model_dir);
    } else if (usable_dir(LORWEB_DEFAULT_MODEL_DIR)) {
        g_strlcpy(m->model_dir, LORWEB_DEFAULT_MODEL_DIR, sizeof m->model_dir);
    } else {
        notice = g_strdup_printf(
            _("No model was found. lorweb looked for\n"
              "  • the configuration file %s,\n"
              "  • a model folder %s,\n"
              "  • the embedded default model %s (it comes with “meson install” once it is "
              "trained).\n"
              "To use the full model, download from Hugging Face\n"
              "  • black-forest-labs/FLUX.1-Kontext-dev: flux1-kontext-dev.safetensors and "
              "ae.safetensors "
              "(accept the licence on the model page first),\n"
              "  • openai/clip-vit-large-patch14: model.safetensors,\n"
              "  • hilamanor/lorweb: the LoRWeB .safetensors file and its config.yaml,\n"
              "put them into %s as flux.safetensors, ae.safetensors, clip_vision.safetensors, "
              "lorweb.safetensors and config.yaml, or name each file in %s:\n"
              "  [model]\n  flux = …\n  ae = …\n  clip_vision = …\n  lorweb = …\n  lorweb_config = "
              "…"),
            conf, data, LORWEB_DEFAULT_MODEL_DIR, data, conf);
    }
    g_free(conf);
    g_free(data);
    return notice;
}
