#!/usr/bin/env bash
# Session 21 device script (one call): TMA probe + JIT of the candidate
# shapes, the 8192^3 timings of the candidates beside PyTorch, the -short
# suites of the shapes written since session 18, then the cuda and backend
# tests and `gcompress --device cuda:0 conformance`.
set -u
here=$(cd "$(dirname "$0")" && pwd)
d=/tmp/g; rm -rf $d; mkdir -p $d; tar -xzf "$here/gcompress-gpu.tar.gz" -C $d || exit 1
cd $d
export CUDA_CACHE_MAXSIZE=4294967296
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv
t0=$(date +%s)
CAND=w128x256,w128x128,w256x192,w256x128,w128x256t,w256x192t,w128x256ft,w256x192ft,w128x256f
NEW=w256x192,w256x128,w128x256f,w128x256t,w256x192t,w128x256ft,w256x192ft
echo "== A: JIT of the candidates, diagnostics (TMA probe)"
GCOMPRESS_TEST_TILES=$CAND timeout -k 5 150 ./bin/gobind.test -test.short -test.timeout 5m -test.v \
  -test.run 'TestWgmmaLoaded|TestDiagnostics' >"$OUT/diag.log" 2>&1
echo "A rc=$? after $(( $(date +%s) - t0 )) s"
grep -E '^(--- FAIL|FAIL|PASS|ok|panic|wgmma JIT|    gpu_cuda_test)' "$OUT/diag.log" | head -20 | cut -c1-300
sed -n '/^== kernel tests ==/,$p' "$OUT/diag.log" | grep -iv ' pass ' | head -30 | cut -c1-250
grep -i 'tma' "$OUT/diag.log" | head -12 | cut -c1-250
echo "== B: bench at 8192^3"
TILES=$CAND SIZES=8192 timeout -k 5 180 ./bench-gpu.sh > "$OUT/bench-stdout.log" 2>&1
echo "B rc=$? after $(( $(date +%s) - t0 )) s"
sed -n '/== summary ==/,$p' "$OUT/kernelbench.log" | cut -c1-60,100-250
echo "== C: -short suites of $NEW"
GCOMPRESS_TEST_TILES=$NEW GCOMPRESS_TABLE="$OUT/kernel-table.txt" timeout -k 5 130 ./bin/gobind.test -test.short -test.timeout 5m \
  -test.run 'TestGemm$' >"$OUT/suites.log" 2>&1
echo "C rc=$? after $(( $(date +%s) - t0 )) s"
grep -E '^(--- FAIL|FAIL|PASS|ok|panic)' "$OUT/suites.log" | head -10
sed -n '/^== kernel tests ==/,$p' "$OUT/suites.log" | head -40 | cut -c1-200
echo "== D: cuda.test, backend.test, CLI conformance"
{ cat "$OUT/devices.json"; rm -f "$OUT/devices.json"
  for t in cuda backend; do echo "== $t.test"; timeout -k 5 40 ./bin/$t.test -test.short -test.timeout 3m 2>&1 | tail -25; echo "$t rc=${PIPESTATUS[0]}"; done
  echo "== gcompress --device cuda:0 conformance"; timeout -k 5 40 ./bin/gcompress --device cuda:0 conformance conformance 2>&1 | tail -40; echo "conformance rc=${PIPESTATUS[0]}"
} > "$OUT/misc.log" 2>&1
grep -E 'rc=|passed|^(--- FAIL|FAIL|ok|PASS)' "$OUT/misc.log" | head -20
echo "all done after $(( $(date +%s) - t0 )) s"
