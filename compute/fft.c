/* 2-D complex FFTs through VkFFT, the only file that includes vkFFT.h (style.md §4.2).
 *
 * VkFFT follows its own life cycle (initializeVkFFT → VkFFTAppend → deleteVkFFT); we wrap it as
 * cmp_fft_plan_create → cmp_fft_record → cmp_fft_plan_destroy and append its dispatches to our own
 * command lists, so an FFT is ordered with the kernels around it by the usual barrier. The header is
 * Debian's, patched at build time by tools/patch-vkfft.sh. */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

#define VKFFT_BACKEND 0
#include "vkFFT.h"

struct cmp_fft {
    struct cmp_device *device;
    VkFFTApplication   app;
    VkBuffer           buffer;
    uint64_t           buffer_bytes;
    uint64_t           offset;
    bool               initialised;
};

enum lw_status cmp_fft_plan_create(struct cmp_device *dev, uint32_t nx, uint32_t ny, uint32_t batch,
                                   struct cmp_view data, struct cmp_fft **out, struct lw_error *err) {
    *out = NULL;
    uint64_t need = 8ull * nx * ny * batch;
    if (nx == 0 || ny == 0 || batch == 0 || !data.buffer || data.bytes < need)
        return lw_error_set(err, LW_ERR_ARGUMENT,
                            "FFT plan %u×%u×%u needs %llu bytes, the view has %llu", nx, ny, batch,
                            (unsigned long long)need, (unsigned long long)data.bytes);
    if (nx < 2 || ny < 2) /* VkFFT 1.2 rejects axes of length 1 (error 3001) */
        return lw_error_set(err, LW_ERR_UNSUPPORTED, "FFT plan %u×%u: both sides must be ≥ 2", nx, ny);
    struct cmp_fft *plan = calloc(1, sizeof *plan);
    if (!plan) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    plan->device = dev;
    plan->buffer = cmp_buffer_vk(data.buffer);
    plan->buffer_bytes = data.offset + need; /* VkFFT binds from the buffer start */
    plan->offset = data.offset;

    VkFFTConfiguration config = {0};
    config.FFTdim = 2;
    config.size[0] = nx;
    config.size[1] = ny;
    config.numberBatches = batch;
    config.physicalDevice = &dev->physical;
    config.device = &dev->device;
    config.queue = &dev->queue;
    config.commandPool = &dev->transfer_pool;
    config.fence = &dev->transfer_fence;
    config.buffer = &plan->buffer;
    config.bufferSize = &plan->buffer_bytes;
    config.normalize = 1;
    config.specifyOffsetsAtLaunch = 1;
    VkFFTResult result = initializeVkFFT(&plan->app, config);
    if (result != VKFFT_SUCCESS) {
        free(plan);
        return lw_error_set(err, result == VKFFT_ERROR_MALLOC_FAILED ? LW_ERR_HOST_MEMORY : LW_ERR_VULKAN,
                            "VkFFT plan %u×%u (batch %u) failed: VkFFT error %d", nx, ny, batch,
                            (int)result);
    }
    plan->initialised = true;
    cmp_count_created(dev);
    *out = plan;
    return LW_OK;
}

void cmp_fft_plan_destroy(struct cmp_fft *plan) {
    if (!plan) return;
    if (plan->initialised) {
        deleteVkFFT(&plan->app);
        cmp_count_destroyed(plan->device);
    }
    free(plan);
}

void cmp_fft_record(struct cmp_cmd *cmd, struct cmp_fft *plan, bool inverse) {
    VkCommandBuffer vk = cmp_cmd_vk_begin(cmd);
    if (vk == VK_NULL_HANDLE) return;
    VkFFTLaunchParams launch = {0};
    launch.commandBuffer = &vk;
    launch.buffer = &plan->buffer;
    launch.bufferOffset = plan->offset;
    VkFFTResult result = VkFFTAppend(&plan->app, inverse ? 1 : -1, &launch);
    if (result != VKFFT_SUCCESS) {
        char message[96];
        snprintf(message, sizeof message, "VkFFTAppend failed: VkFFT error %d", (int)result);
        cmp_cmd_set_error(cmd, LW_ERR_VULKAN, message);
    }
}
