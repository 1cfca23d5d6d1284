#!/usr/bin/env bash
# Session 18 device script, second run: wgmma correctness (short), bench of all tiles, full w128x256 suites.
set -u
here=$(cd "$(dirname "$0")" && pwd)
d=/tmp/g; rm -rf $d; mkdir -p $d; tar -xzf "$here/gcompress-gpu.tar.gz" -C $d || exit 1
cd $d
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv
t0=$(date +%s)
echo "== short wgmma suites"
GCOMPRESS_TEST_TILES=w128x256,w128x128 timeout -k 5 100 ./bin/gobind.test -test.short -test.timeout 5m \
  -test.run 'TestWgmmaLoaded|TestDiagnostics|TestGemm$' >"$OUT/gobind-short.log" 2>&1
echo "short rc=$? after $(( $(date +%s) - t0 )) s"
grep -E '^(--- FAIL|FAIL|PASS|ok|panic|wgmma JIT)' "$OUT/gobind-short.log" | head -10
sed -n '/^== kernel tests ==/,$p' "$OUT/gobind-short.log" | head -30 | cut -c1-200
echo "== bench TILES=all"
TILES=all timeout -k 5 220 ./bench-gpu.sh > "$OUT/bench-stdout.log" 2>&1
echo "bench rc=$? after $(( $(date +%s) - t0 )) s"
sed -n '/== summary ==/,$p' "$OUT/kernelbench.log" | cut -c1-60,100-250
echo "== full w128x256 suites"
GCOMPRESS_TEST_TILES=w128x256 GCOMPRESS_TABLE="$OUT/kernel-table-full.txt" timeout -k 5 170 ./bin/gobind.test -test.timeout 5m \
  -test.run 'TestGemm$' >"$OUT/gobind-full.log" 2>&1
echo "full rc=$? after $(( $(date +%s) - t0 )) s"
sed -n '/^== kernel tests ==/,$p' "$OUT/gobind-full.log" | head -30 | cut -c1-200
