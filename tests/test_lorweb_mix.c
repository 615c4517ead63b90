/* LoRWeB mixing coefficients: every module of the shared fixture (LoRWeB's attlora_forward on the
 * tiny F16 checkpoint, 1 head, softmax, mean) to 1e-3 relative L2; a 2-head example worked out by
 * hand for each softmax/tanh × mean/sum variant; the user-control rule of lorweb_mix.h on values
 * worked out by hand; blending; argument errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "lorweb_mix.h"
#include "weights.h"

static float *read_all(const struct wt_tensor *t) {
    uint64_t        n = wt_elements(t);
    float          *x = malloc(n * sizeof *x);
    struct lw_error err = {0};
    if (wt_read_f32(t, x, n, &err) != LW_OK) th_check(false, "read %s: %s", t->name, err.message);
    return x;
}

static void fixtures(void) {
    const char *dir = th_fixtures_dir();
    if (!dir) {
        printf("no fixtures folder: the lorweb_coeffs fixture is skipped\n");
        return;
    }
    char                 path[3][4200];
    struct wt_file      *w = NULL, *in = NULL, *out = NULL;
    struct lw_error      err = {0};
    struct lorweb_config cfg;
    snprintf(path[0], sizeof path[0], "%s/lorweb_weights.safetensors", dir);
    snprintf(path[1], sizeof path[1], "%s/lorweb_in.safetensors", dir);
    snprintf(path[2], sizeof path[2], "%s/lorweb_coeffs.safetensors", dir);
    char config[4200];
    snprintf(config, sizeof config, "%s/lorweb_config.yaml", dir);
    if (!th_check(wt_open(path[0], &w, &err) == LW_OK && wt_open(path[1], &in, &err) == LW_OK &&
                      wt_open(path[2], &out, &err) == LW_OK &&
                      lorweb_config_read(config, &cfg, &err) == LW_OK,
                  "open the lorweb fixtures: %s", err.message))
        goto done;
    const struct wt_tensor *tq = wt_find(in, "query");
    if (!th_check(tq != NULL, "lorweb_in has `query`")) goto done;
    float  *query = read_all(tq);
    int64_t qn = (int64_t)wt_elements(tq);
    int     modules = 0;
    double  worst = 0;
    for (size_t i = 0; i < wt_count(out); i++) {
        const struct wt_tensor *tc = wt_at(out, i);
        size_t                  len = strlen(tc->name);
        if (len < 7 || strcmp(tc->name + len - 7, ".coeffs")) continue;
        char stem[300], kname[320], pname[340];
        snprintf(stem, sizeof stem, "%.*s", (int)(len - 7), tc->name);
        snprintf(kname, sizeof kname, "%s.lora_keys", stem);
        snprintf(pname, sizeof pname, "%s.att_lora_to_q.weight", stem);
        const struct wt_tensor *tk = wt_find(w, kname), *tp = wt_find(w, pname);
        if (!th_check(tk && tp && tk->ndim == 2 && tp->ndim == 2, "module %s in the checkpoint",
                      stem))
            continue;
        int64_t n = tk->shape[0], k = tk->shape[1];
        float  *keys = read_all(tk), *p = read_all(tp), *want = read_all(tc);
        float  *got = malloc((size_t)n * sizeof *got);
        th_poison(got, (size_t)n);
        th_check(tp->shape[0] == k && tp->shape[1] == qn && (int64_t)wt_elements(tc) == n,
                 "%s: P [%lld, %lld], keys [%lld, %lld]", stem, (long long)tp->shape[0],
                 (long long)tp->shape[1], (long long)n, (long long)k);
        th_check(mix_coeffs(&cfg, p, keys, n, k, qn, query, got, &err) == LW_OK, "%s: %s", stem,
                 err.message);
        double e = th_rel_l2(got, want, (size_t)n);
        th_check(e <= 1e-3, "%s: relative L2 %.3g > 1e-3", stem, e);
        if (e > worst) worst = e;
        modules++;
        free(keys), free(p), free(want), free(got);
    }
    th_check(modules == 40, "40 modules compared (%d)", modules);
    printf("lorweb_coeffs fixture: %d modules, worst relative L2 %.3g\n", modules, worst);
    free(query);
done:
    wt_close(w), wt_close(in), wt_close(out);
}

/* P (4, 2), e (2) → q = (1, 2, 3, −1); keys (3, 4); 2 heads of 2: head 0 sees q = (1, 2), head 1
 * sees (3, −1). Logits ·1/√2: head 0 (1, 2, 0), head 1 (0, 3, −1). */
