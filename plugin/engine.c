/* The plug-in's side of the engine (engine.h): finding or starting the resident engine process,
 * sending it a job over a UNIX socket and reading its progress and result; the in-process fallback;
 * and the job execution both of them share. The wire format is raw structs, which is safe because
 * client and server are the same executable (the socket name carries the executable's identity).
 * It is not a general RPC layer: one job per connection, progress one way, cancel by hanging up. */
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wire.h"

struct plugin_engine {
    bool                   want_resident, used_resident;
    char                   executable[PLUGIN_PATH_MAX];
    pid_t                  owner;
    struct plugin_resident local; /* the in-process fallback's context */
};

double plugin_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- execution shared by the server and the in-process engine ---- */

static bool resident_progress(void *user, const struct pipe_progress *p) {
    struct plugin_resident *r = user;
    double                  now = plugin_now();
    if (p->stage == PIPE_STAGE_LOAD && r->t_load < 0)
        r->t_load = now;
    else if (p->stage != PIPE_STAGE_LOAD && r->t_load >= 0 && r->job->load_seconds == 0)
        r->job->load_seconds = now - r->t_load;
    return r->progress ? r->progress(r->user, p) : true;
}

static void resident_log(void *user, enum pipe_log_level level, const char *text) {
    (void)user;
    if (level >= PIPE_LOG_INFO) fprintf(stderr, "lorweb engine: %s\n", text);
}

static const char *or_null(const char *s) {
    return s[0] ? s : NULL;
}

enum lw_status plugin_resident_execute(struct plugin_resident *r, struct plugin_job *job,
                                       plugin_progress_fn progress, void *user) {
    lw_error_clear(&job->err);
    job->basis = 0, job->load_seconds = 0, job->run_seconds = 0, job->resident = false;
    if (!r->ctx || memcmp(&r->model, &job->model, sizeof r->model) != 0) {
        /* Other model files: a new context; the old one (and its loaded models) stays if that
         * fails. */
        const struct plugin_model *m = &job->model;
        struct pipe_model_paths    paths = {
               or_null(m->model_dir),     or_null(m->flux),      or_null(m->ae),
               or_null(m->clip_vision),   or_null(m->clip_text), or_null(m->t5),
               or_null(m->tokenizer_dir), or_null(m->lorweb),    or_null(m->lorweb_config)};
        struct pipe_options opt = {
            .paths = paths, .progress = resident_progress, .log = resident_log, .user = r};
        struct pipe_context *ctx = NULL;
        if (pipe_context_create(&opt, &ctx, &job->err) != LW_OK) return job->err.status;
        pipe_context_destroy(r->ctx);
        r->ctx = ctx, r->model = job->model, r->jobs = 0;
    }
    job->resident = r->jobs > 0;
    r->progress = progress, r->user = user, r->job = job, r->t_load = -1;
    struct pipe_params p = job->params;
    job->prompt[sizeof job->prompt - 1] = 0;
    p.prompt = job->prompt;
    double         t0 = plugin_now();
    enum lw_status status =
        job->kind == PLUGIN_JOB_RUN
            ? pipe_run(r->ctx, &p, &job->a, &job->a_prime, &job->b, &job->out, &job->err)
            : pipe_encode(r->ctx, &job->a, &job->a_prime, &job->b, &job->err);
    job->run_seconds = plugin_now() - t0;
    r->progress = NULL, r->user = NULL, r->job = NULL;
    if (status == LW_OK) {
        r->jobs++;
        if (pipe_basis_weights(r->ctx, job->weights, PIPE_MAX_BASIS, &job->basis, NULL) != LW_OK)
            job->basis = 0;
    }
    return status;
}

void plugin_resident_clear(struct plugin_resident *r) {
    pipe_context_destroy(r->ctx);
    memset(r, 0, sizeof *r);
}

/* ---- wire helpers ---- */

