/* The Vulkan compute engine: devices, buffers, kernels and command recording.
 *
 * This is the only header model code includes from compute/. It knows nothing about models: it moves
 * bytes, runs the kernels compiled from shaders/ and reports errors as `enum lw_status` with detail in
 * a `struct lw_error`. No Vk* type appears here (style.md §4.2).
 *
 * Threading: a device and everything created from it may be used by one thread at a time.
 * Ownership: whoever creates an object destroys it; every _destroy(NULL) does nothing. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "kernels_generated.h"

struct cmp_device;
struct cmp_buffer;
struct cmp_arena;
struct cmp_kernel;
struct cmp_cmd;

/* ---------------------------------------------------------------------------------------------- */
/* Devices                                                                                         */

enum cmp_device_type {
    CMP_DEVICE_OTHER = 0,
    CMP_DEVICE_INTEGRATED = 1,
    CMP_DEVICE_DISCRETE = 2,
    CMP_DEVICE_VIRTUAL = 3,
    CMP_DEVICE_CPU = 4,
};

/* What a device is and can do; filled by cmp_device_list and cmp_device_info. */
struct cmp_device_info {
    char                 name[256];
    char                 driver_name[256];
    char                 driver_info[256];
    enum cmp_device_type type;
    uint32_t             vendor_id, device_id, driver_version, api_version;
    uint8_t              pipeline_cache_uuid[16];
    uint64_t             device_local_bytes; /* sum of device-local heaps */
    uint64_t             host_visible_bytes; /* largest host-visible heap */
    uint32_t             heap_count;
    uint64_t             heap_bytes[16];
    bool                 heap_device_local[16];
    bool                 unified_memory; /* device-local memory is also host-visible */
    uint32_t             subgroup_size;
    bool                 subgroup_arithmetic, subgroup_shuffle;
    bool                 float16_arithmetic, storage16, int8_arithmetic, storage8;
    bool                 cooperative_matrix_nv;
    uint64_t             max_storage_buffer_range; /* largest view a kernel may bind */
    uint64_t             min_storage_offset_alignment; /* bound views start at multiples of this */
    uint64_t             max_texel_elements;           /* texels a texel-buffer binding may hold */
    uint64_t min_texel_offset_alignment; /* texel-buffer bindings start at multiples of this */
    uint64_t             max_allocation_bytes;
    uint32_t             max_shared_memory_bytes;
    uint32_t             max_workgroup_invocations;
    uint32_t             max_workgroup_count[3];
    uint32_t             max_push_constant_bytes;
    float                timestamp_period_ns; /* 0 when timestamps are unsupported */
};

/* Lists every Vulkan physical device, in the loader's order, into `out` (up to `max`); `*count` gets
 * the total. Returns LW_ERR_NO_VULKAN when no loader or driver can be initialised. */
enum lw_status cmp_device_list(struct cmp_device_info *out, uint32_t max, uint32_t *count,
                               struct lw_error *err);

struct cmp_device_options {
    /* Device to use: NULL or "" picks the best (discrete > integrated > virtual > CPU, then memory);
     * a decimal index into cmp_device_list's order, or a case-insensitive substring of the name.
     * When NULL, the environment variable LORWEB_DEVICE is consulted. */
    const char *select;
    /* Directory for the pipeline cache; NULL means $XDG_CACHE_HOME/lorweb (or ~/.cache/lorweb);
     * "" disables the on-disk cache. A missing or mismatching cache is a miss, never an error. */
    const char *cache_dir;
    /* Fault injection for tests: when > 0, the n-th device memory allocation (1-based) and every
     * later one fail with LW_ERR_DEVICE_MEMORY. 0 disables. */
    uint32_t fail_allocation_at;
    /* Fault injection for tests: when > 0, the n-th queue submission (1-based) reports the device
     * lost, and so does every later one, as a real lost device does. 0 disables; when 0, the
     * environment variable LORWEB_FAULT_LOSE_DEVICE_AT is consulted (for tests of whole pipelines). */
    uint32_t lose_device_at;
    /* Tests: when > 0, lowers the device's max storage buffer range to this many bytes, so code that
     * splits large tensors can be exercised with small ones. */
    uint64_t storage_range_limit;
    /* Tests and benchmarks: report no texel-buffer support (max_texel_elements 0), so ops choose
     * their storage-buffer kernel variants everywhere. */
    bool no_texel_buffers;
    /* Record per-dispatch timestamps and print a table to stderr at destroy. Default: LORWEB_PROFILE. */
    bool profile;
};

/* True once the device reported VK_ERROR_DEVICE_LOST (really or by fault injection): every later
 * submission fails; the owner destroys everything made on it and creates a new device. */
