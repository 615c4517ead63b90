/* Device buffers, views, the staging path for uploads and read-backs, and lifetime arenas.
 *
 * Every buffer owns one VkDeviceMemory; arenas keep the number of allocations small by carving
 * many views out of large blocks (style.md §4.6). Uploads to memory the host cannot map go through
 * one host-visible staging buffer per device, in chunks, synchronously. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define STAGING_BYTES (16u << 20)
#define ARENA_ALIGN 256u

enum lw_status cmp_buffer_create(struct cmp_device *dev, uint64_t bytes, enum cmp_memory memory,
                                 struct cmp_buffer **out, struct lw_error *err) {
    *out = NULL;
    if (bytes == 0) return lw_error_set(err, LW_ERR_ARGUMENT, "buffer of 0 bytes requested");
    if (dev->info.max_allocation_bytes && bytes > dev->info.max_allocation_bytes)
        return lw_error_set(err, LW_ERR_TOO_LARGE,
                            "buffer of %llu bytes exceeds the device's largest allocation (%llu)",
                            (unsigned long long)bytes,
                            (unsigned long long)dev->info.max_allocation_bytes);
    dev->allocation_count++;
    if (dev->fail_allocation_at && dev->allocation_count >= dev->fail_allocation_at)
        return lw_error_set(err, LW_ERR_DEVICE_MEMORY,
                            "out of device memory allocating %llu bytes (injected failure at "
                            "allocation %u)",
                            (unsigned long long)bytes, dev->allocation_count);

    enum lw_status     status = LW_OK;
    struct cmp_buffer *buf = calloc(1, sizeof *buf);
    if (!buf) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    buf->device = dev;
    buf->bytes = bytes;
    buf->memory_kind = memory;

    VkBufferCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = bytes,
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT |
                 VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    VK_TRY(dev, vkCreateBuffer(dev->device, &info, NULL, &buf->buffer));
    cmp_count_created(dev);
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(dev->device, buf->buffer, &req);
    uint32_t type = memory == CMP_MEMORY_HOST ? dev->host_memory_type : dev->device_memory_type;
    if (!(req.memoryTypeBits & (1u << type))) {
        status = lw_error_set(err, LW_ERR_VULKAN, "no compatible memory type for a buffer");
        goto cleanup;
    }
    VkMemoryAllocateInfo alloc = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .allocationSize = req.size,
        .memoryTypeIndex = type,
    };
    VkResult result = vkAllocateMemory(dev->device, &alloc, NULL, &buf->memory);
    if (result != VK_SUCCESS) {
        status = cmp_vk_status(dev, result, "vkAllocateMemory", err);
        /* what was needed and what there was: the request, ours already, the heap */
        uint64_t heap = memory == CMP_MEMORY_HOST ? dev->info.host_visible_bytes : dev->info.device_local_bytes;
        lw_error_prefix(err, "allocating %llu bytes (lorweb already holds %llu of the heap's %llu): ",
                        (unsigned long long)bytes, (unsigned long long)dev->allocated_bytes,
                        (unsigned long long)heap);
        goto cleanup;
    }
    cmp_count_created(dev);
    VK_TRY(dev, vkBindBufferMemory(dev->device, buf->buffer, buf->memory, 0));
    bool mappable = memory == CMP_MEMORY_HOST || dev->device_memory_mappable;
    if (mappable) VK_TRY(dev, vkMapMemory(dev->device, buf->memory, 0, VK_WHOLE_SIZE, 0, &buf->mapped));
    dev->allocated_bytes += bytes;
    if (dev->allocated_bytes > dev->peak_bytes) dev->peak_bytes = dev->allocated_bytes;
    *out = buf;
    return LW_OK;
cleanup:
    buf->bytes = 0; /* nothing was counted in allocated_bytes */
    cmp_buffer_destroy(buf);
    return status;
}

void cmp_buffer_destroy(struct cmp_buffer *buf) {
    if (!buf) return;
    struct cmp_device *dev = buf->device;
    if (buf->buffer) {
        vkDestroyBuffer(dev->device, buf->buffer, NULL);
        cmp_count_destroyed(dev);
    }
    if (buf->memory) {
        vkFreeMemory(dev->device, buf->memory, NULL);
        cmp_count_destroyed(dev);
        dev->allocated_bytes -= buf->bytes;
    }
    free(buf);
}

