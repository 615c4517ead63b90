/* A GIMP extension for the plug-in's tests: what a user does in GIMP's windows while the plug-in
 * runs or its dialog is open, done from a second process so that Script-Fu, blocked in the
 * plug-in's call, need not. An extension without arguments, which GIMP starts by itself when it
 * starts (a PDB call of an extension would wait for it to end), it offers
 *
 *   (test-lorweb-later RUN-NONINTERACTIVE image layer delay-ms)
 *
 * which returns at once and, delay-ms later, removes `layer` from `image` — or, with layer −1,
 * closes (deletes) the image — then says so with a message "LORWEB actor: …" in GIMP's log. */
#include <libgimp/gimp.h>
#include <string.h>

#define START_PROC "test-lorweb-actor"
#define LATER_PROC "test-lorweb-later"

struct action {
    gint32 image, layer;
};

static gboolean act(gpointer data) {
    struct action *a = data;
    gboolean       done = a->layer > 0 ? gimp_image_remove_layer(a->image, a->layer)
                                       : gimp_image_delete(a->image);
    gchar         *text = g_strdup_printf("LORWEB actor: %s %d %s", a->layer > 0 ? "removed layer" : "closed image",
                                          a->layer > 0 ? a->layer : a->image, done ? "done" : "FAILED");
    gimp_message(text);
    g_free(text);
    g_free(a);
    return G_SOURCE_REMOVE;
}

static void run(const gchar *name, gint nparams, const GimpParam *param, gint *nreturn_vals,
                GimpParam **return_vals);

static void start(void) {
    static const GimpParamDef args[] = {{GIMP_PDB_INT32, "run-mode", "The run mode"},
                                        {GIMP_PDB_IMAGE, "image", "The image"},
                                        {GIMP_PDB_LAYER, "layer", "The layer to remove, −1: close the image"},
                                        {GIMP_PDB_INT32, "delay-ms", "When, in milliseconds"}};
    gimp_install_temp_proc(LATER_PROC, "Remove a layer or close an image later", "lorweb tests",
                           "lorweb", "lorweb", "2026", NULL, "", GIMP_TEMPORARY, G_N_ELEMENTS(args), 0,
                           args, NULL, run);
    gimp_extension_ack();
    gimp_extension_enable();
    g_main_loop_run(g_main_loop_new(NULL, FALSE));
}

static void run(const gchar *name, gint nparams, const GimpParam *param, gint *nreturn_vals,
                GimpParam **return_vals) {
    static GimpParam values[1];
    *nreturn_vals = 1, *return_vals = values;
    values[0].type = GIMP_PDB_STATUS, values[0].data.d_status = GIMP_PDB_SUCCESS;
    if (!strcmp(name, START_PROC)) {
        start();
    } else if (nparams == 4) {
        struct action *a = g_new(struct action, 1);
        a->image = param[1].data.d_image, a->layer = param[2].data.d_layer;
        g_timeout_add(MAX(0, param[3].data.d_int32), act, a);
    } else {
        values[0].data.d_status = GIMP_PDB_CALLING_ERROR;
    }
}

static void query(void) {
    gimp_install_procedure(START_PROC, "The lorweb tests' actor", "lorweb tests", "lorweb", "lorweb", "2026",
                           NULL, "", GIMP_EXTENSION, 0, 0, NULL, NULL);
}

const GimpPlugInInfo PLUG_IN_INFO = {NULL, NULL, query, run};

MAIN()
