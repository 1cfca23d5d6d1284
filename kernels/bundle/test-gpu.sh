#!/usr/bin/env bash
# test-gpu.sh: runs every GPU test of the gcompress bundle on this machine
# (needs an NVIDIA driver and GPU; no Go, no network). Logs and the full
# kernel table go to $OUT (default ./out); stdout ends with the summaries.
#   cuda.test     device layer unit tests (pool policy, errors, names)
#   gobind.test   every kernel against its Go reference (shared suites),
#                 ABI / mma.sp layout probes, naive-kernel diagnostics
#   backend.test  the CUDA runtime backend against the CPU backend
# Pass -short to skip the largest shapes; TILES (comma-separated shape names,
# e.g. w128x256,w128x128) limits the GEMM suites to those tile shapes. The
# tests that compare the Go
# tables with the kernel sources (which the bundle does not carry) run in
# `make test` instead.
set -uo pipefail
cd "$(dirname "$0")"
OUT=${OUT:-$PWD/out}
mkdir -p "$OUT"
[ -n "${TILES:-}" ] && export GCOMPRESS_TEST_TILES=$TILES
# At most 8 files come back from a GPU session's $OUT: test-gpu writes 4
# (three logs and the kernel table), bench-gpu 4.
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv 2>&1
rc=0
for t in cuda gobind backend; do
	echo "== $t.test"
	start=$(date +%s)
	GCOMPRESS_TABLE="$OUT/kernel-table.txt" ./bin/$t.test -test.timeout 25m \
		-test.skip 'TestConfigMatchesHeader|TestKernelTableMatchesSources' "$@" >"$OUT/$t.log" 2>&1
	r=$?
	[ $r -ne 0 ] && rc=1
	# The summary part of the log (gobind prints its tables at the end).
	grep -E '^(--- FAIL|FAIL|PASS|ok|panic|device|code that ran|wgmma (JIT|load)|host ptxas SASS|resident:)' "$OUT/$t.log" | head -70
	sed -n '/^== kernel tests ==/,$p' "$OUT/$t.log" | head -60
	sed -n '/placement per op type/,$p' "$OUT/$t.log" | head -30
	# A binary that stopped early (no GPU, a panic): show how it ended.
	[ $r -ne 0 ] && ! grep -q '^== kernel tests ==' "$OUT/$t.log" && tail -15 "$OUT/$t.log"
	echo "   $t.test exit $r after $(( $(date +%s) - start )) s (log: $OUT/$t.log)"
done
# The command-line path: ONNX's own node tests of the ops the CUDA backend
# runs, through `gcompress --device cuda:0 conformance` (appended to
# backend.log; it ends with where each op ran).
echo "== gcompress --device cuda:0 conformance"
./bin/gcompress --device cuda:0 conformance conformance >>"$OUT/backend.log" 2>&1 || rc=1
sed -n '/passed, .* failed/,$p' "$OUT/backend.log" | tail -20
# ... and bench gemm, each GEMM family (2:4 and its dense twin) checked on
# sampled rows, then timed.
echo "== gcompress --device cuda:0 bench gemm"
for t in int8 f16 bf16; do
	./bin/gcompress --device cuda:0 bench gemm --dtype $t --sparse --vs-dense --m 4096 --n 4096 --k 4096 --runs 5 >>"$OUT/backend.log" 2>&1 ||
		{ rc=1; echo "bench gemm --dtype $t failed"; }
done
grep -E '^(gemm |dense |2:4 speed-up)' "$OUT/backend.log"
# ... and a quantized MLP (make gpu-bundle trains it on the embedded digits),
# dense and 2:4, and a quantized LeNet-5, evaluated on the GPU and on the
# CPU: the MLP's three QGemm layers run on the int8 GEMMs (the 2:4 ones for
# the pruned model), LeNet-5's two QLinearConv on im2col and the int8 GEMM,
# so the accuracies should agree (an output may differ by one from the
# CPU's rounding).
echo "== quantized MLP (dense and 2:4) and LeNet-5: accuracy on the GPU and the CPU, placement"
for m in mlp-int8 mlp24-int8 lenet5-int8; do
	for d in cpu cuda:0; do
		printf '%s %s: ' "$m" "$d"
		./bin/gcompress --device "$d" eval "models/$m.onnx" --data mnist --json 2>>"$OUT/backend.log" | tr -d '\n ' || rc=1
		echo
	done
	./bin/gcompress --device cuda:0 run "models/$m.onnx" --random-inputs --dim batch=64 --profile 2>&1 | sed -n '/placement/,$p' || rc=1
done
echo "test-gpu: $([ $rc -eq 0 ] && echo PASS || echo FAIL)"
exit $rc
