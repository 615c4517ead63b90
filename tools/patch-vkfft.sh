#!/bin/sh
# Makes Debian 12's vkFFT.h (libvkfft-dev 1.2.26) usable from C11 with glslang 12:
#  1. `VkCommandBuffer commandBuffer = {};` is C++/C23 only: initialise with VK_NULL_HANDLE instead.
#  2. glslang 12's glslang_resource_t gained nine max_*_ext mesh-shader fields before
#     max_dual_source_draw_buffers_ext; VkFFT's positional initialiser then shifts every later field
#     (its `.limits` ends up all false and every kernel fails to compile with error 4014). We insert
#     nine values after `.maxMeshViewCountNV = */ 4,`, only when the glslang header has those fields.
#  3. Mark it a system header so its own warnings do not drown ours.
# usage: patch-vkfft.sh VKFFT_H GLSLANG_C_INTERFACE_H OUT
set -eu
in=$1
glslang=$2
out=$3
mesh_ext=""
if grep -q max_mesh_output_vertices_ext "$glslang"; then
    mesh_ext="256, 256, 128, 128, 128, 128, 128, 128, 4,"
fi
{
    echo "#pragma GCC system_header"
    sed -e 's/VkCommandBuffer commandBuffer = {};/VkCommandBuffer commandBuffer = VK_NULL_HANDLE;/' \
        -e "s|\(/\* \.maxMeshViewCountNV = \*/ 4,\)|\1 /* lorweb: glslang 12 mesh EXT limits */ $mesh_ext|" \
        "$in"
} >"$out.tmp"
mv "$out.tmp" "$out"
