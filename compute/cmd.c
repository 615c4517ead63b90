/* Command lists: record dispatches, copies and fills once; submit and replay them.
 *
 * Barriers are the engine's job, not the model's: a global compute/transfer memory barrier goes
 * between any two consecutive commands (conservative, style.md §4.7; refine only with a profile).
 * Descriptor sets come from pools owned by the command list, so a recorded list stays valid for
 * replay until reset or destroyed. With profiling on, each dispatch is bracketed by timestamps and
 * the per-kernel times are added to the device's table after every submit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SETS_PER_POOL 256u
#define MAX_TIMESTAMPS 8192u

struct cmp_cmd {
    struct cmp_device *device;
    VkCommandPool      pool;
    VkCommandBuffer    buffer;
    VkFence            fence;
    VkDescriptorPool  *descriptor_pools;
    uint32_t           pool_count, pool_capacity, sets_in_last_pool;
    /* The texel-buffer views the recorded dispatches bind; they live until reset or destroy. */
    VkBufferView      *texel_views;
    uint32_t           texel_view_count, texel_view_capacity;
    bool               recording, ended;
    uint32_t           command_count, dispatch_count;
    enum cmp_kernel_id last_kernel;
    enum lw_status     error;
    char               error_message[sizeof(((struct lw_error *)0)->message)];
    /* Profiling: the kernel of each timestamped dispatch. */
    VkQueryPool         query_pool;
    enum cmp_kernel_id *timed_kernels;
    uint32_t            timed_count;
};

static void record_error(struct cmp_cmd *cmd, enum lw_status status, const char *message) {
    if (cmd->error != LW_OK) return;
    cmd->error = status;
    snprintf(cmd->error_message, sizeof cmd->error_message, "%s", message);
}

enum lw_status cmp_cmd_create(struct cmp_device *dev, struct cmp_cmd **out, struct lw_error *err) {
    *out = NULL;
    enum lw_status  status = LW_OK;
    struct cmp_cmd *cmd = calloc(1, sizeof *cmd);
    if (!cmd) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    cmd->device = dev;
    VkCommandPoolCreateInfo pool_info = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
        .queueFamilyIndex = dev->queue_family,
    };
    VK_TRY(dev, vkCreateCommandPool(dev->device, &pool_info, NULL, &cmd->pool));
    cmp_count_created(dev);
    VkCommandBufferAllocateInfo alloc = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = cmd->pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    VK_TRY(dev, vkAllocateCommandBuffers(dev->device, &alloc, &cmd->buffer));
    VkFenceCreateInfo fence_info = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VK_TRY(dev, vkCreateFence(dev->device, &fence_info, NULL, &cmd->fence));
    cmp_count_created(dev);
    if (dev->profile) {
        VkQueryPoolCreateInfo query_info = {
            .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
            .queryType = VK_QUERY_TYPE_TIMESTAMP,
            .queryCount = MAX_TIMESTAMPS,
        };
        VK_TRY(dev, vkCreateQueryPool(dev->device, &query_info, NULL, &cmd->query_pool));
        cmp_count_created(dev);
        cmd->timed_kernels = calloc(MAX_TIMESTAMPS / 2, sizeof *cmd->timed_kernels);
        if (!cmd->timed_kernels) {
            status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
            goto cleanup;
        }
    }
    *out = cmd;
    return LW_OK;
cleanup:
    cmp_cmd_destroy(cmd);
    return status;
}

/* Destroys what the recorded dispatches bound: descriptor pools and texel views. */
static void pools_destroy(struct cmp_cmd *cmd) {
    for (uint32_t i = 0; i < cmd->pool_count; i++) {
        vkDestroyDescriptorPool(cmd->device->device, cmd->descriptor_pools[i], NULL);
        cmp_count_destroyed(cmd->device);
    }
    cmd->pool_count = 0;
    cmd->sets_in_last_pool = 0;
    for (uint32_t i = 0; i < cmd->texel_view_count; i++) {
        vkDestroyBufferView(cmd->device->device, cmd->texel_views[i], NULL);
        cmp_count_destroyed(cmd->device);
    }
    cmd->texel_view_count = 0;
}

