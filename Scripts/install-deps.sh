#!/usr/bin/env bash
# Installs the Debian packages internvl-swift needs to build and test (run as root, or it uses sudo).
# Swift itself is expected on PATH (swift.org toolchain, 6.0 or newer).
set -euo pipefail
packages=(
  pkg-config
  libzmq3-dev         # CZeroMQ: cluster transport
  libopenblas-dev     # COpenBLAS: f32 GEMM
  libturbojpeg0-dev   # CImageCodecs: JPEG decoding
  libpng-dev          # CImageCodecs: PNG decoding
  libavformat-dev     # CFFmpeg: video containers
  libavcodec-dev      # CFFmpeg: video decoders
  libswscale-dev      # CFFmpeg: pixel format conversion to RGB24
  libavutil-dev       # CFFmpeg: frames, errors
  ffmpeg              # VideoTests build their test videos with the ffmpeg CLI
  python3             # tests drive the CLI contract checker in Tests/Tools
  iproute2            # ClusterNetnsTests: `ip netns`, veth pairs and a bridge, one namespace per cluster host
)
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "install-deps: ${packages[*]%%#*} installed"