struct cmp_view cmp_buffer_view(struct cmp_buffer *buf) {
    return (struct cmp_view){.buffer = buf, .offset = 0, .bytes = buf->bytes};
}

struct cmp_device *cmp_buffer_device(const struct cmp_buffer *buf) {
    return buf->device;
}

uint64_t cmp_buffer_bytes(const struct cmp_buffer *buf) {
    return buf->bytes;
}

VkBuffer cmp_buffer_vk(const struct cmp_buffer *buf) {
    return buf->buffer;
}

void *cmp_buffer_map(struct cmp_buffer *buf) {
    return buf->mapped;
}

struct cmp_view cmp_view_slice(struct cmp_view view, uint64_t offset, uint64_t bytes) {
    LW_ASSERT(offset + bytes <= view.bytes);
    return (struct cmp_view){.buffer = view.buffer, .offset = view.offset + offset, .bytes = bytes};
}

enum lw_status cmp_transfer_begin(struct cmp_device *dev, struct lw_error *err) {
    enum lw_status           status = LW_OK;
    VkCommandBufferBeginInfo begin = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    VK_TRY(dev, vkResetCommandBuffer(dev->transfer_cmd, 0));
    VK_TRY(dev, vkBeginCommandBuffer(dev->transfer_cmd, &begin));
cleanup:
    return status;
}

enum lw_status cmp_transfer_submit(struct cmp_device *dev, struct lw_error *err) {
    enum lw_status status = LW_OK;
    VK_TRY(dev, vkEndCommandBuffer(dev->transfer_cmd));
    VkSubmitInfo submit = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .commandBufferCount = 1,
        .pCommandBuffers = &dev->transfer_cmd,
    };
    if ((status = cmp_submit_check(dev, err)) != LW_OK) goto cleanup;
    VK_TRY(dev, vkQueueSubmit(dev->queue, 1, &submit, dev->transfer_fence));
    VK_TRY(dev, vkWaitForFences(dev->device, 1, &dev->transfer_fence, VK_TRUE, UINT64_MAX));
    VK_TRY(dev, vkResetFences(dev->device, 1, &dev->transfer_fence));
cleanup:
    return status;
}

static enum lw_status staging_get(struct cmp_device *dev, struct lw_error *err) {
    if (dev->staging) return LW_OK;
    return cmp_buffer_create(dev, STAGING_BYTES, CMP_MEMORY_HOST, &dev->staging, err);
}

/* Copies between a view and host memory through the staging buffer, chunk by chunk. */
static enum lw_status staged_copy(struct cmp_view view, void *host, uint64_t bytes, bool upload,
                                  struct lw_error *err) {
    struct cmp_device *dev = view.buffer->device;
    enum lw_status     status = staging_get(dev, err);
    if (status != LW_OK) return status;
    for (uint64_t done = 0; done < bytes; done += STAGING_BYTES) {
        uint64_t     chunk = bytes - done < STAGING_BYTES ? bytes - done : STAGING_BYTES;
        VkBufferCopy region = {.size = chunk};
        if (upload) memcpy(dev->staging->mapped, (char *)host + done, chunk);
        status = cmp_transfer_begin(dev, err);
        if (status != LW_OK) return status;
        if (upload) {
            region.dstOffset = view.offset + done;
            vkCmdCopyBuffer(dev->transfer_cmd, dev->staging->buffer, view.buffer->buffer, 1, &region);
        } else {
            region.srcOffset = view.offset + done;
            vkCmdCopyBuffer(dev->transfer_cmd, view.buffer->buffer, dev->staging->buffer, 1, &region);
        }
        status = cmp_transfer_submit(dev, err);
        if (status != LW_OK) return status;
        if (!upload) memcpy((char *)host + done, dev->staging->mapped, chunk);
    }
    return LW_OK;
}

enum lw_status cmp_view_upload(struct cmp_view dst, const void *src, uint64_t bytes,
                               struct lw_error *err) {
    if (bytes > dst.bytes)
        return lw_error_set(err, LW_ERR_ARGUMENT, "upload of %llu bytes into a view of %llu",
                            (unsigned long long)bytes, (unsigned long long)dst.bytes);
    if (dst.buffer->mapped) {
        /* The device may still be reading this memory from an earlier submission. */
        vkQueueWaitIdle(dst.buffer->device->queue);
        memcpy((char *)dst.buffer->mapped + dst.offset, src, bytes);
        return LW_OK;
    }
    return staged_copy(dst, (void *)src, bytes, true, err);
}