void cmp_cmd_destroy(struct cmp_cmd *cmd) {
    if (!cmd) return;
    struct cmp_device *dev = cmd->device;
    if (cmd->recording || cmd->ended) vkQueueWaitIdle(dev->queue);
    pools_destroy(cmd);
    free(cmd->descriptor_pools);
    free(cmd->texel_views);
    if (cmd->query_pool) {
        vkDestroyQueryPool(dev->device, cmd->query_pool, NULL);
        cmp_count_destroyed(dev);
    }
    free(cmd->timed_kernels);
    if (cmd->fence) {
        vkDestroyFence(dev->device, cmd->fence, NULL);
        cmp_count_destroyed(dev);
    }
    if (cmd->pool) {
        vkDestroyCommandPool(dev->device, cmd->pool, NULL);
        cmp_count_destroyed(dev);
    }
    free(cmd);
}

void cmp_cmd_reset(struct cmp_cmd *cmd) {
    vkQueueWaitIdle(cmd->device->queue);
    vkResetCommandBuffer(cmd->buffer, 0);
    pools_destroy(cmd);
    cmd->recording = cmd->ended = false;
    cmd->command_count = cmd->dispatch_count = cmd->timed_count = 0;
    cmd->error = LW_OK;
    cmd->error_message[0] = '\0';
}

/* Begins recording if needed and inserts the barrier that orders this command after the last. */
static bool command_begin(struct cmp_cmd *cmd) {
    if (cmd->error != LW_OK) return false;
    if (cmd->ended) {
        record_error(cmd, LW_ERR_ARGUMENT, "command recorded after submit without cmp_cmd_reset");
        return false;
    }
    if (!cmd->recording) {
        VkCommandBufferBeginInfo begin = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
        VkResult                 result = vkBeginCommandBuffer(cmd->buffer, &begin);
        if (result != VK_SUCCESS) {
            record_error(cmd, LW_ERR_VULKAN, "vkBeginCommandBuffer failed");
            return false;
        }
        cmd->recording = true;
        if (cmd->query_pool) vkCmdResetQueryPool(cmd->buffer, cmd->query_pool, 0, MAX_TIMESTAMPS);
    }
    if (cmd->command_count > 0) {
        VkMemoryBarrier barrier = {
            .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
            .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
            .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                             VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
        };
        VkPipelineStageFlags stages =
            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
        vkCmdPipelineBarrier(cmd->buffer, stages, stages, 0, 1, &barrier, 0, NULL, 0, NULL);
    }
    cmd->command_count++;
    return true;
}

/* Doubles an array of handles the command list owns (to `first` entries when empty); false, with
 * the error recorded, when host memory runs out. */
static bool handles_grow(struct cmp_cmd *cmd, void **items, uint32_t *capacity, size_t item_bytes,
                         uint32_t first, const char *what) {
    uint32_t grown_capacity = *capacity ? 2 * *capacity : first;
    void    *grown = realloc(*items, grown_capacity * item_bytes);
    if (!grown) {
        char message[96];
        snprintf(message, sizeof message, "out of host memory for %s", what);
        record_error(cmd, LW_ERR_HOST_MEMORY, message);
        return false;
    }
    *items = grown;
    *capacity = grown_capacity;
    return true;
}

