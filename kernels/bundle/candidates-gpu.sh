#!/usr/bin/env bash
# candidates-gpu.sh: one device call's worth of checks of candidate GEMM tile
# shapes, each step under its own time limit so that the call ends in time
# and its logs come back (at most 8 files in $OUT):
#   A  diag.log         the launch diagnostics (ABI, mma.sp / wgmma / TMA
#                       probes, then the cluster probe) and TestWgmmaLoaded
#                       for CAND: their kernels loaded (from the embedded
#                       sm_90a cubins, or the driver's JIT: about 1.2 s a
#                       kernel on an H100), and TestResident: the blocks of
#                       each int8 shape the GPU runs at once
#   B  bench-stdout.log, vendor.json, kernelbench.json, kernelbench.log
#                       bench-gpu.sh on CAND at SIZES (PyTorch beside us,
#                       each kernel checked on sampled rows first)
#   C  suites.log, kernel-table.txt
#                       the -short GEMM suites of NEW
#   D  misc.log         gcompress devices --json, cuda.test and backend.test
#                       (-short), gcompress --device cuda:0 conformance, the
#                       2:4 quantized MLP and the quantized LeNet-5 (eval on
#                       GPU and CPU, placement),
#                       and bench gemm --sparse --vs-dense at 4096^3 (int8,
#                       f16)
# CAND (comma-separated shape names; required), NEW (default CAND), SIZES
# (default 8192), KERNELS (step B's families, as bench-gpu.sh takes them;
# so do its PERSISTENT and LAYOUTS, which pass through)
# and the limits T_DIAG, T_BENCH, T_SUITES, T_MISC, T_GEMM (seconds; default
# 120, 240, 120, 30 each for D's three tests, 10 each for its two bench
# gemm and three MLP runs: 620 s at most, so name a lower T_BENCH for a
# device call's 600; session 21's bench of 9 shapes needed more than 180) can be
# set. Step A has the kernels loaded one per CPU at a time (Precompile).
# Session 21's three device calls (bench/results/gpu-h100-2026-11-27) are
# where this comes from.
set -u
cd "$(dirname "$0")"
OUT=${OUT:-$PWD/out}
: "${CAND:?set CAND to the comma-separated tile shapes to check and time}"
NEW=${NEW:-$CAND}
SIZES=${SIZES:-8192}
mkdir -p "$OUT"
# The driver's JIT cache: step A compiles, B and C find the kernels there.
export CUDA_CACHE_MAXSIZE=${CUDA_CACHE_MAXSIZE:-4294967296}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv 2>&1
t0=$(date +%s)
since() { echo "$1 rc=$2 after $(($(date +%s) - t0)) s"; }

echo "== A: diagnostics and kernel loads of $CAND"
GCOMPRESS_TEST_TILES=$CAND timeout -k 5 "${T_DIAG:-120}" ./bin/gobind.test -test.short -test.timeout 10m -test.v \
	-test.run 'TestWgmmaLoaded|TestDiagnostics|TestClusterProbe|TestResident' >"$OUT/diag.log" 2>&1
r=$?
since A $r
grep -E '^(--- FAIL|FAIL|PASS|ok|panic|wgmma (JIT|load)|resident:)' "$OUT/diag.log" | head -40
[ $r -ne 0 ] && tail -5 "$OUT/diag.log"
sed -n '/^== kernel tests ==/,$p' "$OUT/diag.log" | head -12

echo "== B: $CAND at $SIZES"
TILES=$CAND SIZES=$SIZES timeout -k 5 "${T_BENCH:-240}" ./bench-gpu.sh >"$OUT/bench-stdout.log" 2>&1
since B $?
sed -n '/== summary ==/,$p' "$OUT/kernelbench.log" 2>/dev/null

echo "== C: -short suites of $NEW"
GCOMPRESS_TEST_TILES=$NEW GCOMPRESS_TABLE="$OUT/kernel-table.txt" timeout -k 5 "${T_SUITES:-120}" ./bin/gobind.test \
	-test.short -test.timeout 10m -test.run 'TestGemm$' >"$OUT/suites.log" 2>&1
since C $?
sed -n '/^== kernel tests ==/,$p' "$OUT/suites.log" | head -40

echo "== D: devices, cuda.test, backend.test, conformance"
{
	cat "$OUT/devices.json" 2>/dev/null
	rm -f "$OUT/devices.json"
	for t in cuda backend; do
		echo "== $t.test"
		timeout -k 5 "${T_MISC:-30}" ./bin/$t.test -test.short -test.timeout 3m 2>&1 | tail -25
		echo "$t rc=${PIPESTATUS[0]}"
	done
	echo "== gcompress --device cuda:0 conformance"
	timeout -k 5 "${T_MISC:-30}" ./bin/gcompress --device cuda:0 conformance conformance 2>&1 | tail -40
	echo "conformance rc=${PIPESTATUS[0]}"
	for m in mlp24-int8 lenet5-int8; do
		echo "== the quantized $m: accuracy on the GPU and the CPU, placement"
		for d in cpu cuda:0; do
			timeout -k 5 "${T_GEMM:-10}" ./bin/gcompress --device "$d" eval models/$m.onnx --data mnist --json 2>&1 | tr -d '\n '
			echo " ($d rc=${PIPESTATUS[0]})"
		done
		timeout -k 5 "${T_GEMM:-10}" ./bin/gcompress --device cuda:0 run models/$m.onnx --random-inputs --dim batch=64 --profile 2>&1 |
			sed -n '/placement/,$p'
	done
	for a in "--sparse --vs-dense" "--dtype f16 --sparse --vs-dense"; do
		echo "== gcompress --device cuda:0 bench gemm $a"
		timeout -k 5 "${T_GEMM:-10}" ./bin/gcompress --device cuda:0 bench gemm --m 4096 --n 4096 --k 4096 --runs 5 $a 2>&1 | tail -5
		echo "bench gemm $a rc=${PIPESTATUS[0]}"
	done
} >"$OUT/misc.log" 2>&1
grep -E 'rc=|passed|^(--- FAIL|FAIL)|^(gemm|dense) |speed-up|accuracy|QGemm|QLinearConv' "$OUT/misc.log" | head -40
echo "candidates-gpu: done after $(($(date +%s) - t0)) s (logs in $OUT)"