enum lw_status cmp_view_download(struct cmp_view src, void *dst, uint64_t bytes,
                                 struct lw_error *err) {
    if (bytes > src.bytes)
        return lw_error_set(err, LW_ERR_ARGUMENT, "download of %llu bytes from a view of %llu",
                            (unsigned long long)bytes, (unsigned long long)src.bytes);
    if (src.buffer->mapped) {
        vkQueueWaitIdle(src.buffer->device->queue);
        memcpy(dst, (char *)src.buffer->mapped + src.offset, bytes);
        return LW_OK;
    }
    return staged_copy(src, dst, bytes, false, err);
}

/* ---------------------------------------------------------------------------------------------- */

struct arena_block {
    struct cmp_buffer *buffer;
    uint64_t           used;
};

struct cmp_arena {
    struct cmp_device  *device;
    enum cmp_memory     memory;
    uint64_t            block_bytes;
    struct arena_block *blocks;
    uint32_t            count, capacity;
    uint64_t            used_bytes;
};

enum lw_status cmp_arena_create(struct cmp_device *dev, enum cmp_memory memory,
                                uint64_t block_bytes, struct cmp_arena **out, struct lw_error *err) {
    *out = NULL;
    struct cmp_arena *arena = calloc(1, sizeof *arena);
    if (!arena) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    uint64_t limit = dev->info.max_storage_buffer_range;
    if (dev->info.max_allocation_bytes && dev->info.max_allocation_bytes < limit)
        limit = dev->info.max_allocation_bytes;
    if (block_bytes == 0) block_bytes = 256ull << 20;
    if (limit && block_bytes > limit) block_bytes = limit & ~(uint64_t)(ARENA_ALIGN - 1);
    arena->device = dev;
    arena->memory = memory;
    arena->block_bytes = block_bytes;
    *out = arena;
    return LW_OK;
}

void cmp_arena_destroy(struct cmp_arena *arena) {
    if (!arena) return;
    for (uint32_t i = 0; i < arena->count; i++) cmp_buffer_destroy(arena->blocks[i].buffer);
    free(arena->blocks);
    free(arena);
}

enum lw_status cmp_arena_alloc(struct cmp_arena *arena, uint64_t bytes, struct cmp_view *out,
                               struct lw_error *err) {
    if (bytes == 0) bytes = 4;
    uint64_t rounded = (bytes + ARENA_ALIGN - 1) & ~(uint64_t)(ARENA_ALIGN - 1);
    for (uint32_t i = 0; i < arena->count; i++) {
        struct arena_block *b = &arena->blocks[i];
        if (b->buffer->bytes - b->used >= rounded) {
            *out = (struct cmp_view){.buffer = b->buffer, .offset = b->used, .bytes = bytes};
            b->used += rounded;
            arena->used_bytes += rounded;
            return LW_OK;
        }
    }
    if (arena->count == arena->capacity) {
        uint32_t            capacity = arena->capacity ? 2 * arena->capacity : 8;
        struct arena_block *blocks = realloc(arena->blocks, capacity * sizeof *blocks);
        if (!blocks) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
        arena->blocks = blocks;
        arena->capacity = capacity;
    }
    uint64_t           size = rounded > arena->block_bytes ? rounded : arena->block_bytes;
    struct cmp_buffer *buffer = NULL;
    enum lw_status     status = cmp_buffer_create(arena->device, size, arena->memory, &buffer, err);
    if (status != LW_OK) return status;
    arena->blocks[arena->count++] = (struct arena_block){.buffer = buffer, .used = rounded};
    arena->used_bytes += rounded;
    *out = (struct cmp_view){.buffer = buffer, .offset = 0, .bytes = bytes};
    return LW_OK;
}

void cmp_arena_reset(struct cmp_arena *arena) {
    for (uint32_t i = 0; i < arena->count; i++) arena->blocks[i].used = 0;
    arena->used_bytes = 0;
}

uint64_t cmp_arena_used_bytes(const struct cmp_arena *arena) {
    return arena->used_bytes;
}