bool cmp_device_lost(const struct cmp_device *device);

/* Creates a device. Returns LW_ERR_NO_VULKAN, LW_ERR_NO_DEVICE, LW_ERR_VULKAN or LW_ERR_HOST_MEMORY
 * on failure, with the detail in `err`. `options` may be NULL (all defaults). */
enum lw_status cmp_device_create(const struct cmp_device_options *options, struct cmp_device **out,
                                 struct lw_error *err);
/* Waits for idle, saves the pipeline cache, frees every kernel. Buffers, arenas and cmds created
 * from the device must be destroyed first. */
void cmp_device_destroy(struct cmp_device *device);
const struct cmp_device_info *cmp_device_info(const struct cmp_device *device);

/* Bytes of device memory currently allocated by this device object (all buffers), and the peak. */
uint64_t cmp_device_allocated_bytes(const struct cmp_device *device);
uint64_t cmp_device_peak_bytes(const struct cmp_device *device);
/* Number of live Vulkan objects the engine created (buffers, memories, pipelines, pools), for leak
 * tests across many runs. */
uint64_t cmp_device_live_objects(const struct cmp_device *device);

/* ---------------------------------------------------------------------------------------------- */
/* Buffers and views                                                                               */

enum cmp_memory {
    CMP_MEMORY_DEVICE = 0, /* device-local; filled by upload or by kernels */
    CMP_MEMORY_HOST = 1,   /* host-visible and coherent; mapped for the buffer's whole life */
};

/* A byte range of a buffer. Views are plain values: they borrow the buffer. */
struct cmp_view {
    struct cmp_buffer *buffer;
    uint64_t           offset; /* bytes, multiple of 4 (kernels bind at 16-byte-aligned offsets) */
    uint64_t           bytes;
};

/* Creates a buffer of `bytes` (> 0). LW_ERR_DEVICE_MEMORY when the device has no room,
 * LW_ERR_TOO_LARGE above the device's allocation or storage-range limits. */
enum lw_status cmp_buffer_create(struct cmp_device *device, uint64_t bytes, enum cmp_memory memory,
                                 struct cmp_buffer **out, struct lw_error *err);
void           cmp_buffer_destroy(struct cmp_buffer *buffer);
struct cmp_view cmp_buffer_view(struct cmp_buffer *buffer); /* the whole buffer */
/* The device a buffer belongs to, and its size in bytes. */
struct cmp_device *cmp_buffer_device(const struct cmp_buffer *buffer);
uint64_t           cmp_buffer_bytes(const struct cmp_buffer *buffer);
/* Host pointer of a CMP_MEMORY_HOST buffer (or a unified-memory device buffer), else NULL. */
void *cmp_buffer_map(struct cmp_buffer *buffer);

/* Copies host bytes into a view / a view into host memory, through the device's staging buffer when
 * the memory is not host-visible. Synchronous: the device is idle for this buffer on return.
 * `bytes` must not exceed the view. */
enum lw_status cmp_view_upload(struct cmp_view dst, const void *src, uint64_t bytes,
                               struct lw_error *err);
enum lw_status cmp_view_download(struct cmp_view src, void *dst, uint64_t bytes,
                                 struct lw_error *err);
/* A sub-range of a view (asserts that it lies inside). */
struct cmp_view cmp_view_slice(struct cmp_view view, uint64_t offset, uint64_t bytes);

/* ---------------------------------------------------------------------------------------------- */
/* Arenas: many views of one lifetime, sub-allocated from large device buffers (style.md §4.6)     */

/* `block_bytes` is the size of each backing buffer (0 = 256 MiB, capped by the device limits); a
 * request larger than a block gets a buffer of its own. */
enum lw_status cmp_arena_create(struct cmp_device *device, enum cmp_memory memory,
                                uint64_t block_bytes, struct cmp_arena **out, struct lw_error *err);
void           cmp_arena_destroy(struct cmp_arena *arena);
/* Allocates `bytes` aligned to 256. The view stays valid until the arena is reset or destroyed. */
enum lw_status cmp_arena_alloc(struct cmp_arena *arena, uint64_t bytes, struct cmp_view *out,
                               struct lw_error *err);
/* Forgets every allocation but keeps the backing buffers for reuse. */
void     cmp_arena_reset(struct cmp_arena *arena);
uint64_t cmp_arena_used_bytes(const struct cmp_arena *arena);

/* ---------------------------------------------------------------------------------------------- */
/* Kernels                                                                                         */

