/* The shifted flow-matching schedule: every `sched_<steps>_<tokens>` tensor of the shared fixture
 * (BFL get_schedule, float32) to 1e-6 absolute; the spec's printed reference tables; hand-derived
 * μ values; argument errors; the Euler step. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "schedule.h"
#include "weights.h"

/* spec-flux-kontext.md §3.2, printed to six decimals. */
static const float ref_4096[29] = {1.000000f, 0.988409f, 0.976222f, 0.963394f, 0.949873f, 0.935599f,
                                   0.920509f, 0.904531f, 0.887583f, 0.869576f, 0.850406f, 0.829956f,
                                   0.808095f, 0.784672f, 0.759511f, 0.732413f, 0.703145f, 0.671435f,
                                   0.636965f, 0.599357f, 0.558163f, 0.512844f, 0.462748f, 0.407078f,
                                   0.344849f, 0.274828f, 0.195455f, 0.104721f, 0.000000f};
static const float ref_1024[29] = {1.000000f, 0.980656f, 0.960644f, 0.939928f, 0.918472f, 0.896233f,
                                   0.873170f, 0.849235f, 0.824377f, 0.798543f, 0.771674f, 0.743706f,
                                   0.714570f, 0.684191f, 0.652489f, 0.619376f, 0.584753f, 0.548517f,
                                   0.510552f, 0.470730f, 0.428912f, 0.384945f, 0.338657f, 0.289862f,
                                   0.238348f, 0.183882f, 0.126204f, 0.065020f, 0.000000f};

static void fixtures(void) {
    const char *dir = th_fixtures_dir();
    if (!dir) {
        printf("no fixtures folder: the sched fixture is skipped\n");
        return;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/sched.safetensors", dir);
    struct wt_file *f = NULL;
    struct lw_error err = {0};
    if (!th_check(wt_open(path, &f, &err) == LW_OK, "open %s: %s", path, err.message)) return;
    int found = 0;
    for (size_t i = 0; i < wt_count(f); i++) {
        const struct wt_tensor *t = wt_at(f, i);
        int                     steps;
        long long               tokens;
        if (sscanf(t->name, "sched_%d_%lld", &steps, &tokens) != 2) continue;
        found++;
        uint64_t n = wt_elements(t);
        float   *want = malloc(n * sizeof *want), *got = malloc(n * sizeof *got);
        th_check(n == (uint64_t)steps + 1, "%s has %llu values", t->name, (unsigned long long)n);
        th_check(wt_read_f32(t, want, n, &err) == LW_OK, "read %s", t->name);
        th_poison(got, n);
        th_check(sched_sigmas(steps, tokens, got, &err) == LW_OK, "sched_sigmas %s", t->name);
        th_check_close(t->name, got, want, n, 1e-6, 0);
        printf("%s: max |error| %.3g\n", t->name, th_max_abs_diff(got, want, n));
        free(want), free(got);
    }
    th_check(found >= 1, "the fixture holds sched_* tensors (%d found)", found);
    wt_close(f);
}

int main(void) {
    th_check(fabs(sched_mu(4096) - 1.15) < 1e-12, "mu(4096) = 1.15");
    th_check(fabs(sched_mu(256) - 0.5) < 1e-12, "mu(256) = 0.5");
    th_check(fabs(sched_mu(1024) - 0.63) < 1e-12, "mu(1024) = 0.63");
    th_check(fabs(sched_mu(24) - (0.5 - 0.65 * 232 / 3840)) < 1e-12, "mu extrapolates below 256");
    th_check(sched_time_shift(1.0, 1.0, 0.0) == 0, "shift(0) = 0");
    th_check(fabs(sched_time_shift(0.7, 1.0, 1.0) - 1) < 1e-15, "shift(1) = 1");
    /* t = 0.5: 1/t − 1 = 1, so e^μ / (e^μ + 1) = logistic(μ). */
    th_check(fabs(sched_time_shift(0.3, 1.0, 0.5) - 1 / (1 + exp(-0.3))) < 1e-15, "shift(0.5)");

    float           s[29];
    struct lw_error err = {0};
    th_check(sched_sigmas(28, 4096, s, &err) == LW_OK, "28 steps at 4096");
    th_check_close("spec table N=4096", s, ref_4096, 29, 6e-7, 0);
    th_check(sched_sigmas(28, 1024, s, &err) == LW_OK, "28 steps at 1024");
    th_check_close("spec table N=1024", s, ref_1024, 29, 6e-7, 0);
    for (int steps = 1; steps <= 60; steps += 7) {
        float *v = malloc((size_t)(steps + 1) * sizeof *v);
        sched_sigmas(steps, 37 * steps, v, &err);
        bool ok = v[0] == 1 && v[steps] == 0;
        for (int i = 0; i < steps; i++)
            ok = ok && v[i + 1] < v[i];
        th_check(ok, "%d steps: from 1 to 0, strictly decreasing", steps);
        free(v);
    }
    th_check(sched_sigmas(0, 4096, s, &err) == LW_ERR_ARGUMENT && strstr(err.message, "0 steps"),
             "0 steps refused: %s", err.message);
    th_check(sched_sigmas(4, 0, s, &err) == LW_ERR_ARGUMENT, "0 tokens refused");

    float x[3] = {1, 2, 3}, v[3] = {10, -10, 0.5f}, want[3] = {-1, 4, 2.9f};
    sched_euler_step(x, v, 3, 0.7f, 0.5f);
    th_check_close("euler step", x, want, 3, 1e-6, 0);

    fixtures();
    return th_finish();
}
