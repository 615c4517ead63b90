/* The plug-in's resident engine without GIMP (plugin/engine.c + server.c on tests/pipeline_fake.c):
 * the first job starts the engine process and "loads" (LORWEB_FAKE_LOAD_MS), the second finds the
 * models resident; results match the fake's formula exactly; a client that cancels mid-run leaves
 * the engine serving; engine errors come back with their detail; an in-process engine gives the
 * same pixels; stopping removes the socket. Prints both jobs' start-up times. This program is also
 * the engine process it talks to (`--serve`). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "wire.h"

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                            \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static struct pipe_image image_make(int w, int h, int seed) {
    struct pipe_image im = {malloc((size_t)w * h * 4 * sizeof(float)), w, h, (size_t)w * 4};
    for (int i = 0; i < w * h * 4; i++)
        im.data[i] = (float)((i * 7 + seed * 13) % 101) / 100.0f;
    return im;
}

/* The fake's formula at strength s (tests/pipeline_fake.c). */
static float expected(const struct plugin_job *j, int x, int y, int c) {
    const struct pipe_image *a = &j->a, *ap = &j->a_prime, *b = &j->b;
    int                      ax = (2 * x + 1) * a->width / (2 * b->width),
        ay = (2 * y + 1) * a->height / (2 * b->height);
    int px = (2 * x + 1) * ap->width / (2 * b->width),
        py = (2 * y + 1) * ap->height / (2 * b->height);
    float vb = b->data[(size_t)y * b->stride + x * 4 + c];
    if (c == 3) return vb;
    float v = vb + j->params.strength * (ap->data[(size_t)py * ap->stride + px * 4 + c] -
                                         a->data[(size_t)ay * a->stride + ax * 4 + c]);
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

static void job_init(struct plugin_job *j, const char *model) {
    memset(j, 0, sizeof *j);
    j->kind = PLUGIN_JOB_RUN;
    pipe_params_defaults(&j->params);
    j->params.steps = 3, j->params.strength = 0.5f;
    snprintf(j->model.model_dir, sizeof j->model.model_dir, "%s", model);
    j->a = image_make(13, 11, 1), j->a_prime = image_make(17, 7, 2), j->b = image_make(19, 23, 3);
    j->out = image_make(19, 23, 0);
}

static void job_free(struct plugin_job *j) {
    free(j->a.data), free(j->a_prime.data), free(j->b.data), free(j->out.data);
}

static double check_pixels(const struct plugin_job *j) {
    double worst = 0;
    for (int y = 0; y < j->b.height; y++)
        for (int x = 0; x < j->b.width; x++)
            for (int c = 0; c < 4; c++)
                worst = fmax(worst, fabs(j->out.data[(size_t)y * j->out.stride + x * 4 + c] -
                                         expected(j, x, y, c)));
    return worst;
}

struct counter {
    int    calls, cancel_at;
    double t0, first;
};

static bool count(void *user, const struct pipe_progress *p) {
    struct counter *c = user;
    if (p->stage == PIPE_STAGE_DENOISE && c->first < 0) c->first = plugin_now() - c->t0;
    return ++c->calls != c->cancel_at;
}

int main(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "--serve")) return plugin_server_main(argc, argv);
    char dir[] = "/tmp/lorweb-resident-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char model[256], marker[300], exe[4096];
    snprintf(model, sizeof model, "%s/model", dir);
    snprintf(marker, sizeof marker, "%s/fake-model", model);
    mkdir(model, 0700);
    fclose(fopen(marker, "w"));
    setenv("XDG_RUNTIME_DIR", dir, 1);
    setenv("LORWEB_FAKE_LOAD_MS", "300", 1);
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return 1;
    exe[n] = 0;

    struct plugin_engine *e = plugin_engine_create(true, exe, getpid());
    struct plugin_job     j;
    double                startup[2] = {0};
    for (int run = 0; run < 2; run++) {
        job_init(&j, model);
        struct counter c = {.cancel_at = -1, .t0 = plugin_now(), .first = -1};
        enum lw_status st = plugin_engine_execute(e, &j, count, &c);
        CHECK(st == LW_OK, "run %d: %s %s", run, lw_status_str(st), j.err.message);
        CHECK(plugin_engine_is_resident(e), "run %d did not use the resident engine", run);
        CHECK(j.resident == (run == 1), "run %d: models %s", run,
              j.resident ? "resident" : "loaded");
        CHECK(c.calls >= 5, "run %d: %d progress calls", run, c.calls);
        double err = check_pixels(&j);
        CHECK(err < 1e-6, "run %d: max |b′ − expected| = %g", run, err);
        startup[run] = c.first;
        printf("run %d: first step after %.3f s (load %.3f s, models %s), job %.3f s\n", run,
               c.first, j.load_seconds, j.resident ? "resident" : "loaded now", j.run_seconds);
        job_free(&j);
    }
    CHECK(startup[0] > 0.3 && startup[1] < 0.3, "start-up %.3f s then %.3f s", startup[0],
          startup[1]);

    /* Cancel: a slow run stopped at its second progress call; the engine serves the next job. */
    setenv("LORWEB_FAKE_STEP_MS", "200",
           1); /* the engine process already runs: only in-process sees it */
    job_init(&j, model);
    j.params.steps = 50;
    struct counter c = {.cancel_at = 2, .t0 = plugin_now(), .first = -1};
    CHECK(plugin_engine_execute(e, &j, count, &c) == LW_ERR_CANCELLED, "cancel: %s", j.err.message);
    job_free(&j);
    job_init(&j, model);
    CHECK(plugin_engine_execute(e, &j, NULL, NULL) == LW_OK && plugin_engine_is_resident(e),
          "after cancel: %s", j.err.message);
    CHECK(check_pixels(&j) < 1e-6, "after cancel: pixels");
    job_free(&j);

    /* Errors keep their status and detail. */
    job_init(&j, "/nonexistent/model");
    CHECK(plugin_engine_execute(e, &j, NULL, NULL) == LW_ERR_MISSING &&
              strstr(j.err.message, "/nonexistent/model"),
          "missing model: %d %s", j.err.status, j.err.message);
    job_free(&j);

    /* Encode: the fake's 32 weights. */
    job_init(&j, model);
    j.kind = PLUGIN_JOB_ENCODE;
    CHECK(plugin_engine_execute(e, &j, NULL, NULL) == LW_OK && j.basis == 32 &&
              j.weights[0] > j.weights[31],
          "encode: %d elements", j.basis);
    job_free(&j);

    /* In-process: same pixels, and its cancel works too (the slow steps apply here). */
    struct plugin_engine *local = plugin_engine_create(false, NULL, 0);
    job_init(&j, model);
    CHECK(plugin_engine_execute(local, &j, NULL, NULL) == LW_OK &&
              !plugin_engine_is_resident(local),
          "in-process");
    CHECK(check_pixels(&j) < 1e-6, "in-process pixels");
    job_free(&j);
    job_init(&j, model);
    j.params.steps = 50;
    c = (struct counter){.cancel_at = 3, .t0 = plugin_now(), .first = -1};
    double t = plugin_now();
    CHECK(plugin_engine_execute(local, &j, count, &c) == LW_ERR_CANCELLED && plugin_now() - t < 2.0,
          "in-process cancel took %.2f s", plugin_now() - t);
    job_free(&j);
    plugin_engine_destroy(local);

    char path[256];
    CHECK(wire_socket_path(exe, getpid(), path, sizeof path), "socket path");
    CHECK(plugin_engine_stop(exe, getpid()), "stop");
    usleep(200 * 1000);
    CHECK(access(path, F_OK) != 0, "socket %s still there after stop", path);
    plugin_engine_destroy(e);
    unlink(marker), rmdir(model);
    char sockdir[300];
    snprintf(sockdir, sizeof sockdir, "%s/lorweb", dir);
    rmdir(sockdir), rmdir(dir);
    printf("resident engine: %d failed\n", failures);
    return failures ? 1 : 0;
}
