/* The lorweb dialog in GTK 3 (gimp-platform.md §1 option c: no libgimpui in this process).
 *
 * Left: layer pickers for a, a′ and b (with thumbnails), prompt, steps, guidance, seed with a dice
 * button, keep-detail and working size. Right: a small live preview of b′. Below: the basis panel,
 * the strength slider, the mean mixing weight of each basis element as a bar chart (largest first)
 * and a slider per element that biases it, with "reset to the analogy".
 *
 * Previews render on one worker thread through the plug-in's callbacks; every change re-arms a
 * short debounce and then posts a request that supersedes the previous one; the running render sees
 * that through its progress callback and stops, so the dialog never waits for a stale render.
 * Results come back to the main loop by g_idle_add and are dropped when stale. OK has the focus so
 * Return runs it (and no combo popup grabs the keyboard: gimp-platform.md §3). */
#include "dialog.h"

#include <glib/gi18n-lib.h>
#include <gtk/gtk.h>
#include <stdlib.h>
#include <string.h>

#define PREVIEW_SIDE 256
#define DEBOUNCE_MS 250

struct request {
    struct ui_params params;
    guint            id;
    bool             encode;
};

struct dialog {
    GtkWidget *window, *a, *a_prime, *b, *prompt, *steps, *guidance, *seed, *keep, *size;
    GtkWidget *strength, *view, *progress, *status, *chart, *sliders;
    GtkWidget *scales[UI_MAX_BASIS];
    const struct ui_engine *engine;
    struct ui_params        params;
    int                     basis, order[UI_MAX_BASIS]; /* order[k]: the element ranked k-th */
    float                   weights[UI_MAX_BASIS];      /* from the last encode, without bias */
    GdkPixbuf              *pixbuf;
    guint                   debounce, requests;
    bool                    want_encode, updating;
    /* The worker. */
    GThread       *thread;
    GMutex         lock;
    GCond          cond;
    gint           latest, closing; /* atomics: the newest request's id; the dialog is going away */
    bool           pending;
    struct request next;
};

/* What the worker hands back to the main loop. */
struct result {
    struct dialog *d;
    guint          id;
    enum { RESULT_PROGRESS, RESULT_ENCODE, RESULT_PREVIEW } kind;
    double            fraction, seconds;
    float             weights[UI_MAX_BASIS];
    int               count;
    struct ui_preview preview;
    char             *message;
    bool              stale;
};

/* ---- widgets ---- */

