/* The GIMP 2.10 procedure plug-in-lorweb: registration, run modes, last values, the dialog's engine
 * callbacks and the run itself.
 *
 * From the Filters menu GIMP passes only run-mode, image and drawable; the rest comes from the last
 * values (gimp_get_data) and the dialog. Scripts pass everything. The result is a new layer "b′"
 * above b, created only after the engine succeeded, inside one undo group: on any error or cancel
 * the image is left exactly as it was. Cancel from GIMP's progress bar kills this process
 * (GIMP 2.10 has no gentler way); the resident engine sees the hang-up and stops within one step.
 * Errors go back as the procedure's error message (GIMP shows it for menu runs; scripts receive
 * it).
 *
 * The same executable is the resident engine when started as `lorweb-gimp --serve …` (engine.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin.h"

#define NPARAMS 13
#define PREVIEW_SIDE 256 /* the preview's input long side and working grid */
#define PREVIEW_STEPS 4

_Static_assert(UI_MAX_BASIS == PIPE_MAX_BASIS, "the dialog biases every basis element");

static void query(void);
static void run(const gchar *name, gint nparams, const GimpParam *param, gint *nreturn_vals,
                GimpParam **return_vals);

const GimpPlugInInfo PLUG_IN_INFO = {NULL, NULL, query, run};

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "--serve") == 0) return plugin_server_main(argc, argv);
    return gimp_main(&PLUG_IN_INFO, argc, argv);
}

static void i18n_init(void) {
    const char *dir = g_getenv("LORWEB_LOCALEDIR"); /* tests point it at the build's catalogues */
    bindtextdomain(GETTEXT_PACKAGE, dir && *dir ? dir : LORWEB_LOCALEDIR);
    bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
}

static void query(void) {
    static const GimpParamDef args[] = {
        {GIMP_PDB_INT32, "run-mode",
         "The run mode { RUN-INTERACTIVE (0), RUN-NONINTERACTIVE (1) }"},
        {GIMP_PDB_IMAGE, "image", "Input image"},
        {GIMP_PDB_DRAWABLE, "drawable", "b: the layer to transform"},
        {GIMP_PDB_DRAWABLE, "a", "a: the example before the edit"},
        {GIMP_PDB_DRAWABLE, "a-prime", "a′: the example after the edit"},
        {GIMP_PDB_STRING, "prompt", "Text prompt (\"\" = the model's default)"},
        {GIMP_PDB_INT32, "steps", "Denoising steps 1 … 1000, or -1 for the model's default"},
        {GIMP_PDB_FLOAT, "guidance", "Distilled guidance 0 … 100 (2.5)"},
        {GIMP_PDB_FLOAT, "strength", "LoRWeB strength: 0 = plain Kontext, 1 = as trained, up to 2"},
        {GIMP_PDB_INT32, "seed", "Noise seed (≥ 0)"},
        {GIMP_PDB_FLOAT, "keep-detail", "Detail of b kept at full resolution, 0 … 1"},
        {GIMP_PDB_INT32, "size",
         "Working grid's long side in pixels 0 … 8192 (0 = the model's default)"},
        {GIMP_PDB_STRING, "model-dir",
         "Model folder (\"\" = models.conf, discovery, the embedded model)"},
    };
    static const GimpParamDef returns[] = {{GIMP_PDB_LAYER, "layer", "The new b′ layer"}};
    gimp_plugin_domain_register(GETTEXT_PACKAGE, LORWEB_LOCALEDIR);
    gimp_install_procedure(
        PLUG_IN_PROC, N_("Visual analogy: a : a′ :: b : b′ (LoRWeB on FLUX.1 Kontext)"),
        "Makes b′ from b so that it relates to b as the edited example a′ relates to a. "
        "The result is a new layer above b. A selection limits where b′ is blended in. "
        "The 12-argument form (without model-dir) is accepted too.",
        "lorweb developers", "lorweb developers", "2026", N_("Visual _Analogy (LoRWeB)…"),
        "RGB*, GRAY*", GIMP_PLUGIN, G_N_ELEMENTS(args), G_N_ELEMENTS(returns), args, returns);
    gimp_plugin_menu_register(PLUG_IN_PROC, "<Image>/Filters/Map");
}

