/* The whole analogy pipeline on a tiny model set: the shared fixtures' random-weight FLUX, autoencoder,
 * CLIP vision tower and LoRWeB basis (they fit together: 64 packed channels = 4 × 16 latent channels,
 * query 48 = 3 × 16 CLIP dims), plus a fixed conditioning written here. Checks the output size and
 * alpha, determinism per seed, that seeds and strengths change b′, that strength 0 equals the plain
 * model without a basis, non-square inputs, parameter errors, and that cancel at any progress call
 * stops the run with LW_ERR_CANCELLED at once. Skipped without ../shared/fixtures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "pipeline.h"
#include "weights.h"

static char dir_full[] = "/tmp/lorweb-pipe-XXXXXX";
static char dir_plain[] = "/tmp/lorweb-plain-XXXXXX";
static char dir_text[] = "/tmp/lorweb-text-XXXXXX";

static void link_fixture(const char *dir, const char *fixture, const char *name) {
    char from[4200], to[4200];
    snprintf(from, sizeof from, "%s/%s", th_fixtures_dir(), fixture);
    snprintf(to, sizeof to, "%s/%s", dir, name);
    if (symlink(from, to) != 0) th_check(false, "symlink %s", to);
}

static void write_conditioning(const char *dir, struct th_rng *rng) {
    float txt[7 * 48], y[32];
    th_fill_normal(rng, txt, 7 * 48, 1);
    th_fill_normal(rng, y, 32, 1);
    struct wt_tensor t[] = {{.name = "txt", .dtype = LW_DTYPE_F32, .ndim = 2, .shape = {7, 48}, .data = txt, .bytes = sizeof txt},
                            {.name = "y", .dtype = LW_DTYPE_F32, .ndim = 1, .shape = {32}, .data = y, .bytes = sizeof y}};
    char path[4200];
    snprintf(path, sizeof path, "%s/conditioning.safetensors", dir);
    struct lw_error err = {0};
    th_check(wt_write_safetensors(path, t, 2, NULL, &err) == LW_OK, "conditioning: %s", err.message);
}

static struct pipe_image make_image(int w, int h, float phase) {
    struct pipe_image im = {malloc((size_t)w * h * 4 * sizeof(float)), w, h, (size_t)w * 4};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float *p = im.data + (size_t)y * im.stride + (size_t)x * 4;
            p[0] = 0.5f + 0.5f * sinf(0.2f * x + phase), p[1] = (float)y / h, p[2] = phase / 4, p[3] = 0.75f;
        }
    return im;
}

/* Cancel: the progress call number `cancel_call` of a run (counted in call_no) answers "stop". */
static int             cancel_call, call_no, calls_after_cancel;
static enum pipe_stage cancelled_stage;
static int previews, bad_previews; /* progress previews seen, and ones out of shape or range */
static bool progress(void *user, const struct pipe_progress *p) {
    int *calls = user;
    ++*calls;
    if (p->preview) {
        previews++;
        bool ok = p->stage == PIPE_STAGE_DENOISE && p->preview_width > 0 && p->preview_height > 0;
        for (int i = 0; ok && i < p->preview_width * p->preview_height * 4; i++)
            ok = p->preview[i] >= 0 && p->preview[i] <= 1;
        bad_previews += !ok;
    }
    call_no++;
    if (cancel_call && call_no > cancel_call) calls_after_cancel++;
    if (cancel_call && call_no == cancel_call) cancelled_stage = p->stage;
    return !(cancel_call && call_no >= cancel_call);
}

static int prompts_encoded; /* "prompt encoded" debug lines seen */
static void log_line(void *user, enum pipe_log_level level, const char *text) {
    (void)user, (void)level;
    prompts_encoded += strstr(text, "prompt encoded") != NULL;
}

static struct pipe_context *context_with(const char *dir, int *calls, bool low_memory) {
    struct pipe_options  opt = {.paths = {.model_dir = dir}, .progress = progress, .log = log_line, .user = calls,
                                .low_memory = low_memory};
    struct pipe_context *ctx = NULL;
    struct lw_error      err = {0};
    th_check(pipe_context_create(&opt, &ctx, &err) == LW_OK, "context %s: %s", dir, err.message);
    return ctx;
}

static struct pipe_context *context(const char *dir, int *calls) {
    return context_with(dir, calls, false);
}