static const float P[8] = {1, 0, 0, 1, 1, 1, 1, -1}, E[2] = {1, 2};
static const float KEYS[12] = {1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1};

static void worked_example(void) {
    double r = 1 / sqrt(2.0), l0[3] = {1 * r, 2 * r, 0}, l1[3] = {0, 3 * r, -1 * r};
    double z0 = exp(l0[0]) + exp(l0[1]) + exp(l0[2]), z1 = exp(l1[0]) + exp(l1[1]) + exp(l1[2]);
    float  want[3], got[3];
    struct lw_error      err = {0};
    struct lorweb_config cfg = {.heads = 2, .softmax = true, .mean = true, .project = true};
    for (int i = 0; i < 3; i++)
        want[i] = (float)((exp(l0[i]) / z0 + exp(l1[i]) / z1) / 2);
    th_check(mix_coeffs(&cfg, P, KEYS, 3, 4, 2, E, got, &err) == LW_OK, "softmax mean");
    th_check_close("2 heads, softmax, mean", got, want, 3, 1e-7, 1e-6);
    cfg.mean = false; /* sum of two softmaxes, clamped to [0, 1] */
    for (int i = 0; i < 3; i++)
        want[i] = (float)fmin(exp(l0[i]) / z0 + exp(l1[i]) / z1, 1);
    mix_coeffs(&cfg, P, KEYS, 3, 4, 2, E, got, &err);
    th_check_close("2 heads, softmax, clamped sum", got, want, 3, 1e-7, 1e-6);
    cfg.softmax = false; /* tanh, clamped sum: element 1 is tanh(√2) + tanh(3/√2) > 1 → 1 */
    for (int i = 0; i < 3; i++)
        want[i] = (float)fmax(fmin(tanh(l0[i]) + tanh(l1[i]), 1), -1);
    mix_coeffs(&cfg, P, KEYS, 3, 4, 2, E, got, &err);
    th_check_close("2 heads, tanh, clamped sum", got, want, 3, 1e-7, 1e-6);
    th_check(want[1] == 1, "the clamp is exercised");
    cfg.mean = true;
    for (int i = 0; i < 3; i++)
        want[i] = (float)((tanh(l0[i]) + tanh(l1[i])) / 2);
    mix_coeffs(&cfg, P, KEYS, 3, 4, 2, E, got, &err);
    th_check_close("2 heads, tanh, mean", got, want, 3, 1e-7, 1e-6);
    /* No projection: q = e itself (Q = K = 4), one head, logits (q·k)/2. */
    const float e4[4] = {1, 2, 3, -1};
    cfg = (struct lorweb_config){.heads = 1, .softmax = true, .mean = true, .project = false};
    double l[3] = {0.5, 2.5, -0.5}, z = exp(l[0]) + exp(l[1]) + exp(l[2]);
    for (int i = 0; i < 3; i++)
        want[i] = (float)(exp(l[i]) / z);
    th_check(mix_coeffs(&cfg, NULL, KEYS, 3, 4, 4, e4, got, &err) == LW_OK, "identity projection");
    th_check_close("identity projection, 1 head", got, want, 3, 1e-7, 1e-6);

    th_check(mix_coeffs(&cfg, NULL, KEYS, 3, 4, 2, E, got, &err) == LW_ERR_SHAPE,
             "Q ≠ K without projection");
    cfg.heads = 3;
    cfg.project = true;
    th_check(mix_coeffs(&cfg, P, KEYS, 3, 4, 2, E, got, &err) == LW_ERR_SHAPE &&
                 strstr(err.message, "3 heads"),
             "3 heads do not divide K = 4: %s", err.message);
}