/* ---- parameters ---- */

static void params_defaults(struct ui_params *v) {
    memset(v, 0, sizeof *v);
    v->a = v->a_prime = v->b = -1;
    v->guidance = 2.5, v->strength = 1.0;
}

static void params_to_pipe(const struct ui_params *v, struct pipe_params *p) {
    pipe_params_defaults(p);
    p->steps = v->steps, p->guidance = (float)v->guidance, p->strength = (float)v->strength;
    p->seed = (uint64_t)(guint32)v->seed, p->keep_detail = (float)v->keep_detail, p->size = v->size;
    memcpy(p->bias, v->bias, sizeof p->bias);
}

/* Script arguments → v; steps −1 (the model's default) becomes the engine's 0, and 0 is refused. */
static gchar *params_from_pdb(const GimpParam *param, gint nparams, struct ui_params *v) {
    v->b = param[2].data.d_drawable, v->a = param[3].data.d_drawable,
    v->a_prime = param[4].data.d_drawable;
    g_strlcpy(v->prompt, param[5].data.d_string ? param[5].data.d_string : "", sizeof v->prompt);
    gint steps = param[6].data.d_int32;
    if (steps == 0 || steps < -1)
        return g_strdup_printf(_("Steps %d: use 1 … 1000, or −1 for the model's default."), steps);
    v->steps = steps == -1 ? 0 : steps;
    v->guidance = param[7].data.d_float, v->strength = param[8].data.d_float;
    v->seed = param[9].data.d_int32, v->keep_detail = param[10].data.d_float,
    v->size = param[11].data.d_int32;
    const gchar *dir = nparams > 12 ? param[12].data.d_string : NULL;
    g_strlcpy(v->model_dir, dir ? dir : "", sizeof v->model_dir);
    return NULL;
}

static gchar *check_layer(gint32 image, gint32 id, const char *role) {
    if (id <= 0 || !gimp_item_is_valid(id))
        return g_strdup_printf(_("Layer %s: there is no layer with ID %d."), role, id);
    gchar *name = gimp_item_get_name(id), *problem = NULL;
    gint   w = gimp_drawable_width(id), h = gimp_drawable_height(id);
    if (!gimp_item_is_layer(id))
        problem =
            g_strdup_printf(_("Layer %s (“%s”) is not a layer but a channel or mask."), role, name);
    else if (gimp_item_get_image(id) != image)
        problem = g_strdup_printf(_("Layer %s (“%s”) belongs to another image."), role, name);
    else if (w < PLUGIN_MIN_SIDE || h < PLUGIN_MIN_SIDE)
        problem =
            g_strdup_printf(_("Layer %s (“%s”) is %d×%d pixels; each layer needs at least %d×%d."),
                            role, name, w, h, PLUGIN_MIN_SIDE, PLUGIN_MIN_SIDE);
    else if ((int64_t)w * h > PLUGIN_MAX_PIXELS)
        problem = g_strdup_printf(_("Layer %s (“%s”) is %d×%d pixels (%.1f megapixels); lorweb takes "
                                    "layers of up to %.1f megapixels (8192×8192). Scale it down or "
                                    "work on a part of it."),
                                  role, name, w, h, (double)w * h / 1e6, (double)PLUGIN_MAX_PIXELS / 1e6);
    g_free(name);
    return problem;
}