static GtkWidget *layer_combo(const struct ui_layer *layers, int count, int selected) {
    GtkListStore *store = gtk_list_store_new(3, GDK_TYPE_PIXBUF, G_TYPE_STRING, G_TYPE_STRING);
    for (int i = 0; i < count; i++) {
        GdkPixbuf *thumb = NULL;
        if (layers[i].thumb && layers[i].thumb_width > 0 && layers[i].thumb_height > 0) {
            gsize   size = (gsize)layers[i].thumb_width * layers[i].thumb_height * 4;
            GBytes *bytes = g_bytes_new(layers[i].thumb, size);
            thumb =
                gdk_pixbuf_new_from_bytes(bytes, GDK_COLORSPACE_RGB, TRUE, 8, layers[i].thumb_width,
                                          layers[i].thumb_height, layers[i].thumb_width * 4);
            g_bytes_unref(bytes);
        }
        char id[32];
        g_snprintf(id, sizeof id, "%d", layers[i].id);
        gtk_list_store_insert_with_values(store, NULL, -1, 0, thumb, 1, layers[i].name, 2, id, -1);
        if (thumb) g_object_unref(thumb);
    }
    GtkWidget *combo = gtk_combo_box_new_with_model(GTK_TREE_MODEL(store));
    g_object_unref(store);
    gtk_combo_box_set_id_column(GTK_COMBO_BOX(combo), 2);
    GtkCellRenderer *icon = gtk_cell_renderer_pixbuf_new(), *text = gtk_cell_renderer_text_new();
    gtk_cell_layout_pack_start(GTK_CELL_LAYOUT(combo), icon, FALSE);
    gtk_cell_layout_add_attribute(GTK_CELL_LAYOUT(combo), icon, "pixbuf", 0);
    gtk_cell_layout_pack_start(GTK_CELL_LAYOUT(combo), text, TRUE);
    gtk_cell_layout_add_attribute(GTK_CELL_LAYOUT(combo), text, "text", 1);
    char id[32];
    g_snprintf(id, sizeof id, "%d", selected);
    gtk_combo_box_set_active_id(GTK_COMBO_BOX(combo), id);
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

static int combo_id(GtkWidget *combo) {
    const char *id = gtk_combo_box_get_active_id(GTK_COMBO_BOX(combo));
    return id ? atoi(id) : -1;
}

/* Widgets → d->params (the bias sliders write d->params directly). */
static void params_read(struct dialog *d) {
    struct ui_params *p = &d->params;
    p->a = combo_id(d->a), p->a_prime = combo_id(d->a_prime), p->b = combo_id(d->b);
    g_strlcpy(p->prompt, gtk_entry_get_text(GTK_ENTRY(d->prompt)), sizeof p->prompt);
    p->steps = gtk_spin_button_get_value_as_int(GTK_SPIN_BUTTON(d->steps));
    p->guidance = gtk_spin_button_get_value(GTK_SPIN_BUTTON(d->guidance));
    p->strength = gtk_range_get_value(GTK_RANGE(d->strength));
    p->seed = gtk_spin_button_get_value_as_int(GTK_SPIN_BUTTON(d->seed));
    p->keep_detail = gtk_spin_button_get_value(GTK_SPIN_BUTTON(d->keep));
    p->size = gtk_spin_button_get_value_as_int(GTK_SPIN_BUTTON(d->size));
}

/* ---- the worker ---- */

struct job {
    struct dialog *d;
    guint          id;
};

static gboolean result_deliver(gpointer data);

static void post(struct result *r) {
    g_idle_add(result_deliver, r);
}

static bool still_wanted(void *data, double fraction) {
    struct job *j = data;
    if ((guint)g_atomic_int_get(&j->d->latest) != j->id || g_atomic_int_get(&j->d->closing))
        return false;
    struct result *r = g_new0(struct result, 1);
    *r = (struct result){.d = j->d, .id = j->id, .kind = RESULT_PROGRESS, .fraction = fraction};
    post(r);
    return true;
}

static void request_run(struct dialog *d, struct request *q) {
    struct job j = {d, q->id};
    if (q->encode) {
        struct result *r = g_new0(struct result, 1);
        r->d = d, r->id = q->id, r->kind = RESULT_ENCODE;
        r->message =
            d->engine->encode(d->engine->user, &q->params, r->weights, UI_MAX_BASIS, &r->count);
        post(r);
    }
    if (!still_wanted(&j, 0.0)) return;
    struct result *r = g_new0(struct result, 1);
    r->d = d, r->id = q->id, r->kind = RESULT_PREVIEW;
    gint64 t0 = g_get_monotonic_time();
    r->message = d->engine->preview(d->engine->user, &q->params, still_wanted, &j, &r->preview);
    r->seconds = (double)(g_get_monotonic_time() - t0) * 1e-6;
    r->stale = (guint)g_atomic_int_get(&d->latest) != q->id || g_atomic_int_get(&d->closing);
    post(r);
}

static gpointer worker_main(gpointer data) {
    struct dialog *d = data;
    g_mutex_lock(&d->lock);
    for (;;) {
        while (!d->pending && !g_atomic_int_get(&d->closing))
            g_cond_wait(&d->cond, &d->lock);
        if (g_atomic_int_get(&d->closing)) break;
        struct request *q = g_new(struct request, 1);
        *q = d->next;
        d->pending = false;
        g_mutex_unlock(&d->lock);
        request_run(d, q);
        g_free(q);
        g_mutex_lock(&d->lock);
    }
    g_mutex_unlock(&d->lock);
    return NULL;
}

static gboolean request_fire(gpointer data) {
    struct dialog *d = data;
    d->debounce = 0;
    params_read(d);
    g_mutex_lock(&d->lock);
    d->next = (struct request){.params = d->params, .id = ++d->requests, .encode = d->want_encode};
    g_atomic_int_set(&d->latest, (gint)d->next.id);
    d->pending = true;
    g_cond_signal(&d->cond);
    g_mutex_unlock(&d->lock);
    g_printerr("lorweb: preview request %u%s\n", d->requests,
               d->want_encode ? " (with encode)" : "");
    d->want_encode = false;
    gtk_label_set_text(GTK_LABEL(d->status), _("Rendering the preview…"));
    return G_SOURCE_REMOVE;
}

/* Any change: (re)arm the debounce; the render after it supersedes the running one. */
static void request_render(struct dialog *d, bool encode) {
    if (d->updating || !d->engine) return;
    d->want_encode |= encode;
    if (d->debounce) g_source_remove(d->debounce);
    d->debounce = g_timeout_add(DEBOUNCE_MS, request_fire, d);
}

/* ---- results in the main loop ---- */

static void basis_rebuild(struct dialog *d, const float *weights, int count);

static GdkPixbuf *pixbuf_from(const struct ui_preview *p) {
    GdkPixbuf *pb = gdk_pixbuf_new(GDK_COLORSPACE_RGB, TRUE, 8, p->width, p->height);
    guchar    *px = gdk_pixbuf_get_pixels(pb);
    int        stride = gdk_pixbuf_get_rowstride(pb);
    for (int y = 0; y < p->height; y++)
        for (int x = 0; x < p->width * 4; x++) {
            float v = p->pixels[(size_t)y * p->width * 4 + x];
            px[(size_t)y * stride + x] = (guchar)(v <= 0 ? 0 : v >= 1 ? 255 : v * 255 + 0.5f);
        }
    return pb;
}

static gboolean result_deliver(gpointer data) {
    struct result *r = data;
    struct dialog *d = r->d;
    bool current = r->id == (guint)g_atomic_int_get(&d->latest) && !g_atomic_int_get(&d->closing);
    if (r->kind == RESULT_PROGRESS) {
        if (current) gtk_progress_bar_set_fraction(GTK_PROGRESS_BAR(d->progress), r->fraction);
    } else if (r->kind == RESULT_ENCODE && current) {
        if (r->message) {
            g_printerr("lorweb: basis failed (request %u): %s\n", r->id, r->message);
            gtk_label_set_text(GTK_LABEL(d->status), r->message);
        } else
            basis_rebuild(d, r->weights, r->count);
    } else if (r->kind == RESULT_PREVIEW) {
        if (r->stale || !current) {
            g_printerr("lorweb: preview cancelled (request %u, superseded)\n", r->id);
        } else if (r->message) {
            g_printerr("lorweb: preview failed (request %u): %s\n", r->id, r->message);
            gtk_label_set_text(GTK_LABEL(d->status), r->message);
        } else if (r->preview.pixels) {
            g_printerr("lorweb: preview rendered (request %u, %dx%d, %.2f s)\n", r->id,
                       r->preview.width, r->preview.height, r->seconds);
            g_clear_object(&d->pixbuf);
            d->pixbuf = pixbuf_from(&r->preview);
            gtk_widget_queue_draw(d->view);
            gtk_progress_bar_set_fraction(GTK_PROGRESS_BAR(d->progress), 1.0);
            char *text = g_strdup_printf(_("Preview rendered in %.1f s"), r->seconds);
            gtk_label_set_text(GTK_LABEL(d->status), text);
            g_free(text);
        }
    }
    g_free(r->message);
    g_free(r->preview.pixels);
    g_free(r);
    return G_SOURCE_REMOVE;
}

static gboolean view_draw(GtkWidget *w, cairo_t *cr, gpointer data) {
    struct dialog *d = data;
    int            W = gtk_widget_get_allocated_width(w), H = gtk_widget_get_allocated_height(w);
    cairo_set_source_rgb(cr, 0.5, 0.5, 0.5);
    cairo_paint(cr);
    if (!d->pixbuf) return TRUE;
    int    pw = gdk_pixbuf_get_width(d->pixbuf), ph = gdk_pixbuf_get_height(d->pixbuf);
    double s = MIN((double)W / pw, (double)H / ph);
    cairo_translate(cr, (W - pw * s) / 2, (H - ph * s) / 2);
    cairo_scale(cr, s, s);
    gdk_cairo_set_source_pixbuf(cr, d->pixbuf, 0, 0);
    cairo_paint(cr);
    return TRUE;
}

/* ---- the basis panel ---- */

/* Bars of the effective weights (weight + bias), largest analogy weight first; a tick marks the
 * analogy's own weight where a bias moved it. */
static gboolean chart_draw(GtkWidget *w, cairo_t *cr, gpointer data) {
    struct dialog   *d = data;
    int              W = gtk_widget_get_allocated_width(w), H = gtk_widget_get_allocated_height(w);
    GtkStyleContext *style = gtk_widget_get_style_context(w);
    GdkRGBA          fg;
    gtk_style_context_get_color(style, gtk_style_context_get_state(style), &fg);
    gtk_render_background(style, cr, 0, 0, W, H);
    if (d->basis == 0) {
        cairo_set_source_rgba(cr, fg.red, fg.green, fg.blue, 0.6);
        cairo_move_to(cr, 8, H / 2.0);
        cairo_show_text(cr, _("No basis weights yet (or the model has no LoRWeB basis)."));
        return TRUE;
    }
    float top = 1e-6f;
    for (int n = 0; n < d->basis; n++) {
        top = MAX(top, d->weights[n]);
        top = MAX(top, d->weights[n] + d->params.bias[n]);
    }
    double bw = (double)W / d->basis, base = H - 14;
    for (int k = 0; k < d->basis; k++) {
        int    n = d->order[k];
        double v = MAX(0.0, d->weights[n] + d->params.bias[n]) / top;
        cairo_set_source_rgb(cr, 0.26, 0.52, 0.85);
        cairo_rectangle(cr, k * bw + 1, base - v * (base - 4), MAX(1.0, bw - 2), v * (base - 4));
        cairo_fill(cr);
        if (d->params.bias[n] != 0) {
            double o = d->weights[n] / top;
            cairo_set_source_rgba(cr, fg.red, fg.green, fg.blue, 0.9);
            cairo_rectangle(cr, k * bw, base - o * (base - 4) - 1, bw, 2);
            cairo_fill(cr);
        }
        if (bw >= 14) {
            char label[8];
            g_snprintf(label, sizeof label, "%d", n);
            cairo_set_source_rgba(cr, fg.red, fg.green, fg.blue, 0.8);
            cairo_set_font_size(cr, 9);
            cairo_move_to(cr, k * bw + 2, H - 3);
            cairo_show_text(cr, label);
        }
    }
    return TRUE;
}

static void bias_changed(GtkRange *range, gpointer data) {
    struct dialog *d = data;
    int            n = GPOINTER_TO_INT(g_object_get_data(G_OBJECT(range), "element"));
    d->params.bias[n] = (float)gtk_range_get_value(range);
    gtk_widget_queue_draw(d->chart);
    request_render(d, false);
}

static int by_weight(const void *x, const void *y, void *data) {
    const float *w = data;
    float        a = w[*(const int *)x], b = w[*(const int *)y];
    return a < b ? 1 : a > b ? -1 : *(const int *)x - *(const int *)y;
}

static void basis_rebuild(struct dialog *d, const float *weights, int count) {
    count = CLAMP(count, 0, UI_MAX_BASIS);
    d->basis = count;
    memcpy(d->weights, weights, (size_t)count * sizeof *weights);
    for (int n = 0; n < count; n++)
        d->order[n] = n;
    g_qsort_with_data(d->order, count, sizeof *d->order, by_weight, d->weights);
    GList *old = gtk_container_get_children(GTK_CONTAINER(d->sliders));
    for (GList *l = old; l; l = l->next)
        gtk_widget_destroy(l->data);
    g_list_free(old);
    d->updating = true;
    for (int k = 0; k < count; k++) {
        int        n = d->order[k];
        char      *text = g_strdup_printf(_("Element %d (%.3f)"), n, d->weights[n]);
        GtkWidget *label = gtk_label_new(text), *scale;
        g_free(text);
        gtk_widget_set_halign(label, GTK_ALIGN_START);
        scale = d->scales[n] = gtk_scale_new_with_range(GTK_ORIENTATION_HORIZONTAL, -1, 1, 0.01);
        gtk_range_set_value(GTK_RANGE(scale), d->params.bias[n]);
        gtk_scale_set_value_pos(GTK_SCALE(scale), GTK_POS_RIGHT);
        gtk_widget_set_hexpand(scale, TRUE);
        g_object_set_data(G_OBJECT(scale), "element", GINT_TO_POINTER(n));
        g_signal_connect(scale, "value-changed", G_CALLBACK(bias_changed), d);
        gtk_grid_attach(GTK_GRID(d->sliders), label, 0, k, 1, 1);
        gtk_grid_attach(GTK_GRID(d->sliders), scale, 1, k, 1, 1);
    }
    d->updating = false;
    gtk_widget_show_all(d->sliders);
    gtk_widget_queue_draw(d->chart);
    g_printerr("lorweb: basis panel: %d elements, largest weight %.3f (element %d)\n", count,
               count ? d->weights[d->order[0]] : 0.0, count ? d->order[0] : -1);
}

static void reset_clicked(GtkButton *button, gpointer data) {
    struct dialog *d = data;
    d->updating = true;
    for (int n = 0; n < UI_MAX_BASIS; n++) {
        d->params.bias[n] = 0;
        if (n < d->basis && d->scales[n]) gtk_range_set_value(GTK_RANGE(d->scales[n]), 0);
    }
    d->updating = false;
    gtk_widget_queue_draw(d->chart);
    request_render(d, false);
}

/* ---- signals of the parameter widgets ---- */

static void layers_changed(GtkComboBox *combo, gpointer data) {
    struct dialog *d = data;
    if (d->updating) return;
    params_read(d);
    char *message = d->engine ? d->engine->select(d->engine->user, &d->params) : NULL;
    if (message) {
        gtk_label_set_text(GTK_LABEL(d->status), message);
        g_free(message);
        return;
    }
    request_render(d, true);
}

static void value_changed(GtkWidget *w, gpointer data) {
    request_render(data, false);
}

static void roll_dice(GtkButton *button, gpointer data) {
    struct dialog *d = data;
    gtk_spin_button_set_value(GTK_SPIN_BUTTON(d->seed), g_random_int_range(0, G_MAXINT32));
}

/* ---- the dialog ---- */

static GtkWidget *params_grid(struct dialog *d, const struct ui_layer *layers, int count) {
    struct ui_params *p = &d->params;
    GtkWidget        *grid = gtk_grid_new();
    gtk_grid_set_row_spacing(GTK_GRID(grid), 6);
    gtk_grid_set_column_spacing(GTK_GRID(grid), 12);
    d->a = layer_combo(layers, count, p->a), d->a_prime = layer_combo(layers, count, p->a_prime);
    d->b = layer_combo(layers, count, p->b), d->prompt = gtk_entry_new();
    d->steps = spin(0, 1000, 1, 0, p->steps), d->guidance = spin(0, 20, 0.1, 1, p->guidance);
    d->seed = spin(0, G_MAXINT32, 1, 0, p->seed), d->keep = spin(0, 1, 0.05, 2, p->keep_detail);
    d->size = spin(0, 8192, 16, 0, p->size);
    gtk_entry_set_text(GTK_ENTRY(d->prompt), p->prompt);
    gtk_entry_set_placeholder_text(GTK_ENTRY(d->prompt), _("the model's default prompt"));
    GtkWidget *dice = gtk_button_new_with_mnemonic(_("_Dice"));
    gtk_widget_set_tooltip_text(dice, _("A random seed"));
    g_signal_connect(dice, "clicked", G_CALLBACK(roll_dice), d);
    GtkWidget *seed_box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
    gtk_box_pack_start(GTK_BOX(seed_box), d->seed, TRUE, TRUE, 0);
    gtk_box_pack_start(GTK_BOX(seed_box), dice, FALSE, FALSE, 0);
    int r = 0;
    row(GTK_GRID(grid), r++, _("Example _before (a):"), d->a);
    row(GTK_GRID(grid), r++, _("Example _after (a′):"), d->a_prime);
    row(GTK_GRID(grid), r++, _("_Target (b):"), d->b);
    row(GTK_GRID(grid), r++, _("_Prompt:"), d->prompt);
    row(GTK_GRID(grid), r++, _("_Steps (0 = default):"), d->steps);
    row(GTK_GRID(grid), r++, _("_Guidance:"), d->guidance);
    row(GTK_GRID(grid), r++, _("S_eed:"), seed_box);
    row(GTK_GRID(grid), r++, _("_Keep detail:"), d->keep);
    row(GTK_GRID(grid), r++, _("Si_ze (0 = default):"), d->size);
    GtkWidget *combos[] = {d->a, d->a_prime, d->b};
    for (int i = 0; i < 3; i++)
        g_signal_connect(combos[i], "changed", G_CALLBACK(layers_changed), d);
    g_signal_connect(d->prompt, "changed", G_CALLBACK(value_changed), d);
    GtkWidget *spins[] = {d->steps, d->guidance, d->seed, d->keep};
    for (int i = 0; i < 4; i++)
        g_signal_connect(spins[i], "value-changed", G_CALLBACK(value_changed), d);
    return grid;
}

static GtkWidget *preview_box(struct dialog *d) {
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 6),
              *frame = gtk_frame_new(_("Preview of b′"));
    d->view = gtk_drawing_area_new();
    gtk_widget_set_size_request(d->view, PREVIEW_SIDE, PREVIEW_SIDE);
    g_signal_connect(d->view, "draw", G_CALLBACK(view_draw), d);
    gtk_container_add(GTK_CONTAINER(frame), d->view);
    d->progress = gtk_progress_bar_new();
    d->status = gtk_label_new(d->engine ? "" : _("No preview"));
    gtk_label_set_line_wrap(GTK_LABEL(d->status), TRUE);
    gtk_label_set_max_width_chars(GTK_LABEL(d->status), 36);
    gtk_box_pack_start(GTK_BOX(box), frame, TRUE, TRUE, 0);
    gtk_box_pack_start(GTK_BOX(box), d->progress, FALSE, FALSE, 0);
    gtk_box_pack_start(GTK_BOX(box), d->status, FALSE, FALSE, 0);
    return box;
}

