#!/usr/bin/env bash
# Fetches ONNX Runtime's CPU shared library from the npm package
# onnxruntime-node (no install scripts run) into .peers/onnxruntime/.
set -euo pipefail
version=1.30.0
dest=.peers/onnxruntime
lib=$dest/libonnxruntime.so.1
if [ -f "$lib" ]; then exit 0; fi
if ! command -v npm >/dev/null; then
  echo "fetch-ort: npm is missing; install Node.js (Debian: apt-get install nodejs npm) and rerun" >&2
  exit 1
fi
case "$(uname -sm)" in
  "Linux x86_64") arch=x64 ;;
  "Linux aarch64") arch=arm64 ;;
  *) echo "fetch-ort: no ONNX Runtime build in onnxruntime-node for $(uname -sm)" >&2; exit 1 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetching onnxruntime-node@$version from npm ..." >&2
(cd "$tmp" && npm pack --silent "onnxruntime-node@$version" >/dev/null)
tar -xzf "$tmp"/onnxruntime-node-$version.tgz -C "$tmp" "package/bin/napi-v6/linux/$arch/libonnxruntime.so.1"
mkdir -p "$dest"
mv "$tmp/package/bin/napi-v6/linux/$arch/libonnxruntime.so.1" "$lib.tmp"
mv "$lib.tmp" "$lib"
echo "ONNX Runtime $version: $lib" >&2