static gchar *check_params(gint32 image, const struct ui_params *v) {
    gchar *problem = NULL;
    if ((problem = check_layer(image, v->a, "a")) ||
        (problem = check_layer(image, v->a_prime, "a′")) ||
        (problem = check_layer(image, v->b, "b")))
        return problem;
    if (v->steps < 0 || v->steps > 1000)
        return g_strdup_printf(_("Steps %d: use 1 … 1000, or −1 for the model's default."),
                               v->steps);
    if (!isfinite(v->guidance) || v->guidance < 0 || v->guidance > 100)
        return g_strdup_printf(_("Guidance %g: use 0 … 100."), v->guidance);
    if (!(v->strength >= 0 && v->strength <= 2))
        return g_strdup_printf(_("Strength %g: use 0 … 2."), v->strength);
    if (!(v->keep_detail >= 0 && v->keep_detail <= 1))
        return g_strdup_printf(_("Keep detail %g: use 0 … 1."), v->keep_detail);
    if (v->size < 0 || v->size > 8192) return g_strdup_printf(_("Size %d: use 0 … 8192."), v->size);
    if (v->seed < 0) return g_strdup_printf(_("Seed %d: use 0 or more."), v->seed);
    return NULL;
}

static gchar *engine_failure(const struct lw_error *err) {
    return g_strdup_printf(_("Visual analogy failed: %s (%s)"), plugin_status_text(err->status),
                           err->message);
}

/* ---- the dialog's engine callbacks (ui_engine) ---- */

struct triplet { /* preview-sized copies of the chosen layers, shared with the preview thread */
    gint              refs;
    struct pipe_image a, a_prime, b;
};

struct preview_state {
    gint32                     image;
    struct plugin_engine      *engine;
    const struct plugin_model *model;
    GMutex                     lock;
    struct triplet            *current;
};

static void triplet_unref(struct triplet *t) {
    if (!t || !g_atomic_int_dec_and_test(&t->refs)) return;
    g_free(t->a.data), g_free(t->a_prime.data), g_free(t->b.data);
    g_free(t);
}

static struct triplet *triplet_take(struct preview_state *s) {
    g_mutex_lock(&s->lock);
    struct triplet *t = s->current;
    if (t) g_atomic_int_inc(&t->refs);
    g_mutex_unlock(&s->lock);
    return t;
}

static char *preview_select(void *user, const struct ui_params *v) {
    struct preview_state *s = user;
    gchar                *problem = NULL;
    if ((problem = check_layer(s->image, v->a, "a")) ||
        (problem = check_layer(s->image, v->a_prime, "a′")) ||
        (problem = check_layer(s->image, v->b, "b")))
        return problem;
    struct triplet *t = g_new0(struct triplet, 1);
    GError         *error = NULL;
    t->refs = 1;
    if (!plugin_drawable_read(v->a, PREVIEW_SIDE, &t->a, &error) ||
        !plugin_drawable_read(v->a_prime, PREVIEW_SIDE, &t->a_prime, &error) ||
        !plugin_drawable_read(v->b, PREVIEW_SIDE, &t->b, &error)) {
        triplet_unref(t);
        problem = g_strdup(error->message);
        g_error_free(error);
        return problem;
    }
    g_mutex_lock(&s->lock);
    struct triplet *old = s->current;
    s->current = t;
    g_mutex_unlock(&s->lock);
    triplet_unref(old);
    return NULL;
}

static void job_fill(struct plugin_job *job, enum plugin_job_kind kind, const struct ui_params *v,
                     const struct plugin_model *model, const struct triplet *t) {
    job->kind = kind;
    params_to_pipe(v, &job->params);
    g_strlcpy(job->prompt, v->prompt, sizeof job->prompt);
    job->model = *model;
    if (t) job->a = t->a, job->a_prime = t->a_prime, job->b = t->b;
}

