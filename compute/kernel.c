/* Kernels: pipelines created lazily from the build-time SPIR-V table, de-duplicated by
 * (kernel, specialisation values), and one VkPipelineCache persisted on disk.
 *
 * The cache file starts with a header (magic, format version, vendor, device, driver version,
 * pipeline-cache UUID, a hash of our SPIR-V); any mismatch or read error is a miss, never an error,
 * because the cache is only an optimisation (style.md §4.7, ncnn's pipeline-cache notes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define CACHE_MAGIC 0x4350574cu /* "LWPC" */
#define CACHE_VERSION 1u

struct cache_header {
    uint32_t magic, version;
    uint32_t vendor_id, device_id, driver_version;
    uint8_t  uuid[16];
    uint64_t build_hash;
    uint64_t data_bytes;
};

/* FNV-1a over every kernel's SPIR-V: a different build of our shaders invalidates the cache. */
static uint64_t build_hash(void) {
    uint64_t h = 1469598103934665603ull;
    for (int k = 0; k < CMP_KERNEL_COUNT; k++) {
        const uint8_t *bytes = (const uint8_t *)cmp_kernel_sources[k].spirv;
        for (size_t i = 0; i < cmp_kernel_sources[k].bytes; i++) h = (h ^ bytes[i]) * 1099511628211ull;
    }
    return h;
}

static struct cache_header header_for(const struct cmp_device *dev) {
    struct cache_header h = {
        .magic = CACHE_MAGIC,
        .version = CACHE_VERSION,
        .vendor_id = dev->info.vendor_id,
        .device_id = dev->info.device_id,
        .driver_version = dev->info.driver_version,
        .build_hash = build_hash(),
    };
    memcpy(h.uuid, dev->info.pipeline_cache_uuid, 16);
    return h;
}

/* Reads the cache file if it matches this device and build; returns malloc'd data or NULL. */
static void *cache_read(const struct cmp_device *dev, size_t *bytes) {
    *bytes = 0;
    if (!dev->cache_path[0]) return NULL;
    FILE *f = fopen(dev->cache_path, "rb");
    if (!f) return NULL;
    struct cache_header want = header_for(dev), got;
    void               *data = NULL;
    if (fread(&got, sizeof got, 1, f) == 1 && memcmp(&got, &want, offsetof(struct cache_header, data_bytes)) == 0 &&
        got.data_bytes > 0 && got.data_bytes < (512u << 20)) {
        data = malloc(got.data_bytes);
        if (data && fread(data, 1, got.data_bytes, f) == got.data_bytes) *bytes = got.data_bytes;
        else {
            free(data);
            data = NULL;
        }
    }
    fclose(f);
    return data;
}

void cmp_pipeline_cache_load(struct cmp_device *dev) {
    size_t                    bytes = 0;
    void                     *data = cache_read(dev, &bytes);
    VkPipelineCacheCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
        .initialDataSize = bytes,
        .pInitialData = data,
    };
    if (vkCreatePipelineCache(dev->device, &info, NULL, &dev->pipeline_cache) != VK_SUCCESS) {
        /* A driver that rejects the data: start empty. */
        info.initialDataSize = 0;
        info.pInitialData = NULL;
        if (vkCreatePipelineCache(dev->device, &info, NULL, &dev->pipeline_cache) != VK_SUCCESS)
            dev->pipeline_cache = VK_NULL_HANDLE;
    }
    free(data);
}

static void make_parent_dirs(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        mkdir(buf, 0755);
        *p = '/';
    }
}

