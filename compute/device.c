/* Vulkan instance and device: enumeration, choice, features, and the shared pipeline layout.
 *
 * One compute queue, one descriptor-set layout (CMP_MAX_BINDINGS storage buffers) and one pipeline
 * layout (CMP_MAX_PUSH_BYTES of push constants) serve every kernel, so model code never sees Vk*
 * types and kernels stay interchangeable (style.md §4.2, §4.7). It is not a general Vulkan wrapper:
 * no graphics, no presentation, no multi-queue. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *cmp_vk_result_str(VkResult result) {
    switch (result) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_NOT_READY: return "VK_NOT_READY";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    case VK_INCOMPLETE: return "VK_INCOMPLETE";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_FORMAT_NOT_SUPPORTED: return "VK_ERROR_FORMAT_NOT_SUPPORTED";
    case VK_ERROR_FRAGMENTED_POOL: return "VK_ERROR_FRAGMENTED_POOL";
    case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
    case VK_ERROR_INVALID_SHADER_NV: return "VK_ERROR_INVALID_SHADER_NV";
    default: return "VK_ERROR_UNKNOWN";
    }
}

bool cmp_device_lost(const struct cmp_device *device) {
    return device && device->lost;
}

enum lw_status cmp_submit_check(struct cmp_device *dev, struct lw_error *err) {
    if (!dev->lost && dev->lose_device_at && ++dev->submit_count >= dev->lose_device_at) dev->lost = true;
    if (!dev->lost) return LW_OK;
    return lw_error_set(err, LW_ERR_DEVICE_LOST, "vkQueueSubmit failed: VK_ERROR_DEVICE_LOST%s",
                        dev->lose_device_at ? " (simulated)" : "");
}

enum lw_status cmp_vk_status(struct cmp_device *device, VkResult result, const char *call,
                             struct lw_error *err) {
    enum lw_status status = LW_ERR_VULKAN;
    if (result == VK_ERROR_OUT_OF_DEVICE_MEMORY) status = LW_ERR_DEVICE_MEMORY;
    else if (result == VK_ERROR_OUT_OF_HOST_MEMORY) status = LW_ERR_HOST_MEMORY;
    else if (result == VK_ERROR_DEVICE_LOST) {
        status = LW_ERR_DEVICE_LOST;
        if (device) device->lost = true;
    }
    else if (result == VK_ERROR_INCOMPATIBLE_DRIVER || result == VK_ERROR_INITIALIZATION_FAILED)
        status = device ? LW_ERR_VULKAN : LW_ERR_NO_VULKAN;
    /* Keep the call readable: strip the argument list. */
    char        name[128];
    const char *paren = strchr(call, '(');
    size_t      len = paren ? (size_t)(paren - call) : strlen(call);
    if (len >= sizeof name) len = sizeof name - 1;
    memcpy(name, call, len);
    name[len] = '\0';
    return lw_error_set(err, status, "%s failed: %s", name, cmp_vk_result_str(result));
}

static enum lw_status instance_create(VkInstance *out, struct lw_error *err) {
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "lorweb",
        .applicationVersion = 1,
        .pEngineName = "lorweb",
        .engineVersion = 1,
        .apiVersion = VK_API_VERSION_1_2,
    };
    VkInstanceCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pApplicationInfo = &app,
    };
    VkResult result = vkCreateInstance(&info, NULL, out);
    if (result != VK_SUCCESS)
        return lw_error_set(err, LW_ERR_NO_VULKAN,
                            "cannot initialise Vulkan (vkCreateInstance: %s): is a Vulkan driver "
                            "installed (e.g. mesa-vulkan-drivers)?",
                            cmp_vk_result_str(result));
    return LW_OK;
}

static bool has_extension(VkPhysicalDevice physical, const char *name) {
    uint32_t count = 0;
    vkEnumerateDeviceExtensionProperties(physical, NULL, &count, NULL);
    VkExtensionProperties *props = calloc(count ? count : 1, sizeof *props);
    if (!props) return false;
    vkEnumerateDeviceExtensionProperties(physical, NULL, &count, props);
    bool found = false;
    for (uint32_t i = 0; i < count && !found; i++)
        found = strcmp(props[i].extensionName, name) == 0;
    free(props);
    return found;
}

