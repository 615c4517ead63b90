/* The GIMP 2.10 procedure plug-in-lorweb: registration, run modes, last values, and the run itself.
 *
 * From the Filters menu GIMP passes only run-mode, image and drawable; the rest comes from the
 * dialog and the last values (gimp_get_data). Scripts pass everything. The result is a new layer
 * "b′" above b, created only after the engine succeeded, inside one undo group: on any error or
 * cancel the image is left exactly as it was. */
#include <string.h>

#include "plugin.h"

static void query(void);
static void run(const gchar *name, gint nparams, const GimpParam *param, gint *nreturn_vals,
                GimpParam **return_vals);

const GimpPlugInInfo PLUG_IN_INFO = {NULL, NULL, query, run};

MAIN()

static void query(void) {
    static const GimpParamDef args[] = {
        {GIMP_PDB_INT32, "run-mode", "The run mode { RUN-INTERACTIVE (0), RUN-NONINTERACTIVE (1) }"},
        {GIMP_PDB_IMAGE, "image", "Input image"},
        {GIMP_PDB_DRAWABLE, "drawable", "b: the layer to transform"},
        {GIMP_PDB_DRAWABLE, "a", "a: the example before the edit"},
        {GIMP_PDB_DRAWABLE, "a-prime", "a′: the example after the edit"},
        {GIMP_PDB_STRING, "prompt", "Optional text prompt (\"\" for none)"},
        {GIMP_PDB_INT32, "steps", "Denoising steps (0 = the model's default)"},
        {GIMP_PDB_FLOAT, "guidance", "Distilled guidance (2.5)"},
        {GIMP_PDB_FLOAT, "strength", "LoRWeB strength: 0 = plain Kontext, 1 = as trained, up to 2"},
        {GIMP_PDB_INT32, "seed", "Noise seed"},
        {GIMP_PDB_FLOAT, "keep-detail", "Detail kept from b at full resolution, 0 … 1"},
        {GIMP_PDB_INT32, "size", "Working grid size in pixels (0 = the model's default)"},
        {GIMP_PDB_STRING, "model-dir", "Model folder (\"\" = the embedded default model)"},
    };
    static const GimpParamDef returns[] = {{GIMP_PDB_LAYER, "layer", "The new b′ layer"}};
    gimp_install_procedure(PLUG_IN_PROC, "Visual analogy: a : a′ :: b : b′ (LoRWeB on FLUX.1 Kontext)",
                           "Makes b′ from b so that it relates to b as the edited example a′ relates to a. "
                           "The result is a new layer above b.",
                           "lorweb developers", "lorweb developers", "2026", "Visual _Analogy (LoRWeB)…",
                           "RGB*, GRAY*", GIMP_PLUGIN, G_N_ELEMENTS(args), G_N_ELEMENTS(returns), args, returns);
    gimp_plugin_menu_register(PLUG_IN_PROC, "<Image>/Filters/Map");
}

static bool progress(void *user, const struct pipe_progress *p) {
    (void)user;
    gimp_progress_update(p->fraction);
    return true;
}

static void log_message(void *user, enum pipe_log_level level, const char *text) {
    (void)user;
    if (level >= PIPE_LOG_WARNING) g_printerr("lorweb: %s\n", text);
}

/* The layers of the image for the dialog's pickers. */
static struct ui_layer *layer_list(gint32 image, gint *count) {
    gint32          *ids = gimp_image_get_layers(image, count);
    struct ui_layer *layers = g_new0(struct ui_layer, *count ? *count : 1);
    for (gint i = 0; i < *count; i++) {
        gchar *name = gimp_item_get_name(ids[i]);
        layers[i].id = ids[i];
        g_strlcpy(layers[i].name, name, sizeof layers[i].name);
        g_free(name);
    }
    g_free(ids);
    return layers;
}

/* Checks that a, a′ and b are layers of `image`; returns an error text or NULL. */
static gchar *check_layers(gint32 image, const struct ui_params *v) {
    const gint32 ids[] = {v->a, v->a_prime, v->b};
    const char  *names[] = {"a", "a′", "b"};
    for (int i = 0; i < 3; i++)
        if (ids[i] < 0 || !gimp_item_is_valid(ids[i]) || !gimp_item_is_drawable(ids[i]) ||
            gimp_item_get_image(ids[i]) != image)
            return g_strdup_printf("layer %s (ID %d) is not a layer of this image", names[i], ids[i]);
    if (v->steps < 0 || v->steps > 1000) return g_strdup_printf("steps %d: allowed 0 … 1000", v->steps);
    return NULL;
}