static VkDescriptorSet descriptor_set_allocate(struct cmp_cmd          *cmd,
                                               const struct cmp_kernel *kernel) {
    struct cmp_device *dev = cmd->device;
    if (cmd->pool_count == 0 || cmd->sets_in_last_pool == SETS_PER_POOL) {
        if (cmd->pool_count == cmd->pool_capacity &&
            !handles_grow(cmd, (void **)&cmd->descriptor_pools, &cmd->pool_capacity,
                          sizeof *cmd->descriptor_pools, 8, "descriptor pools"))
            return VK_NULL_HANDLE;
        VkDescriptorPoolSize sizes[] = {
            {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
             .descriptorCount = SETS_PER_POOL * CMP_MAX_BINDINGS},
            {.type = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
             .descriptorCount = SETS_PER_POOL * CMP_MAX_TEXELS},
        };
        VkDescriptorPoolCreateInfo info = {
            .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
            .maxSets = SETS_PER_POOL,
            .poolSizeCount = 2,
            .pPoolSizes = sizes,
        };
        VkDescriptorPool pool;
        if (vkCreateDescriptorPool(dev->device, &info, NULL, &pool) != VK_SUCCESS) {
            record_error(cmd, LW_ERR_VULKAN, "vkCreateDescriptorPool failed");
            return VK_NULL_HANDLE;
        }
        cmp_count_created(dev);
        cmd->descriptor_pools[cmd->pool_count++] = pool;
        cmd->sets_in_last_pool = 0;
    }
    VkDescriptorSetAllocateInfo alloc = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
        .descriptorPool = cmd->descriptor_pools[cmd->pool_count - 1],
        .descriptorSetCount = 1,
        .pSetLayouts = &kernel->set_layout,
    };
    VkDescriptorSet set = VK_NULL_HANDLE;
    if (vkAllocateDescriptorSets(dev->device, &alloc, &set) != VK_SUCCESS) {
        record_error(cmd, LW_ERR_VULKAN, "vkAllocateDescriptorSets failed");
        return VK_NULL_HANDLE;
    }
    cmd->sets_in_last_pool++;
    return set;
}

/* A texel view of `view` in `format`, kept by the command list until reset; VK_NULL_HANDLE (and the
 * error recorded) on failure. */
static VkBufferView texel_view_create(struct cmp_cmd *cmd, VkFormat format, struct cmp_view view) {
    struct cmp_device *dev = cmd->device;
    if (cmd->texel_view_count == cmd->texel_view_capacity &&
        !handles_grow(cmd, (void **)&cmd->texel_views, &cmd->texel_view_capacity,
                      sizeof *cmd->texel_views, 16, "texel views"))
        return VK_NULL_HANDLE;
    VkBufferViewCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
        .buffer = view.buffer->buffer,
        .format = format,
        .offset = view.offset,
        .range = view.bytes,
    };
    VkBufferView texel_view;
    if (vkCreateBufferView(dev->device, &info, NULL, &texel_view) != VK_SUCCESS) {
        record_error(cmd, LW_ERR_VULKAN, "vkCreateBufferView failed");
        return VK_NULL_HANDLE;
    }
    cmp_count_created(dev);
    cmd->texel_views[cmd->texel_view_count++] = texel_view;
    return texel_view;
}

static bool bindings_valid(struct cmp_cmd *cmd, struct cmp_kernel *kernel,
                           const struct cmp_view *bindings, uint32_t count) {
    const struct cmp_device_info *info = &cmd->device->info;
    char                          message[256];
    if (count < kernel->texel_count) {
        snprintf(message, sizeof message, "kernel %s: %u bindings given, it reads %u texel buffers",
                 cmp_kernel_name(kernel->id), count, kernel->texel_count);
        record_error(cmd, LW_ERR_ARGUMENT, message);
        return false;
    }
    for (uint32_t i = 0; i < count; i++) {
        const struct cmp_view *v = &bindings[i];
        const char            *problem = NULL;
        if (!v->buffer) problem = "has no buffer";
        else if (v->bytes == 0 || v->offset + v->bytes > v->buffer->bytes)
            problem = "lies outside its buffer";
        else if (i < kernel->texel_count) {
            if (v->offset % info->min_texel_offset_alignment)
                problem =
                    "starts at an offset that is not a multiple of the texel-buffer alignment";
            else if (v->bytes % kernel->texel_bytes[i])
                problem = "is not a whole number of texels";
            else if (v->bytes / kernel->texel_bytes[i] > info->max_texel_elements)
                problem = "has more texels than the device's maxTexelBufferElements";
        } else if (v->offset % info->min_storage_offset_alignment)
            problem = "starts at an offset that is not a multiple of the storage alignment";
        else if (v->bytes > info->max_storage_buffer_range)
            problem = "is larger than the device's maxStorageBufferRange";
        if (problem) {
            snprintf(message, sizeof message, "kernel %s: binding %u (offset %llu, %llu bytes) %s",
                     cmp_kernel_name(kernel->id), i, (unsigned long long)v->offset,
                     (unsigned long long)v->bytes, problem);
            record_error(cmd, LW_ERR_ARGUMENT, message);
            return false;
        }
    }
    return true;
}

