#!/usr/bin/env bash
# Debian 12 packages the training recipe needs (apt only; nothing else is downloaded). The images it trains
# on come from python3-skimage's data folder, GIMP's patterns and sample images, and matplotlib's sample data.
set -euo pipefail
packages=(python3-torch python3-numpy python3-scipy python3-skimage python3-pil python3-yaml python3-matplotlib gimp-data)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "train/install-deps: all ${#packages[@]} packages present"
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