static gint32 analogy(gint32 image, const struct ui_params *v, GError **error) {
    struct pipe_image   a = {0}, ap = {0}, b = {0}, out = {0};
    struct pipe_context *ctx = NULL;
    struct lw_error      err = {0};
    gint32               layer = -1;
    if (!plugin_drawable_read(v->a, &a, error) || !plugin_drawable_read(v->a_prime, &ap, error) ||
        !plugin_drawable_read(v->b, &b, error))
        goto done;
    out = b;
    out.data = g_try_malloc((gsize)b.width * b.height * 4 * sizeof(float));
    struct pipe_options opt = {
        .paths = {.model_dir = v->model_dir[0] ? v->model_dir : LORWEB_DEFAULT_MODEL_DIR},
        .progress = progress, .log = log_message};
    struct pipe_params p;
    pipe_params_defaults(&p);
    p.steps = v->steps, p.guidance = (float)v->guidance, p.strength = (float)v->strength;
    p.seed = (uint64_t)(guint32)v->seed, p.keep_detail = (float)v->keep_detail, p.size = v->size;
    p.prompt = v->prompt;
    gimp_progress_init("Visual analogy (LoRWeB)");
    if (!out.data) lw_error_set(&err, LW_ERR_HOST_MEMORY, "not enough memory for b′");
    else if (pipe_context_create(&opt, &ctx, &err) == LW_OK && pipe_run(ctx, &p, &a, &ap, &b, &out, &err) == LW_OK) {
        plugin_selection_blend(image, v->b, &b, &out);
        gimp_image_undo_group_start(image);
        layer = plugin_layer_insert(image, v->b, &out);
        gimp_image_undo_group_end(image);
        if (layer < 0) g_set_error(error, G_FILE_ERROR, 0, "could not add the b′ layer");
    }
    if (err.status != LW_OK)
        g_set_error(error, G_FILE_ERROR, 0, "%s: %s", lw_status_str(err.status), err.message);
done:
    pipe_context_destroy(ctx);
    g_free(a.data), g_free(ap.data), g_free(b.data), g_free(out.data);
    return layer;
}

static void run(const gchar *name, gint nparams, const GimpParam *param, gint *nreturn_vals,
                GimpParam **return_vals) {
    static GimpParam values[2];
    GimpRunMode      mode = param[0].data.d_int32;
    gint32           image = param[1].data.d_image;
    struct ui_params v = {.a = -1, .a_prime = -1, .b = param[2].data.d_drawable, .guidance = 2.5,
                          .strength = 1.0, .steps = 0};
    *nreturn_vals = 2;
    *return_vals = values;
    values[0].type = GIMP_PDB_STATUS;
    values[0].data.d_status = GIMP_PDB_SUCCESS;
    values[1].type = GIMP_PDB_LAYER;
    values[1].data.d_layer = -1;
    gegl_init(NULL, NULL);

    if (mode == GIMP_RUN_NONINTERACTIVE && nparams != 13) {
        values[0].data.d_status = GIMP_PDB_CALLING_ERROR;
        goto out;
    }
    if (mode != GIMP_RUN_NONINTERACTIVE) {
        gimp_get_data(PLUG_IN_PROC, &v);
        plugin_default_layers(image, &v);
        v.b = param[2].data.d_drawable;
    }
    if (nparams == 13) {
        v.a = param[3].data.d_drawable, v.a_prime = param[4].data.d_drawable;
        g_strlcpy(v.prompt, param[5].data.d_string ? param[5].data.d_string : "", sizeof v.prompt);
        v.steps = param[6].data.d_int32, v.guidance = param[7].data.d_float;
        v.strength = param[8].data.d_float, v.seed = param[9].data.d_int32;
        v.keep_detail = param[10].data.d_float, v.size = param[11].data.d_int32;
        g_strlcpy(v.model_dir, param[12].data.d_string ? param[12].data.d_string : "", sizeof v.model_dir);
    }
    if (mode == GIMP_RUN_INTERACTIVE) {
        gint             count = 0;
        struct ui_layer *layers = layer_list(image, &count);
        bool             ok = ui_dialog_run(gimp_display_name(), layers, count, &v);
        g_free(layers);
        if (!ok) {
            values[0].data.d_status = GIMP_PDB_CANCEL;
            goto out;
        }
    }
    gchar *problem = check_layers(image, &v);
    if (problem) {
        gimp_message(problem);
        values[0].data.d_status = GIMP_PDB_CALLING_ERROR;
        g_free(problem);
        goto out;
    }
    GError *error = NULL;
    gint32  layer = analogy(image, &v, &error);
    if (layer < 0) {
        gchar *text = g_strdup_printf("Visual analogy failed: %s", error ? error->message : "unknown error");
        gimp_message(text);
        g_free(text);
        g_clear_error(&error);
        values[0].data.d_status = GIMP_PDB_EXECUTION_ERROR;
        goto out;
    }
    values[1].data.d_layer = layer;
    if (mode != GIMP_RUN_NONINTERACTIVE) {
        gimp_set_data(PLUG_IN_PROC, &v, sizeof v);
        gimp_displays_flush();
    }
out:
    (void)name;
    gegl_exit();
}