/* Every kernel has the same interface: up to CMP_MAX_BINDINGS storage buffers at set 0, bindings
 * 0..n-1 in the order the shader names them (inputs first, outputs last), and one push-constant block
 * `p` of at most CMP_MAX_PUSH_BYTES. Specialisation constants have ids 0..n-1; by convention ids 0,1,2
 * are the workgroup size (local_size_x_id = 0, …) where a kernel makes it tunable. */
#define CMP_MAX_BINDINGS 8
#define CMP_MAX_PUSH_BYTES 128
#define CMP_MAX_SPECS 16

/* Returns the pipeline for (kernel, specialisation values), creating it on first use. The device owns
 * it: never destroy it. */
enum lw_status cmp_kernel_get(struct cmp_device *device, enum cmp_kernel_id id,
                              const uint32_t *specs, uint32_t spec_count, struct cmp_kernel **out,
                              struct lw_error *err);
const char *cmp_kernel_name(enum cmp_kernel_id id);

/* ---------------------------------------------------------------------------------------------- */
/* Command recording and submission                                                                 */

/* A command list records dispatches and copies, is submitted, and can be submitted again unchanged
 * (replay): values that change between replays live in a small buffer that the kernels read.
 * Recording never fails immediately: the first error is kept and returned by cmp_cmd_submit. */
enum lw_status cmp_cmd_create(struct cmp_device *device, struct cmp_cmd **out,
                              struct lw_error *err);
void           cmp_cmd_destroy(struct cmp_cmd *cmd);
/* Drops everything recorded so that recording starts afresh. */
void cmp_cmd_reset(struct cmp_cmd *cmd);

/* Records one dispatch of `groups` workgroups. Each bound view must start at a multiple of
 * min_storage_offset_alignment and be at most max_storage_buffer_range bytes (ops bind rounded-down
 * ranges and pass element offsets in push constants; they split larger tensors). A memory barrier is inserted before each dispatch that
 * follows another, so dispatches run in order (style.md §4.7). `push` may be NULL when push_bytes is 0. */
void cmp_cmd_dispatch(struct cmp_cmd *cmd, struct cmp_kernel *kernel, const struct cmp_view *bindings,
                      uint32_t binding_count, const void *push, uint32_t push_bytes,
                      uint32_t groups_x, uint32_t groups_y, uint32_t groups_z);
/* Records a buffer-to-buffer copy (dst.bytes >= src.bytes) and a fill of a view with a 32-bit word. */
void cmp_cmd_copy(struct cmp_cmd *cmd, struct cmp_view src, struct cmp_view dst);
void cmp_cmd_fill(struct cmp_cmd *cmd, struct cmp_view dst, uint32_t word);

/* Ends recording if needed, submits, and waits. Callable any number of times to replay. Returns the
 * first recording error, LW_ERR_DEVICE_LOST, or LW_ERR_VULKAN. */
enum lw_status cmp_cmd_submit(struct cmp_cmd *cmd, struct lw_error *err);
/* Number of dispatches recorded. */
uint32_t cmp_cmd_dispatch_count(const struct cmp_cmd *cmd);
/* The kernel of the last dispatch recorded (tests check which variant an op chose);
 * CMP_KERNEL_COUNT when none since the last reset. */
enum cmp_kernel_id cmp_cmd_last_kernel(const struct cmp_cmd *cmd);

/* Convenience: ceil(a / b) for workgroup counts. */
static inline uint32_t cmp_div_up(uint64_t a, uint32_t b) {
    return (uint32_t)((a + b - 1) / b);
}

/* ---------------------------------------------------------------------------------------------- */
/* FFT (VkFFT, wrapped: fft.c is the only file that includes vkFFT.h)                               */

struct cmp_fft;

/* Plans in-place 2-D complex-to-complex FFTs over `data`: `batch` arrays of ny rows × nx columns of
 * interleaved complex float (re, im), x fastest; nx, ny ≥ 2 (else LW_ERR_UNSUPPORTED);
 * data.bytes ≥ 8·nx·ny·batch. VkFFT compiles its own
 * kernels here (glslang, at run time). The plan is bound to `data`. */
enum lw_status cmp_fft_plan_create(struct cmp_device *device, uint32_t nx, uint32_t ny,
                                   uint32_t batch, struct cmp_view data, struct cmp_fft **out,
                                   struct lw_error *err);
void           cmp_fft_plan_destroy(struct cmp_fft *plan);
/* Records a forward (exp(−2πi·kx/n), unnormalised) or inverse (normalised by 1/(nx·ny)) transform. */
void cmp_fft_record(struct cmp_cmd *cmd, struct cmp_fft *plan, bool inverse);