void cmp_cmd_dispatch(struct cmp_cmd *cmd, struct cmp_kernel *kernel, const struct cmp_view *bindings,
                      uint32_t binding_count, const void *push, uint32_t push_bytes,
                      uint32_t groups_x, uint32_t groups_y, uint32_t groups_z) {
    LW_ASSERT(kernel && binding_count <= CMP_MAX_BINDINGS && push_bytes <= CMP_MAX_PUSH_BYTES);
    LW_ASSERT(push_bytes % 4 == 0 && (push || push_bytes == 0));
    if (groups_x == 0 || groups_y == 0 || groups_z == 0) return; /* nothing to do */
    const uint32_t *max_groups = cmd->device->info.max_workgroup_count;
    if (groups_x > max_groups[0] || groups_y > max_groups[1] || groups_z > max_groups[2]) {
        char message[200];
        snprintf(message, sizeof message, "kernel %s: %u×%u×%u workgroups exceed the device limit",
                 cmp_kernel_name(kernel->id), groups_x, groups_y, groups_z);
        record_error(cmd, LW_ERR_TOO_LARGE, message);
        return;
    }
    if (!bindings_valid(cmd, kernel, bindings, binding_count) || !command_begin(cmd)) return;
    VkDescriptorSet set = descriptor_set_allocate(cmd, kernel);
    if (!set) return;
    VkDescriptorBufferInfo infos[CMP_MAX_BINDINGS];
    VkBufferView           views[CMP_MAX_TEXELS];
    VkWriteDescriptorSet   writes[CMP_MAX_BINDINGS];
    for (uint32_t i = 0; i < binding_count; i++) {
        writes[i] = (VkWriteDescriptorSet){
            .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
            .dstSet = set,
            .dstBinding = i,
            .descriptorCount = 1,
        };
        if (i < kernel->texel_count) {
            if (!(views[i] = texel_view_create(cmd, kernel->texel_formats[i], bindings[i]))) return;
            writes[i].descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
            writes[i].pTexelBufferView = &views[i];
            continue;
        }
        infos[i] = (VkDescriptorBufferInfo){
            .buffer = bindings[i].buffer->buffer,
            .offset = bindings[i].offset,
            .range = bindings[i].bytes,
        };
        writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        writes[i].pBufferInfo = &infos[i];
    }
    vkUpdateDescriptorSets(cmd->device->device, binding_count, writes, 0, NULL);
    vkCmdBindPipeline(cmd->buffer, VK_PIPELINE_BIND_POINT_COMPUTE, kernel->pipeline);
    vkCmdBindDescriptorSets(cmd->buffer, VK_PIPELINE_BIND_POINT_COMPUTE, kernel->pipeline_layout, 0,
                            1, &set, 0, NULL);
    if (push_bytes)
        vkCmdPushConstants(cmd->buffer, kernel->pipeline_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0,
                           push_bytes, push);
    bool timed = cmd->query_pool && cmd->timed_count < MAX_TIMESTAMPS / 2;
    if (timed)
        vkCmdWriteTimestamp(cmd->buffer, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, cmd->query_pool,
                            2 * cmd->timed_count);
    vkCmdDispatch(cmd->buffer, groups_x, groups_y, groups_z);
    if (timed) {
        vkCmdWriteTimestamp(cmd->buffer, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, cmd->query_pool,
                            2 * cmd->timed_count + 1);
        cmd->timed_kernels[cmd->timed_count++] = kernel->id;
    }
    cmd->dispatch_count++;
    cmd->last_kernel = kernel->id;
}

static bool view_valid(struct cmp_cmd *cmd, struct cmp_view v, const char *what) {
    if (v.buffer && v.offset + v.bytes <= v.buffer->bytes && v.offset % 4 == 0 && v.bytes % 4 == 0)
        return true;
    char message[160];
    snprintf(message, sizeof message, "%s: view (offset %llu, %llu bytes) invalid", what,
             (unsigned long long)v.offset, (unsigned long long)v.bytes);
    record_error(cmd, LW_ERR_ARGUMENT, message);
    return false;
}

