/* The engine as the plug-in sees it: a job (encode or run) handed to a resident engine process that
 * keeps the models loaded for the whole GIMP session, or run in-process when no resident engine can
 * be had. No libgimp here (the resident process and tests/test_resident.c use it without GIMP).
 *
 * The resident engine is this same executable started as `lorweb-gimp --serve SOCKET OWNER_PID`:
 * one per GIMP process (OWNER_PID) and executable build, listening on a UNIX socket in a private
 * folder ($XDG_RUNTIME_DIR/lorweb, else /tmp/lorweb-UID, mode 0700). It serves one connection at a
 * time, one job per connection, and exits when the owner process is gone, after 30 idle minutes, or
 * when asked. A client that goes away (GIMP's progress-bar Cancel kills the plug-in) cancels its
 * job within one step: the engine's progress callback sees the hang-up. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pipeline.h"

enum plugin_job_kind { PLUGIN_JOB_RUN = 1, PLUGIN_JOB_ENCODE = 2 };

#define PLUGIN_PATH_MAX 1024
/* Largest layer the procedure takes, in pixels (8192 × 8192, the largest working size): a, a′ and b
 * read as float RGBA are then at most 3 GiB, what the resident engine accepts in one job. */
#define PLUGIN_MAX_PIXELS ((int64_t)8192 * 8192)

/* Model files: the fields of pipe_model_paths as owned strings ("" = not given). */
struct plugin_model {
    char model_dir[PLUGIN_PATH_MAX], flux[PLUGIN_PATH_MAX], ae[PLUGIN_PATH_MAX];
    char clip_vision[PLUGIN_PATH_MAX], clip_text[PLUGIN_PATH_MAX], t5[PLUGIN_PATH_MAX];
    char tokenizer_dir[PLUGIN_PATH_MAX], lorweb[PLUGIN_PATH_MAX], lorweb_config[PLUGIN_PATH_MAX];
};

struct plugin_job {
    enum plugin_job_kind kind;
    struct pipe_params   params; /* params.prompt is ignored: `prompt` is used */
    char                 prompt[1024];
    struct plugin_model  model;
    struct pipe_image    a, a_prime, b; /* borrowed for the call */
    struct pipe_image    out;           /* RUN: caller-owned, b's size */
    /* Results. */
    float           weights[PIPE_MAX_BASIS]; /* mean mixing weight per basis element (both kinds) */
    int             basis;                   /* 0 when the model has no LoRWeB basis */
    double          load_seconds; /* time in PIPE_STAGE_LOAD (weights read, device set up) */
    double          run_seconds;  /* the engine call as a whole */
    bool            resident;     /* the models were loaded already (by an earlier job) */
    struct lw_error err;
};

/* Called in the thread that called plugin_engine_execute; return false to cancel. */
typedef bool (*plugin_progress_fn)(void *user, const struct pipe_progress *progress);

struct plugin_engine;

/* A resident engine when `resident` (spawned on first use), else an in-process one. `executable` is
 * the program to start as the resident engine (this plug-in's own path); `owner` the process whose
 * end ends it (GIMP). Never fails: problems surface at the first execute. */
struct plugin_engine *plugin_engine_create(bool resident, const char *executable, pid_t owner);
void                  plugin_engine_destroy(struct plugin_engine *engine);

/* Runs a job; fills its results and returns job->err.status. One call at a time per engine (the
 * dialog's preview thread and the final run never overlap). Falls back to in-process execution when
 * the resident engine cannot be started or reached, and says so through `log`. */
enum lw_status plugin_engine_execute(struct plugin_engine *engine, struct plugin_job *job,
                                     plugin_progress_fn progress, void *user);
/* Whether the last execute went through the resident engine. */
bool plugin_engine_is_resident(const struct plugin_engine *engine);
/* Asks a running resident engine for `executable`/`owner` to exit; true if one answered. */
bool plugin_engine_stop(const char *executable, pid_t owner);

/* Monotonic seconds, for the timings the plug-in logs. */
double plugin_now(void);

/* The resident engine's main: `argv` = {prog, "--serve", SOCKET, OWNER_PID}. Returns the exit code.
 */
int plugin_server_main(int argc, char **argv);

/* A context kept between jobs, shared by the resident server and the in-process engine:
 * plugin_resident_execute runs `job` on it, (re)creating the context when the job's model files
 * differ from the ones it was made for. Start from a zeroed struct; plugin_resident_clear frees. */
struct plugin_resident {
    struct pipe_context *ctx;
    struct plugin_model  model; /* the model files ctx was created for */
    int                  jobs;  /* jobs run on ctx */
    plugin_progress_fn   progress;
    void                *user;
    double               t_load; /* when PIPE_STAGE_LOAD began (for load_seconds) */
    struct plugin_job   *job;
};
enum lw_status plugin_resident_execute(struct plugin_resident *r, struct plugin_job *job,
                                       plugin_progress_fn progress, void *user);
void           plugin_resident_clear(struct plugin_resident *r);