static enum cmp_device_type map_type(VkPhysicalDeviceType type) {
    switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return CMP_DEVICE_INTEGRATED;
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return CMP_DEVICE_DISCRETE;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return CMP_DEVICE_VIRTUAL;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return CMP_DEVICE_CPU;
    default: return CMP_DEVICE_OTHER;
    }
}

static void describe(VkPhysicalDevice physical, struct cmp_device_info *info) {
    memset(info, 0, sizeof *info);
    VkPhysicalDeviceDriverProperties driver = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceSubgroupProperties subgroup = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES, .pNext = &driver};
    VkPhysicalDeviceProperties2 props = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                         .pNext = &subgroup};
    vkGetPhysicalDeviceProperties2(physical, &props);
    const VkPhysicalDeviceProperties *p = &props.properties;
    snprintf(info->name, sizeof info->name, "%s", p->deviceName);
    snprintf(info->driver_name, sizeof info->driver_name, "%s", driver.driverName);
    snprintf(info->driver_info, sizeof info->driver_info, "%s", driver.driverInfo);
    info->type = map_type(p->deviceType);
    info->vendor_id = p->vendorID;
    info->device_id = p->deviceID;
    info->driver_version = p->driverVersion;
    info->api_version = p->apiVersion;
    memcpy(info->pipeline_cache_uuid, p->pipelineCacheUUID, 16);
    info->subgroup_size = subgroup.subgroupSize;
    info->subgroup_arithmetic =
        (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) != 0;
    info->subgroup_shuffle = (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT) != 0;
    info->max_storage_buffer_range = p->limits.maxStorageBufferRange;
    info->min_storage_offset_alignment = p->limits.minStorageBufferOffsetAlignment;
    info->max_texel_elements = p->limits.maxTexelBufferElements;
    info->min_texel_offset_alignment = p->limits.minTexelBufferOffsetAlignment;
    info->max_shared_memory_bytes = p->limits.maxComputeSharedMemorySize;
    info->max_workgroup_invocations = p->limits.maxComputeWorkGroupInvocations;
    for (int i = 0; i < 3; i++) info->max_workgroup_count[i] = p->limits.maxComputeWorkGroupCount[i];
    info->max_push_constant_bytes = p->limits.maxPushConstantsSize;
    info->timestamp_period_ns = p->limits.timestampComputeAndGraphics ? p->limits.timestampPeriod : 0;

    VkPhysicalDeviceMaintenance3Properties m3 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
    VkPhysicalDeviceProperties2 props_m3 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                            .pNext = &m3};
    vkGetPhysicalDeviceProperties2(physical, &props_m3);
    info->max_allocation_bytes = m3.maxMemoryAllocationSize;

    VkPhysicalDeviceVulkan12Features f12 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    VkPhysicalDeviceVulkan11Features f11 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES, .pNext = &f12};
    VkPhysicalDeviceFeatures2 features = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
                                          .pNext = &f11};
    vkGetPhysicalDeviceFeatures2(physical, &features);
    info->float16_arithmetic = f12.shaderFloat16;
    info->int8_arithmetic = f12.shaderInt8;
    info->storage16 = f11.storageBuffer16BitAccess;
    info->storage8 = f12.storageBuffer8BitAccess;
    info->cooperative_matrix_nv = has_extension(physical, "VK_NV_cooperative_matrix");

    VkPhysicalDeviceMemoryProperties mem;
    vkGetPhysicalDeviceMemoryProperties(physical, &mem);
    info->heap_count = mem.memoryHeapCount < 16 ? mem.memoryHeapCount : 16;
    for (uint32_t i = 0; i < info->heap_count; i++) {
        info->heap_bytes[i] = mem.memoryHeaps[i].size;
        info->heap_device_local[i] = (mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT);
        if (info->heap_device_local[i]) info->device_local_bytes += mem.memoryHeaps[i].size;
    }
    for (uint32_t i = 0; i < mem.memoryTypeCount; i++) {
        VkMemoryPropertyFlags f = mem.memoryTypes[i].propertyFlags;
        uint64_t              heap = mem.memoryHeaps[mem.memoryTypes[i].heapIndex].size;
        if (f & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT && heap > info->host_visible_bytes)
            info->host_visible_bytes = heap;
        if ((f & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) && (f & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT))
            info->unified_memory = true;
    }
}

