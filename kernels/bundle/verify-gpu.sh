#!/usr/bin/env bash
# verify-gpu.sh: one device call's worth of checks of chosen GEMM tile
# shapes (by default the sm_90 defaults that have run only at -short sizes),
# each step under its own time limit so that the call ends in time and its
# logs come back (six files in $OUT):
#   A  suites.log, kernel-table.txt
#                       the full-size GEMM suites of TILES, one test process
#                       per shape, each appending its summary and table, so
#                       that a step cut short at T_SUITES keeps the shapes
#                       that finished (a process prints its table only at
#                       its end: session 26 lost a four-shape run whole)
#   B  kb-cubin.log, kb-cubin.json, kb-jit.log, kb-jit.json
#                       kernelbench at SIZES on TILES, KERNELS, twice in a
#                       row: the embedded sm_90a cubins (ptxas 12.4), then
#                       GCOMPRESS_WGMMA_JIT=1 (the driver's own compile of
#                       the PTX), each kernel checked on sampled rows first
# TILES (default w128x128pm,w128x128: the f16/bf16 dense default since
# session 29 and the shape it replaced, neither yet run at full size),
# SIZES (default 8192), KERNELS (default f16_dense) and the limits
# T_SUITES, T_BENCH (seconds; default 330 for all of step A and 120 for
# each kernelbench, 0 for none: 570 s at most, under a device call's 600)
# can be set.
# The full-size suites of one shape (int8, f16 and bf16; a name that is
# both a dense and a 2:4 shape counts twice) took 50-120 s (session 26 on
# an H100: 105 s for w128x256t and w256x192ft; session 29 on an H200: 103 s
# for w256x192ft, 114 s for w128x256fp, and w128x128 was not done in 53 s),
# 2-3 min in sessions 16 and 18; timing f16 at 8192^3 took kernelbench
# about 9 s a shape (host operands and checks included).
set -u
cd "$(dirname "$0")"
OUT=${OUT:-$PWD/out}
TILES=${TILES:-w128x128pm,w128x128}
SIZES=${SIZES:-8192}
KERNELS=${KERNELS:-f16_dense}
mkdir -p "$OUT"
export CUDA_CACHE_MAXSIZE=${CUDA_CACHE_MAXSIZE:-4294967296}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv 2>&1
t0=$(date +%s)
since() { echo "$1 rc=$2 after $(($(date +%s) - t0)) s"; }

echo "== A: full-size suites of $TILES"
rm -f "$OUT/suites.log" "$OUT/kernel-table.txt"
deadline=$((t0 + ${T_SUITES:-330}))
for tile in ${TILES//,/ }; do
	left=$((deadline - $(date +%s)))
	if [ $left -lt 10 ]; then
		echo "A: no time left for $tile (T_SUITES)"
		break
	fi
	echo "== $tile" >>"$OUT/suites.log"
	GCOMPRESS_TEST_TILES=$tile GCOMPRESS_TABLE="$OUT/table.tmp" timeout -k 5 $left ./bin/gobind.test \
		-test.timeout 20m -test.run 'TestWgmmaLoaded|TestGemm$' >>"$OUT/suites.log" 2>&1
	since "A ($tile)" $?
	cat "$OUT/table.tmp" >>"$OUT/kernel-table.txt" 2>/dev/null
	rm -f "$OUT/table.tmp"
done
grep -E '^(== [a-z0-9]+$|--- FAIL|FAIL|panic|wgmma (JIT|load))|cases, [0-9]+ passed' "$OUT/suites.log" | head -30
grep -E '^(int8|f16|bf16|s8) .* [1-9][0-9]*$' "$OUT/suites.log" | head -10

# T_BENCH=0 skips step B (timeout would take 0 for no limit at all).
codes="cubin jit"
[ "${T_BENCH:-120}" = 0 ] && codes=
for code in $codes; do
	echo "== B: $TILES at $SIZES, code: $code"
	jit=0
	[ $code = jit ] && jit=1
	GCOMPRESS_WGMMA_JIT=$jit timeout -k 5 "${T_BENCH:-120}" ./bin/kernelbench -bench -sizes "$SIZES" -tiles "$TILES" \
		-kernels "$KERNELS" -out "$OUT/kb-$code.json" >"$OUT/kb-$code.log" 2>&1
	since "B ($code)" $?
	grep -E '^(wgmma|device)' "$OUT/kb-$code.log"
	sed -n '/== summary ==/,$p' "$OUT/kb-$code.log" | head -20
done
echo "verify-gpu: done after $(($(date +%s) - t0)) s (logs in $OUT)"