static void controls(void) {
    struct lorweb_config soft = {.heads = 1, .softmax = true, .mean = true, .project = true};
    struct lorweb_config tanh_cfg = soft;
    tanh_cfg.softmax = false;
    struct lw_error     err = {0};
    float               bias[3] = {0.1f, 0, 0}, ov[3] = {0}, c[3];
    bool                set[3] = {false};
    struct mix_controls ctl = {.strength = 1, .bias = bias, .override = ov, .override_set = set};

#define RUN(cfg, c0, c1, c2, name, w0, w1, w2)                                                     \
    do {                                                                                           \
        c[0] = c0, c[1] = c1, c[2] = c2;                                                           \
        th_check(mix_controls_apply(&cfg, &ctl, c, 3, &err) == LW_OK, "%s: %s", name,              \
                 err.message);                                                                     \
        th_check_close(name, c, (const float[]){w0, w1, w2}, 3, 1e-6, 0);                          \
    } while (0)

    RUN(soft, 0.5f, 0.3f, 0.2f, "bias, renormalised to 1", 0.6f / 1.1f, 0.3f / 1.1f, 0.2f / 1.1f);
    bias[0] = 0, set[1] = true, ov[1] = 0.6f; /* the others share 0.4 in proportion 5 : 2 */
    RUN(soft, 0.5f, 0.3f, 0.2f, "override wins", 0.4f * 5 / 7, 0.6f, 0.4f * 2 / 7);
    set[1] = false, set[0] = true, ov[0] = 1;
    RUN(soft, 0.5f, 0.3f, 0.2f, "override 1 takes all", 1, 0, 0);
    set[1] = true, ov[0] = 0.3f, ov[1] = 0.9f;
    RUN(soft, 0.5f, 0.3f, 0.2f, "overrides over the total kept", 0.3f, 0.9f, 0);
    set[0] = set[1] = false, bias[0] = bias[1] = bias[2] = -1;
    RUN(soft, 0.5f, 0.3f, 0.2f, "everything biased away", 0, 0, 0);
    bias[0] = bias[1] = bias[2] = 0, set[2] = true, ov[2] = -0.5f;
    RUN(soft, 0.5f, 0.3f, 0.2f, "negative override clamps to 0", 0.625f, 0.375f, 0);
    set[2] = false, ctl.strength = 2;
    RUN(soft, 0.5f, 0.3f, 0.2f, "strength 2", 1.0f, 0.6f, 0.4f);
    ctl.strength = 0;
    RUN(soft, 0.5f, 0.3f, 0.2f, "strength 0", 0, 0, 0);
    ctl.strength = 0.5f, bias[0] = 0.7f, bias[1] = -0.3f, set[2] = true, ov[2] = 5;
    RUN(tanh_cfg, 0.5f, -0.9f, 0.2f, "tanh: bias, override, clamp to [-1, 1], strength", 0.5f,
        -0.5f, 0.5f);
    ctl = (struct mix_controls){.strength = 1};
    RUN(soft, 0.5f, 0.3f, 0.2f, "no arrays: unchanged", 0.5f, 0.3f, 0.2f);

    ctl.strength = -1;
    th_check(mix_controls_apply(&soft, &ctl, c, 3, &err) == LW_ERR_ARGUMENT,
             "negative strength refused");
    ctl.strength = 1, ctl.bias = bias, bias[1] = NAN;
    th_check(mix_controls_apply(&soft, &ctl, c, 3, &err) == LW_ERR_ARGUMENT &&
                 strstr(err.message, "element 1"),
             "NaN bias refused: %s", err.message);

    float c0[3] = {0.6f, 0.4f, 0}, c1[3] = {0, 0.2f, 0.8f}, out[3];
    th_check(mix_blend(c0, c1, 3, 0.25f, out, &err) == LW_OK, "blend");
    th_check_close("blend 0.25", out, (const float[]){0.45f, 0.35f, 0.2f}, 3, 1e-7, 0);
    th_check(mix_blend(c0, c1, 3, 1.5f, out, &err) == LW_ERR_ARGUMENT, "ratio 1.5 refused");
    th_check(mix_blend(c0, c1, 3, NAN, out, &err) == LW_ERR_ARGUMENT, "ratio NaN refused");
    float m[3], mods[6] = {0.6f, 0.4f, 0, 0, 0.2f, 0.8f};
    mix_mean(mods, 2, 3, m);
    th_check_close("mean over modules", m, (const float[]){0.3f, 0.3f, 0.4f}, 3, 1e-7, 0);
}

int main(void) {
    worked_example();
    controls();
    fixtures();
    return th_finish();
}