void cmp_cmd_copy(struct cmp_cmd *cmd, struct cmp_view src, struct cmp_view dst) {
    if (src.bytes == 0) return;
    if (dst.bytes < src.bytes) {
        record_error(cmd, LW_ERR_ARGUMENT, "cmp_cmd_copy: destination smaller than source");
        return;
    }
    if (!view_valid(cmd, src, "cmp_cmd_copy source") || !view_valid(cmd, dst, "cmp_cmd_copy destination") ||
        !command_begin(cmd))
        return;
    VkBufferCopy region = {.srcOffset = src.offset, .dstOffset = dst.offset, .size = src.bytes};
    vkCmdCopyBuffer(cmd->buffer, src.buffer->buffer, dst.buffer->buffer, 1, &region);
}

void cmp_cmd_fill(struct cmp_cmd *cmd, struct cmp_view dst, uint32_t word) {
    if (dst.bytes == 0) return;
    if (!view_valid(cmd, dst, "cmp_cmd_fill") || !command_begin(cmd)) return;
    vkCmdFillBuffer(cmd->buffer, dst.buffer->buffer, dst.offset, dst.bytes, word);
}

static void profile_collect(struct cmp_cmd *cmd) {
    if (!cmd->query_pool || cmd->timed_count == 0) return;
    uint64_t *stamps = malloc(2 * cmd->timed_count * sizeof *stamps);
    if (!stamps) return;
    if (vkGetQueryPoolResults(cmd->device->device, cmd->query_pool, 0, 2 * cmd->timed_count,
                              2 * cmd->timed_count * sizeof *stamps, stamps, sizeof *stamps,
                              VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT) == VK_SUCCESS) {
        double period = cmd->device->info.timestamp_period_ns;
        for (uint32_t i = 0; i < cmd->timed_count; i++) {
            struct cmp_profile_entry *e = &cmd->device->profile_table[cmd->timed_kernels[i]];
            e->total_ms += (double)(stamps[2 * i + 1] - stamps[2 * i]) * period * 1e-6;
            e->count++;
        }
    }
    free(stamps);
}

enum lw_status cmp_cmd_submit(struct cmp_cmd *cmd, struct lw_error *err) {
    struct cmp_device *dev = cmd->device;
    enum lw_status     status = LW_OK;
    if (cmd->error != LW_OK) return lw_error_set(err, cmd->error, "%s", cmd->error_message);
    if (!cmd->recording && !cmd->ended) return LW_OK; /* nothing recorded */
    if (cmd->recording) {
        VK_TRY(dev, vkEndCommandBuffer(cmd->buffer));
        cmd->recording = false;
        cmd->ended = true;
    }
    VkSubmitInfo submit = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .commandBufferCount = 1,
        .pCommandBuffers = &cmd->buffer,
    };
    if ((status = cmp_submit_check(dev, err)) != LW_OK) goto cleanup;
    VK_TRY(dev, vkQueueSubmit(dev->queue, 1, &submit, cmd->fence));
    VK_TRY(dev, vkWaitForFences(dev->device, 1, &cmd->fence, VK_TRUE, UINT64_MAX));
    VK_TRY(dev, vkResetFences(dev->device, 1, &cmd->fence));
    profile_collect(cmd);
cleanup:
    return status;
}

VkCommandBuffer cmp_cmd_vk_begin(struct cmp_cmd *cmd) {
    return command_begin(cmd) ? cmd->buffer : VK_NULL_HANDLE;
}

void cmp_cmd_set_error(struct cmp_cmd *cmd, enum lw_status status, const char *message) {
    record_error(cmd, status, message);
}

uint32_t cmp_cmd_dispatch_count(const struct cmp_cmd *cmd) {
    return cmd->dispatch_count;
}

enum cmp_kernel_id cmp_cmd_last_kernel(const struct cmp_cmd *cmd) {
    return cmd->dispatch_count ? cmd->last_kernel : CMP_KERNEL_COUNT;
}