/* Writes the cache atomically (temporary file + rename); failures are silent by design. */
void cmp_pipeline_cache_save(struct cmp_device *dev) {
    if (!dev->pipeline_cache) return;
    size_t bytes = 0;
    if (dev->cache_path[0] && dev->pipeline_count > 0 &&
        vkGetPipelineCacheData(dev->device, dev->pipeline_cache, &bytes, NULL) == VK_SUCCESS &&
        bytes > 0) {
        void *data = malloc(bytes);
        if (data && vkGetPipelineCacheData(dev->device, dev->pipeline_cache, &bytes, data) == VK_SUCCESS) {
            struct cache_header h = header_for(dev);
            h.data_bytes = bytes;
            char tmp[4200];
            snprintf(tmp, sizeof tmp, "%s.%ld.tmp", dev->cache_path, (long)getpid());
            make_parent_dirs(dev->cache_path);
            FILE *f = fopen(tmp, "wb");
            if (f) {
                bool ok = fwrite(&h, sizeof h, 1, f) == 1 && fwrite(data, 1, bytes, f) == bytes;
                ok = fclose(f) == 0 && ok;
                if (!ok || rename(tmp, dev->cache_path) != 0) remove(tmp);
            }
        }
        free(data);
    }
    vkDestroyPipelineCache(dev->device, dev->pipeline_cache, NULL);
    dev->pipeline_cache = VK_NULL_HANDLE;
}

void cmp_kernels_destroy(struct cmp_device *dev) {
    for (uint32_t i = 0; i < dev->pipeline_count; i++) {
        vkDestroyPipeline(dev->device, dev->pipelines[i].kernel->pipeline, NULL);
        cmp_count_destroyed(dev);
        free(dev->pipelines[i].kernel);
    }
    free(dev->pipelines);
    dev->pipelines = NULL;
    dev->pipeline_count = dev->pipeline_capacity = 0;
}

const char *cmp_kernel_name(enum cmp_kernel_id id) {
    if ((unsigned)id >= CMP_KERNEL_COUNT) return "?";
    return cmp_kernel_sources[id].name;
}

/* The texel formats a kernel table may name, and what they are in Vulkan. */
static const struct {
    const char *name;
    VkFormat    format;
    uint32_t    bytes;
} texel_formats[] = {
    {"r32f", VK_FORMAT_R32_SFLOAT, 4},
    {"r16f", VK_FORMAT_R16_SFLOAT, 2},
    {"r16ui", VK_FORMAT_R16_UINT, 2},
    {"rgba32f", VK_FORMAT_R32G32B32A32_SFLOAT, 16},
    {"rgba16f", VK_FORMAT_R16G16B16A16_SFLOAT, 8},
    {"rg32ui", VK_FORMAT_R32G32_UINT, 8},
    {"rgba32ui", VK_FORMAT_R32G32B32A32_UINT, 16},
};

/* Reads the kernel table's texel formats into `kernel` and checks that the device can sample them:
 * LW_ERR_UNSUPPORTED when it cannot (callers then use a storage-buffer variant). */
static enum lw_status texels_parse(struct cmp_device *dev, struct cmp_kernel *kernel,
                                   struct lw_error *err) {
    const char *list = cmp_kernel_sources[kernel->id].texel_formats;
    kernel->texel_count = 0;
    while (list && *list) {
        size_t len = strcspn(list, ",");
        size_t f = 0;
        while (f < sizeof texel_formats / sizeof *texel_formats &&
               (strlen(texel_formats[f].name) != len || strncmp(texel_formats[f].name, list, len)))
            f++;
        if (f == sizeof texel_formats / sizeof *texel_formats ||
            kernel->texel_count == CMP_MAX_TEXELS)
            return lw_error_set(
                err, LW_ERR_ARGUMENT, "kernel %s: texel formats \"%s\" not understood",
                cmp_kernel_name(kernel->id), cmp_kernel_sources[kernel->id].texel_formats);
        VkFormatProperties props;
        vkGetPhysicalDeviceFormatProperties(dev->physical, texel_formats[f].format, &props);
        if (!(props.bufferFeatures & VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT))
            return lw_error_set(err, LW_ERR_UNSUPPORTED,
                                "kernel %s: the device cannot read %s texel buffers",
                                cmp_kernel_name(kernel->id), texel_formats[f].name);
        kernel->texel_formats[kernel->texel_count] = texel_formats[f].format;
        kernel->texel_bytes[kernel->texel_count++] = texel_formats[f].bytes;
        list += len + (list[len] == ',');
    }
    return cmp_layouts_get(dev, kernel->texel_count, &kernel->set_layout, &kernel->pipeline_layout,
                           err);
}