bool wire_write(int fd, const void *data, size_t size) {
    const char *p = data;
    while (size) {
        ssize_t n = send(fd, p, size, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n, size -= (size_t)n;
    }
    return true;
}

bool wire_read(int fd, void *data, size_t size) {
    char *p = data;
    while (size) {
        ssize_t n = recv(fd, p, size, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n, size -= (size_t)n;
    }
    return true;
}

bool wire_send(int fd, uint32_t kind, const void *payload, size_t size, size_t extra) {
    struct wire_header h = {WIRE_MAGIC, kind, (uint64_t)(size + extra)};
    return wire_write(fd, &h, sizeof h) && (!size || wire_write(fd, payload, size));
}

/* Rows of an image, tightly packed (the receiver's layout). */
bool wire_write_image(int fd, const struct pipe_image *im) {
    for (int y = 0; y < im->height; y++)
        if (!wire_write(fd, im->data + (size_t)y * im->stride,
                        (size_t)im->width * 4 * sizeof(float)))
            return false;
    return true;
}

bool wire_read_image(int fd, const struct pipe_image *im) {
    for (int y = 0; y < im->height; y++)
        if (!wire_read(fd, im->data + (size_t)y * im->stride,
                       (size_t)im->width * 4 * sizeof(float)))
            return false;
    return true;
}

/* The folder for engine sockets: $XDG_RUNTIME_DIR/lorweb, else /tmp/lorweb-UID; private to us. */
static bool socket_dir(char *out, size_t size) {
    const char *run = getenv("XDG_RUNTIME_DIR");
    struct stat st;
    if (run && *run && stat(run, &st) == 0 && S_ISDIR(st.st_mode))
        snprintf(out, size, "%s/lorweb", run);
    else
        snprintf(out, size, "/tmp/lorweb-%u", (unsigned)getuid());
    if (mkdir(out, 0700) != 0 && errno != EEXIST) return false;
    return lstat(out, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == getuid() &&
           (st.st_mode & 077) == 0;
}

bool wire_socket_path(const char *executable, pid_t owner, char *out, size_t size) {
    struct stat st;
    char        dir[512];
    if (stat(executable, &st) != 0 || !socket_dir(dir, sizeof dir)) return false;
    /* FNV-1a over the executable's identity: a rebuilt plug-in never talks to an old engine. */
    uint64_t fields[] = {(uint64_t)st.st_dev, (uint64_t)st.st_ino, (uint64_t)st.st_size,
                         (uint64_t)st.st_mtim.tv_sec, (uint64_t)st.st_mtim.tv_nsec};
    uint32_t hash = 2166136261u;
    for (size_t i = 0; i < sizeof fields; i++)
        hash = (hash ^ ((const unsigned char *)fields)[i]) * 16777619u;
    int n = snprintf(out, size, "%s/engine-%ld-%08x.sock", dir, (long)owner, hash);
    return n > 0 && (size_t)n < size && (size_t)n < sizeof(((struct sockaddr_un *)0)->sun_path);
}

int wire_connect(const char *path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- the client ---- */

/* Starts `executable --serve SOCKET OWNER` detached (double fork, own session, no inherited
 * descriptors: GIMP's pipes must close when the plug-in ends), then waits until it listens. */
static int spawn_and_connect(const struct plugin_engine *e, const char *path) {
    char owner[32];
    snprintf(owner, sizeof owner, "%ld", (long)e->owner);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) { /* only async-signal-safe calls from here: the dialog may run threads */
        setsid();
        pid_t again = fork();
        if (again != 0) _exit(again < 0);
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) dup2(null, 0);
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        execl(e->executable, e->executable, "--serve", path, owner, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
    for (int i = 0; i < 500; i++) { /* the server binds before it loads anything: ms, not s */
        int fd = wire_connect(path);
        if (fd >= 0) return fd;
        struct timespec t = {0, 20 * 1000 * 1000};
        nanosleep(&t, NULL);
    }
    return -1;
}

static int resident_connect(const struct plugin_engine *e) {
    char path[256];
    if (!wire_socket_path(e->executable, e->owner, path, sizeof path)) return -1;
    int fd = wire_connect(path);
    if (fd >= 0) return fd;
    if (errno == ECONNREFUSED) unlink(path); /* a dead engine's socket */
    return spawn_and_connect(e, path);
}

/* Sends the job; reads progress until the result. Returns false when the connection broke before a
 * result (the caller then falls back to in-process), true otherwise (the job's status says how). */
static bool remote_execute(int fd, struct plugin_job *job, plugin_progress_fn progress,
                           void *user) {
    struct wire_job w = {.kind = (int32_t)job->kind, .params = job->params, .model = job->model};
    w.params.prompt = NULL;
    memcpy(w.prompt, job->prompt, sizeof w.prompt);
    const struct pipe_image *im[3] = {&job->a, &job->a_prime, &job->b};
    size_t                   extra = 0;
    for (int i = 0; i < 3; i++) {
        w.width[i] = im[i]->width, w.height[i] = im[i]->height;
        extra += (size_t)im[i]->width * im[i]->height * 4 * sizeof(float);
    }
    if (!wire_send(fd, WIRE_JOB, &w, sizeof w, extra)) return false;
    for (int i = 0; i < 3; i++)
        if (!wire_write_image(fd, im[i])) return false;
    for (;;) {
        struct wire_header h;
        if (!wire_read(fd, &h, sizeof h) || h.magic != WIRE_MAGIC) return false;
        if (h.kind == WIRE_PROGRESS && h.size == sizeof(struct wire_progress)) {
            struct wire_progress p;
            if (!wire_read(fd, &p, sizeof p)) return false;
            struct pipe_progress pp = {.stage = (enum pipe_stage)p.stage,
                                       .step = p.step,
                                       .steps = p.steps,
                                       .fraction = p.fraction};
            if (progress && !progress(user, &pp)) {
                /* Hanging up is the cancel: the engine stops within one step. */
                lw_error_set(&job->err, LW_ERR_CANCELLED, "cancelled");
                return true;
            }
        } else if (h.kind == WIRE_DONE && h.size >= sizeof(struct wire_done)) {
            struct wire_done d;
            if (!wire_read(fd, &d, sizeof d)) return false;
            job->err.status = (enum lw_status)d.status;
            memcpy(job->err.message, d.message, sizeof job->err.message);
            job->err.message[sizeof job->err.message - 1] = 0;
            job->basis = d.basis < 0 || d.basis > PIPE_MAX_BASIS ? 0 : d.basis;
            memcpy(job->weights, d.weights, sizeof job->weights);
            job->load_seconds = d.load_seconds, job->run_seconds = d.run_seconds;
            job->resident = d.resident;
            if (h.size > sizeof d) {
                if (job->kind != PLUGIN_JOB_RUN || d.width != job->out.width ||
                    d.height != job->out.height ||
                    h.size - sizeof d != (uint64_t)d.width * d.height * 4 * sizeof(float))
                    return false;
                if (!wire_read_image(fd, &job->out)) return false;
            }
            return true;
        } else {
            return false;
        }
    }
}

struct plugin_engine *plugin_engine_create(bool resident, const char *executable, pid_t owner) {
    struct plugin_engine *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->want_resident = resident && executable && *executable;
    snprintf(e->executable, sizeof e->executable, "%s", executable ? executable : "");
    e->owner = owner;
    return e;
}

void plugin_engine_destroy(struct plugin_engine *e) {
    if (!e) return;
    plugin_resident_clear(&e->local);
    free(e);
}

bool plugin_engine_is_resident(const struct plugin_engine *e) {
    return e && e->used_resident;
}

enum lw_status plugin_engine_execute(struct plugin_engine *e, struct plugin_job *job,
                                     plugin_progress_fn progress, void *user) {
    lw_error_clear(&job->err);
    e->used_resident = false;
    if (e->want_resident) {
        int fd = resident_connect(e);
        if (fd >= 0) {
            bool answered = remote_execute(fd, job, progress, user);
            close(fd);
            if (answered) {
                e->used_resident = true;
                return job->err.status;
            }
        }
        fprintf(stderr, "lorweb: the resident engine could not be %s; running in this process\n",
                fd >= 0 ? "reached" : "started");
        e->want_resident = false;
    }
    return plugin_resident_execute(&e->local, job, progress, user);
}

bool plugin_engine_stop(const char *executable, pid_t owner) {
    char path[256];
    if (!wire_socket_path(executable, owner, path, sizeof path)) return false;
    int fd = wire_connect(path);
    if (fd < 0) return false;
    struct wire_header h;
    bool               ok =
        wire_send(fd, WIRE_QUIT, NULL, 0, 0) && wire_read(fd, &h, sizeof h) && h.kind == WIRE_DONE;
    close(fd);
    return ok;
}