static enum lw_status physical_list(VkInstance instance, VkPhysicalDevice **out, uint32_t *count,
                                    struct lw_error *err) {
    *out = NULL;
    *count = 0;
    VkResult result = vkEnumeratePhysicalDevices(instance, count, NULL);
    if (result != VK_SUCCESS || *count == 0)
        return lw_error_set(err, LW_ERR_NO_DEVICE,
                            "no Vulkan device found (vkEnumeratePhysicalDevices: %s, %u devices)",
                            cmp_vk_result_str(result), *count);
    *out = calloc(*count, sizeof **out);
    if (!*out) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory listing devices");
    vkEnumeratePhysicalDevices(instance, count, *out);
    return LW_OK;
}

enum lw_status cmp_device_list(struct cmp_device_info *out, uint32_t max, uint32_t *count,
                               struct lw_error *err) {
    VkInstance       instance = VK_NULL_HANDLE;
    VkPhysicalDevice *physical = NULL;
    *count = 0;
    enum lw_status status = instance_create(&instance, err);
    if (status != LW_OK) return status;
    status = physical_list(instance, &physical, count, err);
    for (uint32_t i = 0; status == LW_OK && i < *count && i < max; i++) describe(physical[i], &out[i]);
    free(physical);
    vkDestroyInstance(instance, NULL);
    return status;
}

static int type_rank(enum cmp_device_type type) {
    switch (type) {
    case CMP_DEVICE_DISCRETE: return 4;
    case CMP_DEVICE_INTEGRATED: return 3;
    case CMP_DEVICE_VIRTUAL: return 2;
    case CMP_DEVICE_CPU: return 1;
    default: return 0;
    }
}

static bool name_matches(const char *name, const char *pattern) {
    size_t n = strlen(name), m = strlen(pattern);
    for (size_t i = 0; i + m <= n; i++) {
        size_t j = 0;
        while (j < m && tolower((unsigned char)name[i + j]) == tolower((unsigned char)pattern[j]))
            j++;
        if (j == m) return true;
    }
    return false;
}

/* Picks the device index: by LORWEB_DEVICE-style selector or by rank, then device-local memory. */
static enum lw_status choose(const struct cmp_device_info *infos, uint32_t count, const char *select,
                             uint32_t *chosen, struct lw_error *err) {
    if (select && *select) {
        char *end = NULL;
        long  index = strtol(select, &end, 10);
        if (end && *end == '\0') {
            if (index < 0 || (uint32_t)index >= count)
                return lw_error_set(err, LW_ERR_NO_DEVICE,
                                    "device index %ld out of range (%u devices; see `lorweb device`)",
                                    index, count);
            *chosen = (uint32_t)index;
            return LW_OK;
        }
        for (uint32_t i = 0; i < count; i++)
            if (name_matches(infos[i].name, select)) {
                *chosen = i;
                return LW_OK;
            }
        return lw_error_set(err, LW_ERR_NO_DEVICE,
                            "no Vulkan device name contains '%s' (see `lorweb device`)", select);
    }
    uint32_t best = 0;
    for (uint32_t i = 1; i < count; i++) {
        int r = type_rank(infos[i].type), rb = type_rank(infos[best].type);
        if (r > rb || (r == rb && infos[i].device_local_bytes > infos[best].device_local_bytes))
            best = i;
    }
    *chosen = best;
    return LW_OK;
}

