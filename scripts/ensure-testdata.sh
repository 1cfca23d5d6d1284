#!/usr/bin/env bash
# Makes sure the ONNX conformance data (Debian package libonnx-testdata) is
# installed; installs it with apt when running as root, else says how.
set -euo pipefail
dir=/usr/share/libonnx-testdata/data
if [ -d "$dir/node" ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing libonnx-testdata (ONNX conformance data) with apt ..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q libonnx-testdata >/dev/null ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q libonnx-testdata >/dev/null; }
  exit 0
fi
echo "missing ONNX conformance data: run 'sudo apt-get install libonnx-testdata' (Debian/Ubuntu)" >&2
exit 1
