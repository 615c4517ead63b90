#!/usr/bin/env bash
# Installs the Debian 12 packages lorweb needs to build, test and run, skipping those already present.
# Only Debian's own archive is used; nothing else is downloaded.
set -euo pipefail
packages=(
    build-essential meson ninja-build pkg-config clang libclang-rt-14-dev
    libvulkan-dev glslc mesa-vulkan-drivers vulkan-tools libvkfft-dev glslang-dev spirv-tools
    libcjson-dev libyaml-dev libpng-dev libjpeg-dev libopenblas-dev libsentencepiece-dev
    gimp libgimp2.0-dev libgtk-3-dev gettext xvfb xauth xdotool imagemagick
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#packages[@]} packages present"
    exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