static uint32_t find_memory_type(const VkPhysicalDeviceMemoryProperties *mem,
                                 VkMemoryPropertyFlags want, VkMemoryPropertyFlags prefer) {
    uint32_t fallback = UINT32_MAX;
    for (uint32_t i = 0; i < mem->memoryTypeCount; i++) {
        VkMemoryPropertyFlags f = mem->memoryTypes[i].propertyFlags;
        if ((f & want) != want) continue;
        if ((f & prefer) == prefer) return i;
        if (fallback == UINT32_MAX) fallback = i;
    }
    return fallback;
}

static enum lw_status logical_create(struct cmp_device *dev, struct lw_error *err) {
    enum lw_status status = LW_OK;
    uint32_t       family_count = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(dev->physical, &family_count, NULL);
    VkQueueFamilyProperties families[16];
    if (family_count > 16) family_count = 16;
    vkGetPhysicalDeviceQueueFamilyProperties(dev->physical, &family_count, families);
    dev->queue_family = UINT32_MAX;
    for (uint32_t i = 0; i < family_count; i++) /* prefer a compute-only family */
        if ((families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) &&
            (dev->queue_family == UINT32_MAX || !(families[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)))
            dev->queue_family = i;
    if (dev->queue_family == UINT32_MAX)
        return lw_error_set(err, LW_ERR_NO_DEVICE, "device %s has no compute queue", dev->info.name);
    if (families[dev->queue_family].timestampValidBits == 0) dev->info.timestamp_period_ns = 0;

    float                   priority = 1.0f;
    VkDeviceQueueCreateInfo queue = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
        .queueFamilyIndex = dev->queue_family,
        .queueCount = 1,
        .pQueuePriorities = &priority,
    };
    VkPhysicalDeviceVulkan12Features f12 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
        .shaderFloat16 = dev->info.float16_arithmetic,
        .shaderInt8 = dev->info.int8_arithmetic,
        .storageBuffer8BitAccess = dev->info.storage8,
    };
    VkPhysicalDeviceVulkan11Features f11 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
        .pNext = &f12,
        .storageBuffer16BitAccess = dev->info.storage16,
    };
    VkPhysicalDeviceFeatures supported;
    vkGetPhysicalDeviceFeatures(dev->physical, &supported);
    VkPhysicalDeviceFeatures2 features = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
        .pNext = &f11,
        .features = {.shaderInt16 = supported.shaderInt16, .shaderInt64 = supported.shaderInt64},
    };
    VkDeviceCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .pNext = &features,
        .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &queue,
    };
    VK_TRY(dev, vkCreateDevice(dev->physical, &info, NULL, &dev->device));
    vkGetDeviceQueue(dev->device, dev->queue_family, 0, &dev->queue);

    VkDescriptorSetLayout set_layout;
    VkPipelineLayout      pipeline_layout;
    if ((status = cmp_layouts_get(dev, 0, &set_layout, &pipeline_layout, err)) != LW_OK)
        goto cleanup;

    VkCommandPoolCreateInfo pool_info = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
        .queueFamilyIndex = dev->queue_family,
    };
    VK_TRY(dev, vkCreateCommandPool(dev->device, &pool_info, NULL, &dev->transfer_pool));
    VkCommandBufferAllocateInfo alloc = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = dev->transfer_pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    VK_TRY(dev, vkAllocateCommandBuffers(dev->device, &alloc, &dev->transfer_cmd));
    VkFenceCreateInfo fence_info = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VK_TRY(dev, vkCreateFence(dev->device, &fence_info, NULL, &dev->transfer_fence));
cleanup:
    return status;
}

