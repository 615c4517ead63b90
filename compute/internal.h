/* Private structures of the compute engine, shared by device.c, buffer.c, kernel.c and cmd.c.
 * Nothing outside compute/ includes this file. */
#pragma once

#include <vulkan/vulkan.h>

#include "compute.h"

/* Turns a failed VkResult into a status with the call named, and jumps to the function's cleanup. */
#define VK_TRY(dev, call)                                                                          \
    do {                                                                                           \
        VkResult vk_try_result_ = (call);                                                          \
        if (vk_try_result_ != VK_SUCCESS) {                                                        \
            status = cmp_vk_status((dev), vk_try_result_, #call, err);                             \
            goto cleanup;                                                                          \
        }                                                                                          \
    } while (0)

struct cmp_pipeline_entry {
    enum cmp_kernel_id id;
    uint32_t           spec_count;
    uint32_t           specs[CMP_MAX_SPECS];
    struct cmp_kernel *kernel;
};

/* A kernel's first `texel_count` bindings are uniform texel buffers (samplerBuffer) of the formats
 * named in the kernel table; the rest are storage buffers. Its layouts are the device's for that
 * count (borrowed). */
#define CMP_MAX_TEXELS 4
struct cmp_kernel {
    enum cmp_kernel_id    id;
    VkPipeline            pipeline;
    VkDescriptorSetLayout set_layout;
    VkPipelineLayout      pipeline_layout;
    uint32_t              texel_count;
    VkFormat              texel_formats[CMP_MAX_TEXELS];
    uint32_t              texel_bytes[CMP_MAX_TEXELS]; /* bytes per texel */
};

struct cmp_profile_entry {
    double   total_ms;
    uint64_t count;
};

struct cmp_device {
    VkInstance                     instance;
    VkPhysicalDevice               physical;
    VkDevice                       device;
    VkQueue                        queue;
    uint32_t                       queue_family;
    struct cmp_device_info         info;
    VkPhysicalDeviceMemoryProperties memory_properties;
    uint32_t                       device_memory_type; /* device-local */
    uint32_t                       host_memory_type;   /* host-visible + coherent */
    bool                           device_memory_mappable;

    /* Layouts by the number of leading texel bindings: [0] is all storage buffers (every kernel
     * without texels); the others are created when a kernel first needs them. */
    VkDescriptorSetLayout set_layouts[CMP_MAX_TEXELS + 1];
    VkPipelineLayout      pipeline_layouts[CMP_MAX_TEXELS + 1];
    VkPipelineCache       pipeline_cache;
    char                  cache_path[4096];

    struct cmp_pipeline_entry *pipelines;
    uint32_t                   pipeline_count, pipeline_capacity;

    /* Staging: one host-visible buffer and a command buffer for synchronous transfers. */
    struct cmp_buffer *staging;
    VkCommandPool      transfer_pool;
    VkCommandBuffer    transfer_cmd;
    VkFence            transfer_fence;

    uint64_t allocated_bytes, peak_bytes;
    uint64_t live_objects;
    uint32_t allocation_count;
    uint32_t fail_allocation_at;
    uint32_t submit_count, lose_device_at;
    bool     lost; /* VK_ERROR_DEVICE_LOST seen: every later submission fails */

    bool                     profile;
    struct cmp_profile_entry profile_table[CMP_KERNEL_COUNT];
};

struct cmp_buffer {
    struct cmp_device *device;
    VkBuffer           buffer;
    VkDeviceMemory     memory;
    uint64_t           bytes;
    enum cmp_memory    memory_kind;
    void              *mapped; /* non-NULL when host-visible */
};

/* Maps a VkResult to a status and records "call: VK_ERROR_…" in err. */
enum lw_status cmp_vk_status(struct cmp_device *device, VkResult result, const char *call,
                             struct lw_error *err);
const char    *cmp_vk_result_str(VkResult result);

/* Before each queue submission: LW_ERR_DEVICE_LOST when the device is lost or the fault-injection
 * switch says it is now. */
enum lw_status cmp_submit_check(struct cmp_device *device, struct lw_error *err);

/* Object accounting for leak tests. */
static inline void cmp_count_created(struct cmp_device *device) {
    device->live_objects++;
}
static inline void cmp_count_destroyed(struct cmp_device *device) {
    device->live_objects--;
}

/* kernel.c: pipeline-cache file handling and pipeline destruction at device teardown. */
void cmp_pipeline_cache_load(struct cmp_device *device);
void cmp_pipeline_cache_save(struct cmp_device *device);
void cmp_kernels_destroy(struct cmp_device *device);
/* The descriptor-set and pipeline layouts for kernels whose first `texel_count` bindings are texel
 * buffers, created on first use; the device destroys them. */
enum lw_status cmp_layouts_get(struct cmp_device *device, uint32_t texel_count,
                               VkDescriptorSetLayout *set_layout, VkPipelineLayout *pipeline_layout,
                               struct lw_error *err);

/* cmd.c: begins a command in `cmd` (recording, barrier) for code that records Vulkan commands
 * itself (fft.c); VK_NULL_HANDLE after a recording error. */
VkCommandBuffer cmp_cmd_vk_begin(struct cmp_cmd *cmd);
void            cmp_cmd_set_error(struct cmp_cmd *cmd, enum lw_status status, const char *message);
VkBuffer        cmp_buffer_vk(const struct cmp_buffer *buffer);

/* buffer.c: runs `record` on the device's transfer command buffer and waits. */
enum lw_status cmp_transfer_begin(struct cmp_device *device, struct lw_error *err);
enum lw_status cmp_transfer_submit(struct cmp_device *device, struct lw_error *err);
