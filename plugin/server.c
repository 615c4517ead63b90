/* The resident engine process (`lorweb-gimp --serve SOCKET OWNER_PID`, see engine.h): keeps one
 * pipeline context, and so the loaded models, across the plug-in runs of one GIMP session. It
 * serves one connection at a time; while a job runs, the engine's progress callback forwards
 * progress and polls the connection, so a client that sends anything or hangs up cancels the job
 * within one step. It exits when the owner (GIMP) is gone, after IDLE_SECONDS without a job, when
 * its socket was removed or replaced, or on WIRE_QUIT. It does not call libgimp. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "engine.h"
#include "wire.h"

#define IDLE_SECONDS (30 * 60)
#define MAX_JOB_BYTES ((uint64_t)3 * PLUGIN_MAX_PIXELS * 4 * sizeof(float)) /* a, a′, b at the limit */

struct connection {
    int  fd;
    bool gone; /* the client cancelled or hung up */
};

static bool forward_progress(void *user, const struct pipe_progress *p) {
    struct connection   *c = user;
    struct wire_progress w = {(int32_t)p->stage, p->step, p->steps, p->fraction};
    if (c->gone || !wire_send(c->fd, WIRE_PROGRESS, &w, sizeof w, 0)) return !(c->gone = true);
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    if (poll(&pfd, 1, 0) > 0)
        c->gone = true; /* a cancel byte or the hang-up (EOF reads as POLLIN) */
    return !c->gone;
}

static void image_alloc(struct pipe_image *im, int w, int h) {
    im->width = w, im->height = h, im->stride = (size_t)w * 4;
    im->data = malloc((size_t)w * h * 4 * sizeof(float));
}

/* One job: read it, run it, answer. False when the connection is unusable. */
static bool serve_job(struct plugin_resident *r, int fd, uint64_t size) {
    struct wire_job   w;
    struct plugin_job job = {0};
    bool              ok = false;
    if (size < sizeof w || !wire_read(fd, &w, sizeof w)) return false;
    uint64_t pixels = 0;
    for (int i = 0; i < 3; i++) {
        if (w.width[i] < 1 || w.height[i] < 1 || w.width[i] > 32768 || w.height[i] > 32768)
            return false;
        pixels += (uint64_t)w.width[i] * w.height[i] * 4 * sizeof(float);
    }
    if (pixels > MAX_JOB_BYTES || size != sizeof w + pixels) return false;
    job.kind = w.kind == PLUGIN_JOB_RUN ? PLUGIN_JOB_RUN : PLUGIN_JOB_ENCODE;
    job.params = w.params;
    memcpy(job.prompt, w.prompt, sizeof job.prompt);
    job.model = w.model;
    _Static_assert(sizeof job.model == 9 * PLUGIN_PATH_MAX, "plugin_model is nine paths");
    for (int i = 0; i < 9; i++)
        ((char *)&job.model)[(i + 1) * PLUGIN_PATH_MAX - 1] = 0;
    struct pipe_image *im[3] = {&job.a, &job.a_prime, &job.b};
    for (int i = 0; i < 3; i++)
        image_alloc(im[i], w.width[i], w.height[i]);
    if (job.kind == PLUGIN_JOB_RUN) image_alloc(&job.out, w.width[2], w.height[2]);
    if (!job.a.data || !job.a_prime.data || !job.b.data ||
        (job.kind == PLUGIN_JOB_RUN && !job.out.data)) {
        lw_error_set(&job.err, LW_ERR_HOST_MEMORY, "the resident engine is out of host memory");
        char sink[65536];
        for (uint64_t left = pixels; left;) { /* read what the client sends before answering */
            size_t n = left < sizeof sink ? (size_t)left : sizeof sink;
            if (!wire_read(fd, sink, n)) goto done;
            left -= n;
        }
        goto answer;
    }
    for (int i = 0; i < 3; i++)
        if (!wire_read_image(fd, im[i])) goto done;
    struct connection c = {fd, false};
    plugin_resident_execute(r, &job, forward_progress, &c);
    fprintf(stderr, "lorweb engine: %s job: %s in %.2f s (load %.2f s, models %s)\n",
            job.kind == PLUGIN_JOB_RUN ? "run" : "encode", lw_status_str(job.err.status),
            job.run_seconds, job.load_seconds, job.resident ? "resident" : "loaded now");
    if (c.gone) goto done;
answer:;
    struct wire_done d = {.status = job.err.status,
                          .basis = job.basis,
                          .load_seconds = job.load_seconds,
                          .run_seconds = job.run_seconds,
                          .resident = job.resident};
    memcpy(d.message, job.err.message, sizeof d.message);
    memcpy(d.weights, job.weights, sizeof d.weights);
    bool with_pixels = job.kind == PLUGIN_JOB_RUN && job.err.status == LW_OK;
    if (with_pixels) d.width = job.out.width, d.height = job.out.height;
    size_t extra = with_pixels ? (size_t)d.width * d.height * 4 * sizeof(float) : 0;
    ok = wire_send(fd, WIRE_DONE, &d, sizeof d, extra) &&
         (!with_pixels || wire_write_image(fd, &job.out));
done:
    free(job.a.data), free(job.a_prime.data), free(job.b.data), free(job.out.data);
    return ok;
}

/* Binds the socket, unless another engine already answers there (then returns −1 quietly). */
static int listen_on(const char *path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        int other = errno == EADDRINUSE ? wire_connect(path) : -1;
        if (other >= 0 || errno != ECONNREFUSED) { /* alive, or some other failure */
            if (other >= 0) close(other);
            close(fd);
            return -1;
        }
        unlink(path); /* stale */
        if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
            close(fd);
            return -1;
        }
    }
    if (listen(fd, 8) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool same_file(const char *path, const struct stat *mine) {
    struct stat st;
    return stat(path, &st) == 0 && st.st_ino == mine->st_ino && st.st_dev == mine->st_dev;
}

int plugin_server_main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s --serve SOCKET OWNER_PID\n", argv[0]);
        return 2;
    }
    const char *path = argv[2];
    pid_t       owner = (pid_t)atol(argv[3]);
    signal(SIGPIPE, SIG_IGN);
    int listener = listen_on(path);
    if (listener < 0) return 0;
    struct stat mine;
    if (stat(path, &mine) != 0) return 1;
    fprintf(stderr, "lorweb engine: resident at %s (pid %ld)\n", path, (long)getpid());
    struct plugin_resident r = {0};
    double                 last = plugin_now();
    bool                   quit = false;
    while (!quit) {
        struct pollfd pfd = {.fd = listener, .events = POLLIN};
        int           n = poll(&pfd, 1, 1000);
        if (n < 0 && errno != EINTR) break;
        if (n <= 0) {
            if ((owner > 0 && kill(owner, 0) != 0 && errno == ESRCH) ||
                plugin_now() - last > IDLE_SECONDS || !same_file(path, &mine))
                break;
            continue;
        }
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) continue;
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        struct wire_header h;
        if (wire_read(fd, &h, sizeof h) && h.magic == WIRE_MAGIC) {
            if (h.kind == WIRE_JOB) {
                serve_job(&r, fd, h.size);
            } else if (h.kind == WIRE_QUIT) {
                struct wire_done d = {.status = LW_OK};
                wire_send(fd, WIRE_DONE, &d, sizeof d, 0);
                quit = true;
            }
        }
        close(fd);
        last = plugin_now();
    }
    if (same_file(path, &mine)) unlink(path);
    close(listener);
    plugin_resident_clear(&r);
    fprintf(stderr, "lorweb engine: resident engine %ld exits\n", (long)getpid());
    return 0;
}
