/* The lorweb dialog in GTK 3 (gimp-platform.md §1 option c: no libgimpui in this process). Layer
 * pickers for a, a′ and b, prompt, steps, guidance, strength, seed with a dice button, keep-detail and
 * working size. OK has the focus so Return runs it (and no combo popup grabs the keyboard). */
#include "dialog.h"

#include <glib/gi18n-lib.h>
#include <gtk/gtk.h>
#include <stdlib.h>

struct widgets {
    GtkWidget *a, *a_prime, *b, *prompt, *steps, *guidance, *strength, *seed, *keep, *size;
};

static GtkWidget *layer_combo(const struct ui_layer *layers, int count, int selected) {
    GtkWidget *combo = gtk_combo_box_text_new();
    for (int i = 0; i < count; i++) {
        char id[32];
        g_snprintf(id, sizeof id, "%d", layers[i].id);
        gtk_combo_box_text_append(GTK_COMBO_BOX_TEXT(combo), id, layers[i].name);
        if (layers[i].id == selected) gtk_combo_box_set_active(GTK_COMBO_BOX(combo), i);
    }
    return combo;
}

static GtkWidget *spin(double lo, double hi, double step, int digits, double value) {
    GtkWidget *s = gtk_spin_button_new_with_range(lo, hi, step);
    gtk_spin_button_set_digits(GTK_SPIN_BUTTON(s), (guint)digits);
    gtk_spin_button_set_value(GTK_SPIN_BUTTON(s), value);
    gtk_widget_set_hexpand(s, TRUE);
    return s;
}

static void row(GtkGrid *grid, int r, const char *label, GtkWidget *w) {
    GtkWidget *l = gtk_label_new_with_mnemonic(label);
    gtk_label_set_mnemonic_widget(GTK_LABEL(l), w);
    gtk_widget_set_halign(l, GTK_ALIGN_END);
    gtk_grid_attach(grid, l, 0, r, 1, 1);
    gtk_grid_attach(grid, w, 1, r, 1, 1);
}

static void roll_dice(GtkButton *button, gpointer seed) {
    (void)button;
    gtk_spin_button_set_value(GTK_SPIN_BUTTON(seed), g_random_int_range(0, G_MAXINT32));
}

static int combo_id(GtkWidget *combo) {
    const char *id = gtk_combo_box_get_active_id(GTK_COMBO_BOX(combo));
    return id ? atoi(id) : -1;
}

bool ui_dialog_run(const char *display, const struct ui_layer *layers, int count, struct ui_params *p) {
    if (display && *display) g_setenv("DISPLAY", display, TRUE);
    gdk_set_allowed_backends("x11");
    if (!gtk_init_check(NULL, NULL)) return false;
    const char *locales = g_getenv("LORWEB_LOCALEDIR"); /* tests point it at the build's catalogues */
    bindtextdomain(GETTEXT_PACKAGE, locales && *locales ? locales : LORWEB_LOCALEDIR);
    bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
    GtkWidget *dialog = gtk_dialog_new_with_buttons(_("Visual Analogy (LoRWeB)"), NULL, 0, _("_Cancel"),
                                                    GTK_RESPONSE_CANCEL, _("_OK"), GTK_RESPONSE_OK, NULL);
    GtkWidget *grid = gtk_grid_new();
    gtk_grid_set_row_spacing(GTK_GRID(grid), 6);
    gtk_grid_set_column_spacing(GTK_GRID(grid), 12);
    gtk_container_set_border_width(GTK_CONTAINER(grid), 12);
    gtk_box_pack_start(GTK_BOX(gtk_dialog_get_content_area(GTK_DIALOG(dialog))), grid, TRUE, TRUE, 0);
    struct widgets w = {
        .a = layer_combo(layers, count, p->a), .a_prime = layer_combo(layers, count, p->a_prime),
        .b = layer_combo(layers, count, p->b), .prompt = gtk_entry_new(),
        .steps = spin(0, 1000, 1, 0, p->steps), .guidance = spin(0, 20, 0.1, 1, p->guidance),
        .strength = spin(0, 2, 0.05, 2, p->strength), .seed = spin(0, G_MAXINT32, 1, 0, p->seed),
        .keep = spin(0, 1, 0.05, 2, p->keep_detail), .size = spin(0, 4096, 16, 0, p->size),
    };
    gtk_entry_set_text(GTK_ENTRY(w.prompt), p->prompt);
    GtkWidget *dice = gtk_button_new_with_mnemonic(_("_Dice"));
    g_signal_connect(dice, "clicked", G_CALLBACK(roll_dice), w.seed);
    GtkWidget *seed_box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
    gtk_box_pack_start(GTK_BOX(seed_box), w.seed, TRUE, TRUE, 0);
    gtk_box_pack_start(GTK_BOX(seed_box), dice, FALSE, FALSE, 0);
    int r = 0;
    row(GTK_GRID(grid), r++, _("Example _before (a):"), w.a);
    row(GTK_GRID(grid), r++, _("Example _after (a′):"), w.a_prime);
    row(GTK_GRID(grid), r++, _("_Target (b):"), w.b);
    row(GTK_GRID(grid), r++, _("_Prompt:"), w.prompt);
    row(GTK_GRID(grid), r++, _("_Steps (0 = default):"), w.steps);
    row(GTK_GRID(grid), r++, _("_Guidance:"), w.guidance);
    row(GTK_GRID(grid), r++, _("St_rength:"), w.strength);
    row(GTK_GRID(grid), r++, _("S_eed:"), seed_box);
    row(GTK_GRID(grid), r++, _("_Keep detail:"), w.keep);
    row(GTK_GRID(grid), r++, _("Si_ze (0 = default):"), w.size);
    gtk_widget_show_all(dialog);
    gtk_widget_grab_focus(gtk_dialog_get_widget_for_response(GTK_DIALOG(dialog), GTK_RESPONSE_OK));
    g_printerr("lorweb: dialog shown (gtk %u.%u.%u)\n", gtk_get_major_version(), gtk_get_minor_version(),
               gtk_get_micro_version());
    bool ok = gtk_dialog_run(GTK_DIALOG(dialog)) == GTK_RESPONSE_OK;
    if (ok) {
        p->a = combo_id(w.a), p->a_prime = combo_id(w.a_prime), p->b = combo_id(w.b);
        g_strlcpy(p->prompt, gtk_entry_get_text(GTK_ENTRY(w.prompt)), sizeof p->prompt);
        p->steps = gtk_spin_button_get_value_as_int(GTK_SPIN_BUTTON(w.steps));
        p->guidance = gtk_spin_button_get_value(GTK_SPIN_BUTTON(w.guidance));
        p->strength = gtk_spin_button_get_value(GTK_SPIN_BUTTON(w.strength));
        p->seed = gtk_spin_button_get_value_as_int(GTK_SPIN_BUTTON(w.seed));
        p->keep_detail = gtk_spin_button_get_value(GTK_SPIN_BUTTON(w.keep));
        p->size = gtk_spin_button_get_value_as_int(GTK_SPIN_BUTTON(w.size));
    }
    gtk_widget_destroy(dialog);
    while (gtk_events_pending()) gtk_main_iteration();
    return ok;
}
