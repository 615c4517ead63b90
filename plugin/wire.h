/* The resident engine's socket messages (engine.c client, server.c server). A message is a header
 * and `size` bytes of payload. Client → server: WIRE_JOB (struct wire_job, then a, a′ and b as
 * tightly packed RGBA floats) or WIRE_QUIT; anything the client sends or a hang-up during a job
 * cancels it. Server → client: WIRE_PROGRESS per engine progress call, then one WIRE_DONE (struct
 * wire_done, then b′'s pixels for a successful run). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "engine.h"

#define WIRE_MAGIC 0x4c57454eu /* "LWEN" */

enum wire_kind { WIRE_JOB = 1, WIRE_QUIT = 2, WIRE_PROGRESS = 3, WIRE_DONE = 4 };

struct wire_header {
    uint32_t magic, kind;
    uint64_t size;
};

struct wire_job {
    int32_t             kind;   /* enum plugin_job_kind */
    struct pipe_params  params; /* prompt pointer zeroed on the wire */
    char                prompt[1024];
    struct plugin_model model;
    int32_t             width[3], height[3]; /* a, a′, b */
};

struct wire_progress {
    int32_t stage, step, steps;
    double  fraction;
};

struct wire_done {
    int32_t status;
    char    message[512];
    int32_t basis;
    float   weights[PIPE_MAX_BASIS];
    double  load_seconds, run_seconds;
    int32_t resident;
    int32_t width, height; /* of the pixels that follow; 0 when none */
};

bool wire_write(int fd, const void *data, size_t size);
bool wire_read(int fd, void *data, size_t size);
/* Header with size = size + extra, then `size` bytes of payload (`extra` bytes follow separately).
 */
bool wire_send(int fd, uint32_t kind, const void *payload, size_t size, size_t extra);
bool wire_write_image(int fd, const struct pipe_image *image);
bool wire_read_image(int fd, const struct pipe_image *image);
/* The socket of the engine for `executable` (identified by device, inode, size and mtime) and
 * `owner`, in a private folder created when needed. False when no safe folder or the path is too
 * long. */
bool wire_socket_path(const char *executable, pid_t owner, char *out, size_t size);
/* A connected socket or −1 (errno set). */
int wire_connect(const char *path);