static enum lw_status pipeline_create(struct cmp_device *dev, struct cmp_kernel *kernel,
                                      const uint32_t *specs, uint32_t spec_count, VkPipeline *out,
                                      struct lw_error *err) {
    enum cmp_kernel_id id = kernel->id;
    enum lw_status     status = texels_parse(dev, kernel, err);
    if (status != LW_OK) return status;
    VkShaderModule           module = VK_NULL_HANDLE;
    VkShaderModuleCreateInfo module_info = {
        .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
        .codeSize = cmp_kernel_sources[id].bytes,
        .pCode = cmp_kernel_sources[id].spirv,
    };
    VK_TRY(dev, vkCreateShaderModule(dev->device, &module_info, NULL, &module));
    VkSpecializationMapEntry entries[CMP_MAX_SPECS];
    for (uint32_t i = 0; i < spec_count; i++)
        entries[i] = (VkSpecializationMapEntry){
            .constantID = i, .offset = i * sizeof(uint32_t), .size = sizeof(uint32_t)};
    VkSpecializationInfo spec = {
        .mapEntryCount = spec_count,
        .pMapEntries = entries,
        .dataSize = spec_count * sizeof(uint32_t),
        .pData = specs,
    };
    VkComputePipelineCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage =
            {
                .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                .module = module,
                .pName = "main",
                .pSpecializationInfo = spec_count ? &spec : NULL,
            },
        .layout = kernel->pipeline_layout,
    };
    VK_TRY(dev, vkCreateComputePipelines(dev->device, dev->pipeline_cache, 1, &info, NULL, out));
cleanup:
    if (module) vkDestroyShaderModule(dev->device, module, NULL);
    if (status != LW_OK) lw_error_prefix(err, "kernel %s: ", cmp_kernel_name(id));
    return status;
}

enum lw_status cmp_kernel_get(struct cmp_device *dev, enum cmp_kernel_id id, const uint32_t *specs,
                              uint32_t spec_count, struct cmp_kernel **out, struct lw_error *err) {
    *out = NULL;
    if ((unsigned)id >= CMP_KERNEL_COUNT || spec_count > CMP_MAX_SPECS || (spec_count && !specs))
        return lw_error_set(err, LW_ERR_ARGUMENT, "cmp_kernel_get: bad kernel %d or %u specs", id,
                            spec_count);
    for (uint32_t i = 0; i < dev->pipeline_count; i++) {
        struct cmp_pipeline_entry *e = &dev->pipelines[i];
        if (e->id == id && e->spec_count == spec_count &&
            memcmp(e->specs, specs ? specs : e->specs, spec_count * sizeof *specs) == 0) {
            *out = e->kernel;
            return LW_OK;
        }
    }
    if (dev->pipeline_count == dev->pipeline_capacity) {
        uint32_t capacity = dev->pipeline_capacity ? 2 * dev->pipeline_capacity : 32;
        struct cmp_pipeline_entry *grown = realloc(dev->pipelines, capacity * sizeof *grown);
        if (!grown) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
        dev->pipelines = grown;
        dev->pipeline_capacity = capacity;
    }
    struct cmp_kernel *kernel = calloc(1, sizeof *kernel);
    if (!kernel) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    kernel->id = id;
    enum lw_status status = pipeline_create(dev, kernel, specs, spec_count, &kernel->pipeline, err);
    if (status != LW_OK) {
        free(kernel);
        return status;
    }
    cmp_count_created(dev);
    struct cmp_pipeline_entry *e = &dev->pipelines[dev->pipeline_count++];
    memset(e, 0, sizeof *e);
    e->id = id;
    e->spec_count = spec_count;
    if (spec_count) memcpy(e->specs, specs, spec_count * sizeof *specs);
    e->kernel = kernel;
    *out = kernel;
    return LW_OK;
}