static char *preview_encode(void *user, const struct ui_params *v, float *weights, int max,
                            int *count) {
    struct preview_state *s = user;
    struct triplet       *t = triplet_take(s);
    *count = 0;
    if (!t) return g_strdup(_("No layers to encode."));
    struct plugin_job *job = g_new0(struct plugin_job, 1);
    job_fill(job, PLUGIN_JOB_ENCODE, v, s->model, t);
    char *message = NULL;
    if (plugin_engine_execute(s->engine, job, NULL, NULL) != LW_OK) {
        message = engine_failure(&job->err);
    } else {
        *count = MIN(job->basis, max);
        memcpy(weights, job->weights, (size_t)*count * sizeof *weights);
    }
    g_free(job);
    triplet_unref(t);
    return message;
}

struct ui_progress {
    ui_progress_fn fn;
    void          *data;
};

static bool preview_progress(void *user, const struct pipe_progress *p) {
    struct ui_progress *u = user;
    return u->fn(u->data, p->fraction);
}

static char *preview_render(void *user, const struct ui_params *v, ui_progress_fn progress,
                            void *data, struct ui_preview *out) {
    struct preview_state *s = user;
    struct triplet       *t = triplet_take(s);
    if (!t) return g_strdup(_("No layers to preview."));
    struct plugin_job *job = g_new0(struct plugin_job, 1);
    job_fill(job, PLUGIN_JOB_RUN, v, s->model, t);
    job->params.steps = v->steps > 0 ? MIN(v->steps, PREVIEW_STEPS) : PREVIEW_STEPS;
    job->params.size = PREVIEW_SIDE;
    job->params.keep_detail = 0; /* b's detail at preview size says nothing */
    job->out = t->b;
    job->out.data = g_try_malloc((gsize)t->b.width * t->b.height * 4 * sizeof(float));
    char              *message = NULL;
    struct ui_progress u = {progress, data};
    if (!job->out.data) {
        message = g_strdup(plugin_status_text(LW_ERR_HOST_MEMORY));
    } else if (plugin_engine_execute(s->engine, job, preview_progress, &u) != LW_OK) {
        if (job->err.status != LW_ERR_CANCELLED) message = engine_failure(&job->err);
        g_free(job->out.data);
    } else {
        *out = (struct ui_preview){job->out.data, job->out.width, job->out.height};
    }
    g_free(job);
    triplet_unref(t);
    return message;
}

/* ---- the run ---- */

struct run_progress {
    enum pipe_stage stage;
    int             step;
    double t0, first_step; /* when the engine call began; seconds from then to the first step */
    gint32   image, b;
    gboolean gone; /* the image was closed or b removed: the run was stopped */
};

/* The image stays open in GIMP while the engine runs: the user may close it or remove b. */
static gboolean target_gone(gint32 image, gint32 b) {
    return !gimp_image_is_valid(image) || !gimp_item_is_valid(b) || gimp_item_get_image(b) != image;
}

static bool gimp_progress(void *user, const struct pipe_progress *p) {
    struct run_progress *r = user;
    if (p->stage != r->stage || p->step != r->step) {
        r->stage = p->stage, r->step = p->step;
        if (target_gone(r->image, r->b)) return !(r->gone = TRUE); /* stops the engine */
        if (p->stage == PIPE_STAGE_DENOISE) {
            if (r->first_step < 0) r->first_step = plugin_now() - r->t0;
            gimp_progress_set_text_printf(_("Visual analogy: step %d of %d"), p->step, p->steps);
        } else {
            const char *texts[] = {
                N_("Visual analogy: loading the model…"), N_("Visual analogy: encoding…"), "",
                N_("Visual analogy: decoding…"), N_("Visual analogy: restoring detail…")};
            if ((int)p->stage >= 0 && (int)p->stage < 5 && texts[p->stage][0])
                gimp_progress_set_text(_(texts[p->stage]));
        }
    }
    gimp_progress_update(CLAMP(p->fraction, 0.0, 1.0));
    return true;
}

