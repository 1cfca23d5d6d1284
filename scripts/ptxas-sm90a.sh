#!/bin/sh
# Prints the path of a ptxas that assembles sm_90a PTX (CUDA 12 or newer),
# for `make check-cuda PTXAS_SM90A=...`, with the nvdisasm of the same
# release beside it (for the SASS check): the Debian 13 (trixie) package
# nvidia-cuda-toolkit (non-free, CUDA 12.4) is downloaded from the mirror
# this machine's apt sources name and unpacked under DIR (default
# build/ptxas-sm90a), without installing it or touching the system's apt
# state. NVIDIA's binaries inside run on Debian 12. Progress goes to stderr.
#   usage: scripts/ptxas-sm90a.sh [DIR]
set -eu
dir=$(mkdir -p "${1:-build/ptxas-sm90a}" && cd "${1:-build/ptxas-sm90a}" && pwd)
if [ -x "$dir/usr/bin/ptxas" ] && [ -x "$dir/usr/bin/nvdisasm" ]; then
  echo "$dir/usr/bin/ptxas"
  exit 0
fi
mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
if [ -z "$mirror" ]; then
  mirror=$(sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) .*/\2/p' /etc/apt/sources.list 2>/dev/null | grep -v security | head -1)
fi
[ -n "$mirror" ] || { echo "ptxas-sm90a: no Debian mirror in /etc/apt/sources.list(.d)" >&2; exit 1; }
mkdir -p "$dir/apt/lists/partial" "$dir/apt/cache/archives/partial" "$dir/deb"
echo "deb $mirror trixie non-free" > "$dir/apt/sources.list"
set -- -o "Dir::Etc::sourcelist=$dir/apt/sources.list" -o Dir::Etc::sourceparts=- \
  -o "Dir::State::Lists=$dir/apt/lists" -o "Dir::Cache=$dir/apt/cache" -o Debug::NoLocking=1 -q
echo "ptxas-sm90a: fetching nvidia-cuda-toolkit from trixie non-free ($mirror)" >&2
apt-get "$@" update >&2
(cd "$dir/deb" && apt-get "$@" download nvidia-cuda-toolkit >&2)
dpkg-deb -x "$dir"/deb/nvidia-cuda-toolkit_*.deb "$dir/pkg"
mkdir -p "$dir/usr/bin"
mv "$dir/pkg/usr/bin/ptxas" "$dir/pkg/usr/bin/nvdisasm" "$dir/usr/bin/"
rm -rf "$dir/pkg" "$dir/deb" "$dir/apt"
"$dir/usr/bin/ptxas" --version >&2
echo "$dir/usr/bin/ptxas"
