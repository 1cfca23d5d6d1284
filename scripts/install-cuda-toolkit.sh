#!/bin/sh
# Installs Debian's CUDA 11.8 toolkit (nvidia-cuda-toolkit: nvcc, cuda.h,
# libcuda.so from libcuda1; no GPU or kernel driver needed) and g++, plus any
# packages named as arguments, on Debian 12. The toolkit is in the non-free
# component, which this enables first: deb822 sources (Debian 12's
# /etc/apt/sources.list.d/debian.sources) or a classic sources.list (as
# debootstrap writes it). Used by .ci/run and Dockerfile.cuda; run as root.
set -eu
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  sed -i '/^Components:/{/non-free/!s/$/ contrib non-free non-free-firmware/}' /etc/apt/sources.list.d/debian.sources
fi
if [ -f /etc/apt/sources.list ]; then
  sed -i -E '/^deb /{/non-free/!s/( main)( |$)/\1 contrib non-free non-free-firmware\2/}' /etc/apt/sources.list
fi
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nvidia-cuda-toolkit g++ "$@"