static gint32 analogy(gint32 image, const struct ui_params *v, const struct plugin_model *model,
                      struct plugin_engine *engine, double t0, gchar **error) {
    struct plugin_job *job = g_new0(struct plugin_job, 1);
    GError            *gerror = NULL;
    gint32             layer = -1;
    job_fill(job, PLUGIN_JOB_RUN, v, model, NULL);
    if (!plugin_drawable_read(v->a, 0, &job->a, &gerror) ||
        !plugin_drawable_read(v->a_prime, 0, &job->a_prime, &gerror) ||
        !plugin_drawable_read(v->b, 0, &job->b, &gerror)) {
        *error = g_strdup(gerror->message);
        g_error_free(gerror);
        goto done;
    }
    job->out = job->b;
    job->out.data = g_try_malloc((gsize)job->b.width * job->b.height * 4 * sizeof(float));
    if (!job->out.data) {
        *error = g_strdup(plugin_status_text(LW_ERR_HOST_MEMORY));
        goto done;
    }
    gimp_progress_init(_("Visual analogy (LoRWeB)"));
    struct run_progress progress = {
        .stage = -1, .step = -1, .t0 = plugin_now(), .first_step = -1, .image = image, .b = v->b};
    enum lw_status status = plugin_engine_execute(engine, job, gimp_progress, &progress);
    if (progress.gone || target_gone(image, v->b)) {
        *error = g_strdup(_("The image was closed or layer b removed while the analogy ran; "
                            "nothing was added."));
        goto done;
    }
    if (status != LW_OK) {
        *error = engine_failure(&job->err);
        goto done;
    }
    /* Start-up = from the engine call to the end of the first denoising step (engine start, model
     * load, encoders, one step): what the resident engine saves on the second run. */
    g_printerr("lorweb: b′ %d×%d in %.2f s since run(): %s engine, models %s (load %.2f s), engine "
               "start-up "
               "%.2f s, engine call %.2f s\n",
               job->b.width, job->b.height, plugin_now() - t0,
               plugin_engine_is_resident(engine) ? "resident" : "in-process",
               job->resident ? "already loaded" : "loaded now", job->load_seconds,
               progress.first_step, plugin_now() - progress.t0);
    plugin_selection_blend(image, v->b, &job->b, &job->out);
    gimp_image_undo_group_start(image);
    layer = plugin_layer_insert(image, v->b, &job->out);
    gimp_image_undo_group_end(image);
    if (layer < 0) *error = g_strdup(_("Could not add the b′ layer."));
done:
    gimp_progress_end();
    g_free(job->a.data), g_free(job->a_prime.data), g_free(job->b.data), g_free(job->out.data);
    g_free(job);
    return layer;
}

/* The last values, when they were written by this build (the struct's size matches). */
static void last_values_get(struct ui_params *v) {
    if (gimp_get_data_size(PLUG_IN_PROC) == sizeof *v) gimp_get_data(PLUG_IN_PROC, v);
    memset(v->bias, 0, sizeof v->bias); /* biases belong to one triplet */
}

static gboolean layers_of(gint32 image, const struct ui_params *v) {
    const gint32 ids[] = {v->a, v->a_prime, v->b};
    for (int i = 0; i < 3; i++)
        if (ids[i] <= 0 || !gimp_item_is_valid(ids[i]) || gimp_item_get_image(ids[i]) != image)
            return FALSE;
    return TRUE;
}

static gboolean dialog(gint32 image, struct ui_params *v, const char *notice,
                       struct plugin_engine *engine, const struct plugin_model *model) {
    int                  count = 0;
    struct ui_layer     *layers = plugin_layers_list(image, &count);
    struct preview_state state = {.image = image, .engine = engine, .model = model};
    struct ui_engine     callbacks = {&state, preview_select, preview_encode, preview_render};
    g_mutex_init(&state.lock);
    gboolean ok =
        ui_dialog_run(gimp_display_name(), layers, count, notice, notice ? NULL : &callbacks, v);
    triplet_unref(state.current);
    g_mutex_clear(&state.lock);
    plugin_layers_free(layers, count);
    return ok;
}