enum lw_status cmp_device_create(const struct cmp_device_options *options, struct cmp_device **out,
                                 struct lw_error *err) {
    struct cmp_device_options defaults = {0};
    if (!options) options = &defaults;
    *out = NULL;
    struct cmp_device *dev = calloc(1, sizeof *dev);
    if (!dev) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory creating a device");
    VkPhysicalDevice      *physical = NULL;
    struct cmp_device_info *infos = NULL;
    uint32_t               count = 0, chosen = 0;

    enum lw_status status = instance_create(&dev->instance, err);
    if (status != LW_OK) goto fail;
    status = physical_list(dev->instance, &physical, &count, err);
    if (status != LW_OK) goto fail;
    infos = calloc(count, sizeof *infos);
    if (!infos) {
        status = lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory listing devices");
        goto fail;
    }
    for (uint32_t i = 0; i < count; i++) describe(physical[i], &infos[i]);
    const char *select = options->select ? options->select : getenv("LORWEB_DEVICE");
    status = choose(infos, count, select, &chosen, err);
    if (status != LW_OK) goto fail;
    dev->physical = physical[chosen];
    dev->info = infos[chosen];
    if (!dev->info.storage16) {
        status = lw_error_set(err, LW_ERR_NO_DEVICE,
                              "device %s lacks storageBuffer16BitAccess, which our kernels need",
                              dev->info.name);
        goto fail;
    }
    vkGetPhysicalDeviceMemoryProperties(dev->physical, &dev->memory_properties);
    dev->device_memory_type = find_memory_type(
        &dev->memory_properties, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT);
    dev->host_memory_type = find_memory_type(
        &dev->memory_properties, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
        VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    if (dev->device_memory_type == UINT32_MAX) dev->device_memory_type = dev->host_memory_type;
    if (dev->host_memory_type == UINT32_MAX) {
        status = lw_error_set(err, LW_ERR_NO_DEVICE, "device %s has no host-visible memory",
                              dev->info.name);
        goto fail;
    }
    VkMemoryPropertyFlags device_flags =
        dev->memory_properties.memoryTypes[dev->device_memory_type].propertyFlags;
    dev->device_memory_mappable = (device_flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) &&
                                  (device_flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
    dev->fail_allocation_at = options->fail_allocation_at;
    dev->lose_device_at = options->lose_device_at;
    const char *lose = getenv("LORWEB_FAULT_LOSE_DEVICE_AT");
    if (!dev->lose_device_at && lose) dev->lose_device_at = (uint32_t)strtoul(lose, NULL, 10);
    if (options->storage_range_limit && options->storage_range_limit < dev->info.max_storage_buffer_range)
        dev->info.max_storage_buffer_range = options->storage_range_limit;
    if (options->no_texel_buffers) dev->info.max_texel_elements = 0;
    const char *profile = getenv("LORWEB_PROFILE");
    dev->profile = options->profile || (profile && *profile && strcmp(profile, "0") != 0);
    if (dev->info.timestamp_period_ns == 0) dev->profile = false;

    status = logical_create(dev, err);
    if (status != LW_OK) goto fail;
    if (!options->cache_dir || *options->cache_dir) {
        const char *dir = options->cache_dir;
        const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
        if (dir) snprintf(dev->cache_path, sizeof dev->cache_path, "%s/pipeline-cache.bin", dir);
        else if (xdg && *xdg)
            snprintf(dev->cache_path, sizeof dev->cache_path, "%s/lorweb/pipeline-cache.bin", xdg);
        else if (home && *home)
            snprintf(dev->cache_path, sizeof dev->cache_path, "%s/.cache/lorweb/pipeline-cache.bin",
                     home);
    }
    cmp_pipeline_cache_load(dev);
    if (!dev->pipeline_cache) {
        status = lw_error_set(err, LW_ERR_VULKAN, "vkCreatePipelineCache failed");
        goto fail;
    }
    free(physical);
    free(infos);
    *out = dev;
    return LW_OK;
fail:
    free(physical);
    free(infos);
    cmp_device_destroy(dev);
    return status;
}

static void profile_print(struct cmp_device *dev) {
    double total = 0;
    for (int i = 0; i < CMP_KERNEL_COUNT; i++) total += dev->profile_table[i].total_ms;
    if (total <= 0) return;
    fprintf(stderr, "lorweb profile (%s): %.3f ms in kernels\n", dev->info.name, total);
    fprintf(stderr, "  %-24s %10s %12s %8s\n", "kernel", "calls", "total ms", "share");
    for (int i = 0; i < CMP_KERNEL_COUNT; i++) {
        const struct cmp_profile_entry *e = &dev->profile_table[i];
        if (!e->count) continue;
        fprintf(stderr, "  %-24s %10llu %12.3f %7.1f%%\n", cmp_kernel_sources[i].name,
                (unsigned long long)e->count, e->total_ms, 100.0 * e->total_ms / total);
    }
}

enum lw_status cmp_layouts_get(struct cmp_device *dev, uint32_t texel_count,
                               VkDescriptorSetLayout *set_layout, VkPipelineLayout *pipeline_layout,
                               struct lw_error *err) {
    enum lw_status status = LW_OK;
    LW_ASSERT(texel_count <= CMP_MAX_TEXELS);
    if (!dev->set_layouts[texel_count]) {
        VkDescriptorSetLayoutBinding bindings[CMP_MAX_BINDINGS];
        for (uint32_t i = 0; i < CMP_MAX_BINDINGS; i++)
            bindings[i] = (VkDescriptorSetLayoutBinding){
                .binding = i,
                .descriptorType = i < texel_count ? VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER
                                                  : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                .descriptorCount = 1,
                .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
            };
        VkDescriptorSetLayoutCreateInfo set_info = {
            .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
            .bindingCount = CMP_MAX_BINDINGS,
            .pBindings = bindings,
        };
        VK_TRY(dev, vkCreateDescriptorSetLayout(dev->device, &set_info, NULL,
                                                &dev->set_layouts[texel_count]));
    }
    if (!dev->pipeline_layouts[texel_count]) {
        VkPushConstantRange push = {
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .offset = 0, .size = CMP_MAX_PUSH_BYTES};
        VkPipelineLayoutCreateInfo layout_info = {
            .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
            .setLayoutCount = 1,
            .pSetLayouts = &dev->set_layouts[texel_count],
            .pushConstantRangeCount = 1,
            .pPushConstantRanges = &push,
        };
        VK_TRY(dev, vkCreatePipelineLayout(dev->device, &layout_info, NULL,
                                           &dev->pipeline_layouts[texel_count]));
    }
    *set_layout = dev->set_layouts[texel_count];
    *pipeline_layout = dev->pipeline_layouts[texel_count];
cleanup:
    return status;
}

void cmp_device_destroy(struct cmp_device *dev) {
    if (!dev) return;
    if (dev->device) {
        vkDeviceWaitIdle(dev->device);
        if (dev->profile) profile_print(dev);
        cmp_buffer_destroy(dev->staging);
        cmp_pipeline_cache_save(dev);
        cmp_kernels_destroy(dev);
        if (dev->transfer_fence) vkDestroyFence(dev->device, dev->transfer_fence, NULL);
        if (dev->transfer_pool) vkDestroyCommandPool(dev->device, dev->transfer_pool, NULL);
        for (int t = 0; t <= CMP_MAX_TEXELS; t++) {
            if (dev->pipeline_layouts[t])
                vkDestroyPipelineLayout(dev->device, dev->pipeline_layouts[t], NULL);
            if (dev->set_layouts[t])
                vkDestroyDescriptorSetLayout(dev->device, dev->set_layouts[t], NULL);
        }
        vkDestroyDevice(dev->device, NULL);
    }
    if (dev->instance) vkDestroyInstance(dev->instance, NULL);
    free(dev);
}

const struct cmp_device_info *cmp_device_info(const struct cmp_device *device) {
    return &device->info;
}

uint64_t cmp_device_allocated_bytes(const struct cmp_device *device) {
    return device->allocated_bytes;
}

uint64_t cmp_device_peak_bytes(const struct cmp_device *device) {
    return device->peak_bytes;
}

uint64_t cmp_device_live_objects(const struct cmp_device *device) {
    return device->live_objects;
}