static GtkWidget *basis_panel(struct dialog *d) {
    GtkWidget *frame = gtk_frame_new(_("Basis")), *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 6);
    gtk_container_set_border_width(GTK_CONTAINER(box), 6);
    GtkWidget *top = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 12);
    GtkWidget *label = gtk_label_new_with_mnemonic(_("St_rength:"));
    d->strength = gtk_scale_new_with_range(GTK_ORIENTATION_HORIZONTAL, 0, 2, 0.05);
    gtk_range_set_value(GTK_RANGE(d->strength), d->params.strength);
    gtk_scale_set_value_pos(GTK_SCALE(d->strength), GTK_POS_RIGHT);
    gtk_label_set_mnemonic_widget(GTK_LABEL(label), d->strength);
    g_signal_connect(d->strength, "value-changed", G_CALLBACK(value_changed), d);
    GtkWidget *reset = gtk_button_new_with_mnemonic(_("_Reset to the analogy"));
    gtk_widget_set_tooltip_text(reset, _("Remove every per-element bias"));
    g_signal_connect(reset, "clicked", G_CALLBACK(reset_clicked), d);
    gtk_box_pack_start(GTK_BOX(top), label, FALSE, FALSE, 0);
    gtk_box_pack_start(GTK_BOX(top), d->strength, TRUE, TRUE, 0);
    gtk_box_pack_start(GTK_BOX(top), reset, FALSE, FALSE, 0);
    d->chart = gtk_drawing_area_new();
    gtk_widget_set_size_request(d->chart, -1, 100);
    g_signal_connect(d->chart, "draw", G_CALLBACK(chart_draw), d);
    d->sliders = gtk_grid_new();
    gtk_grid_set_column_spacing(GTK_GRID(d->sliders), 12);
    GtkWidget *scroll = gtk_scrolled_window_new(NULL, NULL);
    gtk_scrolled_window_set_policy(GTK_SCROLLED_WINDOW(scroll), GTK_POLICY_NEVER,
                                   GTK_POLICY_AUTOMATIC);
    gtk_scrolled_window_set_min_content_height(GTK_SCROLLED_WINDOW(scroll), 120);
    gtk_container_add(GTK_CONTAINER(scroll), d->sliders);
    gtk_box_pack_start(GTK_BOX(box), top, FALSE, FALSE, 0);
    gtk_box_pack_start(GTK_BOX(box), d->chart, FALSE, FALSE, 0);
    gtk_box_pack_start(GTK_BOX(box), scroll, TRUE, TRUE, 0);
    gtk_container_add(GTK_CONTAINER(frame), box);
    return frame;
}