static bool run(struct pipe_context *ctx, struct pipe_params *p, struct pipe_image *a, struct pipe_image *ap,
                struct pipe_image *b, struct pipe_image *out, enum lw_status want) {
    struct lw_error err = {0};
    enum lw_status  st = pipe_run(ctx, p, a, ap, b, out, &err);
    return th_check(st == want, "pipe_run: status %d (want %d): %s", st, want, err.message);
}

int main(void) {
    if (!th_fixtures_dir()) th_skip("no ../shared/fixtures: the tiny model set comes from there");
    struct th_rng rng;
    th_rng_seed(&rng, 5);
    if (!mkdtemp(dir_full) || !mkdtemp(dir_plain) || !mkdtemp(dir_text)) return 1;
    const char *files[][2] = {{"flux_weights.safetensors", "flux.safetensors"}, {"ae_weights.safetensors", "ae.safetensors"},
                              {"clip_vision_weights.safetensors", "clip_vision.safetensors"},
                              {"lorweb_weights.safetensors", "lorweb.safetensors"}, {"lorweb_config.yaml", "config.yaml"}};
    for (int i = 0; i < 5; i++) link_fixture(dir_full, files[i][0], files[i][1]);
    for (int i = 0; i < 2; i++) link_fixture(dir_plain, files[i][0], files[i][1]);
    /* A folder with text encoders and tokenizers instead of a fixed conditioning: the fixtures' T5
     * (d_model 48) and CLIP text (width 32) match the transformer's inputs. */
    for (int i = 0; i < 5; i++) link_fixture(dir_text, files[i][0], files[i][1]);
    link_fixture(dir_text, "t5_weights.safetensors", "t5.safetensors");
    link_fixture(dir_text, "clip_text_weights.safetensors", "clip_text.safetensors");
    char tokdir[300];
    snprintf(tokdir, sizeof tokdir, "%s/tokenizer", dir_text);
    mkdir(tokdir, 0755);
    link_fixture(tokdir, "tokenizer_data/clip/vocab.json", "vocab.json");
    link_fixture(tokdir, "tokenizer_data/clip/merges.txt", "merges.txt");
    link_fixture(tokdir, "tokenizer_data/t5/spiece.model", "spiece.model");
    write_conditioning(dir_full, &rng);
    char from[4200], to[4200];
    snprintf(from, sizeof from, "%s/conditioning.safetensors", dir_full);
    snprintf(to, sizeof to, "%s/conditioning.safetensors", dir_plain);
    if (symlink(from, to) != 0) th_check(false, "symlink conditioning");

    int                  calls = 0;
    struct pipe_context *ctx = context(dir_full, &calls), *plain = context(dir_plain, &calls);
    if (!ctx || !plain) return th_finish();
    struct pipe_image a = make_image(40, 30, 0), ap = make_image(40, 30, 1.5f), b = make_image(50, 34, 3);
    struct pipe_image o1 = make_image(50, 34, 0), o2 = make_image(50, 34, 0), o3 = make_image(50, 34, 0);
    size_t            n = (size_t)50 * 34 * 4;
    struct pipe_params p;
    pipe_params_defaults(&p);
    p.steps = 3, p.size = 64, p.seed = 7, p.preview_every = 1;
    th_poison(o1.data, n);
    if (run(ctx, &p, &a, &ap, &b, &o1, LW_OK)) {
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) bad += !(o1.data[i] >= 0 && o1.data[i] <= 1);
        th_check(bad == 0, "b′ fully written and in [0, 1] (%zu bad)", bad);
        th_check(o1.data[3] == 0.75f && o1.data[n - 1] == 0.75f, "b′ keeps b's alpha");
        th_check(calls >= 5, "progress reported (%d calls)", calls);
        th_check(previews == p.steps && bad_previews == 0, "a preview of b′ at each of %d steps (%d, %d bad)",
                 p.steps, previews, bad_previews);
    }
    run(ctx, &p, &a, &ap, &b, &o2, LW_OK);
    th_check(memcmp(o1.data, o2.data, n * 4) == 0, "same seed, same b′ (resident engine, second run)");
    /* Merged weights: the basis added into the resident Linears for the run gives b′ up to the
     * rounding of the merged bf16 weights (so not bit for bit: proof that it merged), and the next
     * unmerged run is bit for bit the first (the weights were restored exactly). */
    p.merge_weights = true;
    run(ctx, &p, &a, &ap, &b, &o2, LW_OK);
    p.merge_weights = false;
    double merged_diff = th_rel_l2(o2.data, o1.data, n);
    printf("merged weights: b′ rel L2 %.3e from the side path\n", merged_diff);
    th_check(merged_diff > 0 && merged_diff < 1e-2, "merged weights: b′ close to the side path's (rel L2 %.3e)",
             merged_diff);
    th_poison(o2.data, n);
    run(ctx, &p, &a, &ap, &b, &o2, LW_OK);
    th_check(memcmp(o1.data, o2.data, n * 4) == 0, "after a merged run the weights are restored bit for bit");
    /* Low memory: CLIP and the autoencoder per stage give the same b′ with a lower peak, twice (the
     * second run loads them again), and an encode for the dialog in between. */
    struct pipe_context *low = context_with(dir_full, &calls, true);
    if (low) {
        uint64_t bytes, objects, peak_low, peak_full;
        run(low, &p, &a, &ap, &b, &o2, LW_OK);
        th_check(memcmp(o1.data, o2.data, n * 4) == 0, "low memory: the same b′");
        struct lw_error e = {0};
        th_check(pipe_encode(low, &a, &ap, &b, &e) == LW_OK, "low memory: encode (%s)", e.message);
        th_poison(o2.data, n);
        run(low, &p, &a, &ap, &b, &o2, LW_OK);
        th_check(memcmp(o1.data, o2.data, n * 4) == 0, "low memory: the same b′ on the next run");
        pipe_device_usage(low, &bytes, &objects, &peak_low);
        pipe_device_usage(ctx, &bytes, &objects, &peak_full);
        printf("peak device memory: %.2f MiB resident, %.2f MiB low memory\n", peak_full / 1048576.0,
               peak_low / 1048576.0);
        th_check(peak_low < peak_full, "low memory lowers the peak (%llu < %llu bytes)",
                 (unsigned long long)peak_low, (unsigned long long)peak_full);
        pipe_context_destroy(low);
    }
    p.seed = 8;
    run(ctx, &p, &a, &ap, &b, &o2, LW_OK);
    th_check(memcmp(o1.data, o2.data, n * 4) != 0, "another seed, another b′");
    p.seed = 7, p.strength = 0;
    run(ctx, &p, &a, &ap, &b, &o2, LW_OK);
    run(plain, &p, &a, &ap, &b, &o3, LW_OK);
    th_check(th_max_abs_diff(o2.data, o3.data, n) < 1e-6, "strength 0 = plain Kontext (max diff %g)",
             th_max_abs_diff(o2.data, o3.data, n));
    th_check(th_max_abs_diff(o1.data, o2.data, n) > 1e-4, "strength 1 differs from strength 0");
    float mean[PIPE_MAX_BASIS];
    int   basis = 0;
    struct lw_error err = {0};
    th_check(pipe_basis_weights(ctx, mean, PIPE_MAX_BASIS, &basis, &err) == LW_OK && basis == 4, "basis weights");
    double sum = 0;
    for (int i = 0; i < basis; i++) sum += mean[i];
    th_check(fabs(sum - 1) < 1e-5, "mean mixing weights sum to 1 under softmax (%g)", sum);
    /* biasing element 0 moves the result */
    p.strength = 1, p.override_set[0] = true, p.override[0] = 1;
    run(ctx, &p, &a, &ap, &b, &o2, LW_OK);
    th_check(th_max_abs_diff(o1.data, o2.data, n) > 1e-5, "overriding a basis weight changes b′");
    p.override_set[0] = false;
    /* Blending two analogies: ratio 0 is the first pair's b′, ratio 1 the second pair's, 0.5 neither. */
    struct pipe_image a2 = make_image(40, 30, 2.2f), ap2 = make_image(40, 30, 0.4f), o4 = make_image(50, 34, 0);
    p.blend_a = &a2, p.blend_a_prime = &ap2, p.blend = 0;
    run(ctx, &p, &a, &ap, &b, &o2, LW_OK);
    th_check(memcmp(o1.data, o2.data, n * 4) == 0, "blend 0 = the first analogy");
    /* Blending mixes the weights only (the grid still shows a | a′): at ratio 1 they are the second
     * pair's exactly. */
    float w_blend[PIPE_MAX_BASIS], w_second[PIPE_MAX_BASIS];
    int   nb1 = 0, nb2 = 0;
    p.blend = 1;
    run(ctx, &p, &a, &ap, &b, &o2, LW_OK);
    pipe_basis_weights(ctx, w_blend, PIPE_MAX_BASIS, &nb1, NULL);
    p.blend_a = NULL, p.blend_a_prime = NULL, p.blend = 0;
    run(ctx, &p, &a2, &ap2, &b, &o3, LW_OK);
    pipe_basis_weights(ctx, w_second, PIPE_MAX_BASIS, &nb2, NULL);
    th_check(nb1 == nb2 && nb1 > 0 && memcmp(w_blend, w_second, (size_t)nb1 * sizeof *w_blend) == 0,
             "blend 1 = the second analogy's mixing weights");
    th_check(th_max_abs_diff(o1.data, o2.data, n) > 1e-6, "blend 1 changes b′");
    p.blend_a = &a2, p.blend_a_prime = &ap2;
    p.blend = 0.5f;
    run(ctx, &p, &a, &ap, &b, &o4, LW_OK);
    th_check(th_max_abs_diff(o4.data, o1.data, n) > 1e-6 && th_max_abs_diff(o4.data, o2.data, n) > 1e-6,
             "blend 0.5 differs from both (%g, %g)", th_max_abs_diff(o4.data, o1.data, n), th_max_abs_diff(o4.data, o2.data, n));
    p.blend = 1.5f;
    run(ctx, &p, &a, &ap, &b, &o4, LW_ERR_ARGUMENT);
    p.blend_a = NULL, p.blend_a_prime = NULL, p.blend = 0;
    free(a2.data), free(ap2.data), free(o4.data);
    /* Cancel at every point: at each progress call of a run in turn (encoding, each step, decoding,
     * detail transfer; the last call only reports completion). Each ends `cancelled` without another
     * progress call (so within the step) and leaves the output untouched; the next run gives the
     * same b′. */
    call_no = 0;
    run(ctx, &p, &a, &ap, &b, &o2, LW_OK);
    int  per_run = call_no;
    bool stage_seen[8] = {false};
    for (cancel_call = 1; cancel_call < per_run; cancel_call++) {
        call_no = calls_after_cancel = 0, cancelled_stage = -1;
        th_poison(o3.data, n);
        memcpy(o2.data, o3.data, n * 4);
        bool cancelled = run(ctx, &p, &a, &ap, &b, &o3, LW_ERR_CANCELLED);
        th_check(cancelled && calls_after_cancel == 0 && memcmp(o2.data, o3.data, n * 4) == 0,
                 "cancel at progress call %d of %d (stage %d): cancelled, %d calls after it, output untouched",
                 cancel_call, per_run, (int)cancelled_stage, calls_after_cancel);
        if ((int)cancelled_stage >= 0 && (int)cancelled_stage < 8) stage_seen[cancelled_stage] = true;
    }
    cancel_call = 0;
    printf("cancel sweep: %d progress calls per run, cancelled at each of the first %d\n", per_run, per_run - 1);
    th_check(stage_seen[PIPE_STAGE_ENCODE] && stage_seen[PIPE_STAGE_DENOISE] && stage_seen[PIPE_STAGE_DECODE] &&
                 stage_seen[PIPE_STAGE_DETAIL],
             "cancels covered encoding, denoising, decoding and detail transfer");
    run(ctx, &p, &a, &ap, &b, &o2, LW_OK);
    th_check(memcmp(o1.data, o2.data, n * 4) == 0, "a run after the cancels gives the same b′");
    /* A device lost mid-run (simulated at its 5th submission) is reported; the next run creates a
     * new device, loads again and gives the same b′. */
    struct pipe_context *lost = context(dir_full, &calls);
    setenv("LORWEB_FAULT_LOSE_DEVICE_AT", "5", 1);
    th_poison(o2.data, n);
    if (lost) run(lost, &p, &a, &ap, &b, &o2, LW_ERR_DEVICE_LOST);
    unsetenv("LORWEB_FAULT_LOSE_DEVICE_AT");
    if (lost && run(lost, &p, &a, &ap, &b, &o2, LW_OK))
        th_check(memcmp(o1.data, o2.data, n * 4) == 0, "after a lost device, a new one gives the same b′");
    pipe_context_destroy(lost);
    /* The same with merged weights, the loss at each submission of such a run in turn (loading, the
     * encoders, merging, the steps, restoring, decoding): each run ends lost, and the next run on
     * that context (a new device, the weights loaded again) gives the first b′. Past the run's last
     * submission the run is ok and the armed device is left alone. */
    int lost_runs = 0, at = 1;
    for (bool more = true; more; at++) {
        struct pipe_context *ml = context(dir_full, &calls);
        char                 n_at[16];
        snprintf(n_at, sizeof n_at, "%d", at);
        setenv("LORWEB_FAULT_LOSE_DEVICE_AT", n_at, 1);
        p.merge_weights = true;
        struct lw_error e = {0};
        enum lw_status  st = ml ? pipe_run(ml, &p, &a, &ap, &b, &o2, &e) : LW_ERR_ARGUMENT;
        unsetenv("LORWEB_FAULT_LOSE_DEVICE_AT");
        p.merge_weights = false;
        more = st == LW_ERR_DEVICE_LOST && at < 200;
        lost_runs += more;
        th_check(st == LW_ERR_DEVICE_LOST || st == LW_OK, "merged run lost at submission %d: %s", at, e.message);
        if (more && ml && run(ml, &p, &a, &ap, &b, &o2, LW_OK))
            th_check(memcmp(o1.data, o2.data, n * 4) == 0, "after a merged run lost at submission %d, the same b′", at);
        pipe_context_destroy(ml);
    }
    printf("merged run with the device lost at each of its %d submissions: each reported, the next run the same\n",
           lost_runs);
    th_check(lost_runs >= 5, "a merged run makes several submissions (%d)", lost_runs);
    /* bad parameters and images */
    p.steps = -1;
    run(ctx, &p, &a, &ap, &b, &o2, LW_ERR_ARGUMENT);
    p.steps = 3, p.strength = 5;
    run(ctx, &p, &a, &ap, &b, &o2, LW_ERR_ARGUMENT);
    p.strength = 1;
    struct pipe_image tiny = make_image(1, 1, 0), wrong = make_image(7, 7, 0);
    run(ctx, &p, &a, &ap, &tiny, &tiny, LW_OK);
    run(ctx, &p, &a, &ap, &b, &wrong, LW_ERR_ARGUMENT);
    struct pipe_image none = {0};
    run(ctx, &p, &none, &ap, &b, &o2, LW_ERR_ARGUMENT);
    struct pipe_options opt = {.paths = {.model_dir = "/nonexistent"}};
    struct pipe_context *missing = NULL;
    th_check(pipe_context_create(&opt, &missing, &err) == LW_ERR_MISSING && strstr(err.message, "/nonexistent"),
             "a missing model folder is named: %s", err.message);
    /* Prompts through T5 and CLIP text: the prompt changes b′, the same prompt reproduces it. */
    struct pipe_context *text = context(dir_text, &calls);
    if (text) {
        p.prompt = "make it a watercolour";
        run(text, &p, &a, &ap, &b, &o1, LW_OK);
        p.prompt = "turn it to night";
        run(text, &p, &a, &ap, &b, &o2, LW_OK);
        th_check(th_max_abs_diff(o1.data, o2.data, n) > 1e-5, "another prompt, another b′");
        p.prompt = "make it a watercolour";
        run(text, &p, &a, &ap, &b, &o3, LW_OK);
        th_check(memcmp(o1.data, o3.data, n * 4) == 0, "the same prompt again gives the same b′");
        /* The empty prompt's embedding is kept beside the last prompt's: encoded once only. */
        int before = prompts_encoded;
        p.prompt = "";
        run(text, &p, &a, &ap, &b, &o1, LW_OK);
        p.prompt = "turn it to night";
        run(text, &p, &a, &ap, &b, &o2, LW_OK);
        p.prompt = NULL;
        run(text, &p, &a, &ap, &b, &o3, LW_OK);
        th_check(prompts_encoded - before == 2, "the empty prompt is encoded once (%d encodings)", prompts_encoded - before);
        th_check(memcmp(o1.data, o3.data, n * 4) == 0, "the kept empty-prompt embedding gives the same b′");
        pipe_context_destroy(text);
    }
    pipe_context_destroy(ctx);
    pipe_context_destroy(plain);
    free(a.data), free(ap.data), free(b.data), free(o1.data), free(o2.data), free(o3.data), free(tiny.data), free(wrong.data);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s %s", dir_full, dir_plain, dir_text);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    return th_finish();
}