static void run(const gchar *name, gint nparams, const GimpParam *param, gint *nreturn_vals,
                GimpParam **return_vals) {
    static GimpParam  values[2];
    static gchar     *message;
    double            t0 = plugin_now();
    GimpRunMode       mode = param[0].data.d_int32;
    gint32            image = param[1].data.d_image;
    GimpPDBStatusType status = GIMP_PDB_SUCCESS;
    gchar            *error = NULL, *notice = NULL;
    gint32            layer = -1;
    struct ui_params  v;
    i18n_init();
    gegl_init(NULL, NULL);
    params_defaults(&v);
    g_clear_pointer(&message, g_free);

    if (mode == GIMP_RUN_NONINTERACTIVE && nparams != NPARAMS && nparams != NPARAMS - 1) {
        status = GIMP_PDB_CALLING_ERROR;
        error = g_strdup_printf(_("%s takes %d arguments (or %d without model-dir), not %d."),
                                PLUG_IN_PROC, NPARAMS, NPARAMS - 1, nparams);
    } else if (mode == GIMP_RUN_NONINTERACTIVE || nparams >= NPARAMS - 1) {
        if ((error = params_from_pdb(param, nparams, &v))) status = GIMP_PDB_CALLING_ERROR;
        struct ui_params last = v;
        last_values_get(&last);
        v.width = last.width, v.height = last.height;
    } else {
        last_values_get(&v);
        struct ui_params by_name = v;
        plugin_default_layers(image, &by_name);
        if (!layers_of(image, &v)) v.a = by_name.a, v.a_prime = by_name.a_prime, v.b = by_name.b;
    }
    struct plugin_model *model = g_new0(struct plugin_model, 1);
    if (!error) notice = plugin_model_find(v.model_dir, model);
    gchar                *exe = g_file_read_link("/proc/self/exe", NULL);
    const char           *resident = g_getenv("LORWEB_RESIDENT");
    struct plugin_engine *engine =
        plugin_engine_create(!(resident && !strcmp(resident, "0")), exe, getppid());
    if (!error && mode == GIMP_RUN_INTERACTIVE) {
        struct ui_params before = v;
        if (!dialog(image, &v, notice, engine, model)) {
            status = GIMP_PDB_CANCEL;
            before.width = v.width, before.height = v.height; /* the size is remembered even so */
            gimp_set_data(PLUG_IN_PROC, &before, sizeof before);
        }
    }
    if (status == GIMP_PDB_SUCCESS && !error && notice) {
        status = GIMP_PDB_EXECUTION_ERROR;
        error = g_strdup(notice);
    }
    if (status == GIMP_PDB_SUCCESS && !error && (error = check_params(image, &v)))
        status = GIMP_PDB_CALLING_ERROR;
    if (status == GIMP_PDB_SUCCESS && !error) {
        layer = analogy(image, &v, model, engine, t0, &error);
        if (layer < 0) status = GIMP_PDB_EXECUTION_ERROR;
    }
    if (status == GIMP_PDB_SUCCESS && mode != GIMP_RUN_NONINTERACTIVE) {
        gimp_set_data(PLUG_IN_PROC, &v, sizeof v);
        gimp_displays_flush();
    }
    *nreturn_vals = 2;
    *return_vals = values;
    values[0].type = GIMP_PDB_STATUS;
    values[0].data.d_status = status;
    if (error) {
        g_printerr("lorweb: %s\n", error);
        message = error;
        values[1].type = GIMP_PDB_STRING;
        values[1].data.d_string = message;
    } else {
        values[1].type = GIMP_PDB_LAYER;
        values[1].data.d_layer = layer;
    }
    plugin_engine_destroy(engine);
    g_free(exe);
    g_free(model);
    g_free(notice);
    (void)name;
    gegl_exit();
}