bool ui_dialog_run(const char *display, const struct ui_layer *layers, int count,
                   const char *notice, const struct ui_engine *engine, struct ui_params *p) {
    if (display && *display) g_setenv("DISPLAY", display, TRUE);
    gdk_set_allowed_backends("x11");
    if (!gtk_init_check(NULL, NULL)) return false;
    struct dialog *d = g_new0(struct dialog, 1);
    d->engine = engine, d->params = *p;
    g_mutex_init(&d->lock);
    g_cond_init(&d->cond);
    d->window = gtk_dialog_new_with_buttons(_("Visual Analogy (LoRWeB)"), NULL, 0, _("_Cancel"),
                                            GTK_RESPONSE_CANCEL, _("_OK"), GTK_RESPONSE_OK, NULL);
    gtk_dialog_set_default_response(GTK_DIALOG(d->window), GTK_RESPONSE_OK);
    if (p->width > 0 && p->height > 0)
        gtk_window_set_default_size(GTK_WINDOW(d->window), p->width, p->height);
    GtkWidget *content = gtk_dialog_get_content_area(GTK_DIALOG(d->window));
    gtk_box_set_spacing(GTK_BOX(content), 12);
    gtk_container_set_border_width(GTK_CONTAINER(content), 12);
    if (notice) {
        GtkWidget *bar = gtk_info_bar_new(), *text = gtk_label_new(notice);
        gtk_info_bar_set_message_type(GTK_INFO_BAR(bar), GTK_MESSAGE_WARNING);
        gtk_label_set_line_wrap(GTK_LABEL(text), TRUE);
        gtk_label_set_selectable(GTK_LABEL(text), TRUE);
        gtk_label_set_max_width_chars(GTK_LABEL(text), 90);
        gtk_container_add(GTK_CONTAINER(gtk_info_bar_get_content_area(GTK_INFO_BAR(bar))), text);
        gtk_box_pack_start(GTK_BOX(content), bar, FALSE, FALSE, 0);
    }
    GtkWidget *upper = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 18);
    gtk_box_pack_start(GTK_BOX(upper), params_grid(d, layers, count), TRUE, TRUE, 0);
    gtk_box_pack_start(GTK_BOX(upper), preview_box(d), FALSE, FALSE, 0);
    gtk_box_pack_start(GTK_BOX(content), upper, FALSE, FALSE, 0);
    gtk_box_pack_start(GTK_BOX(content), basis_panel(d), TRUE, TRUE, 0);
    gtk_widget_show_all(d->window);
    gtk_widget_grab_focus(
        gtk_dialog_get_widget_for_response(GTK_DIALOG(d->window), GTK_RESPONSE_OK));
    g_printerr("lorweb: dialog shown (gtk %u.%u.%u)\n", gtk_get_major_version(),
               gtk_get_minor_version(), gtk_get_micro_version());
    if (engine) {
        d->thread = g_thread_new("lorweb-preview", worker_main, d);
        layers_changed(NULL, d); /* the first encode and preview */
    }
    bool ok = gtk_dialog_run(GTK_DIALOG(d->window)) == GTK_RESPONSE_OK;
    params_read(d);
    gtk_window_get_size(GTK_WINDOW(d->window), &d->params.width, &d->params.height);
    if (d->debounce) g_source_remove(d->debounce);
    g_mutex_lock(&d->lock);
    g_atomic_int_set(&d->closing, 1);
    g_cond_signal(&d->cond);
    g_mutex_unlock(&d->lock);
    if (d->thread) g_thread_join(d->thread);
    while (g_main_context_iteration(NULL, FALSE)) {
    } /* deliver (and free) what the worker posted */
    gtk_widget_destroy(d->window);
    while (gtk_events_pending())
        gtk_main_iteration();
    if (ok)
        *p = d->params;
    else
        p->width = d->params.width, p->height = d->params.height;
    g_clear_object(&d->pixbuf);
    g_mutex_clear(&d->lock);
    g_cond_clear(&d->cond);
    g_free(d);
    return ok;
}
