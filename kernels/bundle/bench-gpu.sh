#!/usr/bin/env bash
# bench-gpu.sh: times gcompress's GEMM kernels beside the vendor libraries
# on this GPU, in one run, and checks every kernel first.
#   1. vendor_bench.py (PyTorch: torch._int_mm, torch.matmul,
#      to_sparse_semi_structured) -> $OUT/vendor.json
#   2. kernelbench -bench -vendor ... -> $OUT/kernelbench.json
#      (CUDA-event timings with L2 flushes, each kernel checked against the
#      reference on sampled rows first, acceptance ratios, NVML
#      utilisation/power while it ran, device and driver; with CHECK=1 also
#      the full kernel suites, as test-gpu.sh runs them)
#   3. gcompress devices --json -> $OUT/devices.json
# Copy $OUT/kernelbench.json to bench/results/ in the repository.
# SIZES (default 4096,8192), REPS (default 20), CHECK (default 0), TILES
# (default: the tile shape launches use on this GPU; "all" times every
# shape, see kernelbench -tiles) and KERNELS (default: every family; a
# comma-separated list of int8_dense, f16_dense, bf16_dense, int8_sparse24,
# f16_sparse24, see kernelbench -kernels) can be set; PERSISTENT=1 times the
# p, m and q shapes also in persistent blocks (kernelbench -persistent);
# LAYOUTS (comma-separated: rows, values-rows, meta-rows) the 2:4 GEMMs
# also with A laid out in each of those ways (kernelbench -layouts; by
# default its values and metadata come k tile by k tile, as the CUDA
# backend uploads them; rows is the layout before session 27, values-rows
# session 27's). PROFILE=1 adds an Nsight
# Compute profile of one launch of each timed GEMM at 4096^3 (speed of
# light, warp stall reasons, scheduler, pipes) -> $OUT/ncu.txt.
set -uo pipefail
cd "$(dirname "$0")"
OUT=${OUT:-$PWD/out}
SIZES=${SIZES:-4096,8192}
REPS=${REPS:-20}
TILES=${TILES:-default}
check=()
[ "${CHECK:-0}" = 1 ] && check=(-check)
kbargs=()
[ -n "${KERNELS:-}" ] && kbargs=(-kernels "$KERNELS")
[ "${PERSISTENT:-0}" = 1 ] && kbargs+=(-persistent)
[ -n "${LAYOUTS:-}" ] && kbargs+=(-layouts "$LAYOUTS")
mkdir -p "$OUT"
rc=0
echo "== gcompress devices"
./bin/gcompress devices || rc=1
./bin/gcompress devices --json >"$OUT/devices.json" || rc=1
echo "== vendor baselines (PyTorch)"
PYTHONUNBUFFERED=1 python3 vendor_bench.py --sizes "$SIZES" --reps "$REPS" --out "$OUT/vendor.json" 2>&1 | tail -30
vendor=()
[ -s "$OUT/vendor.json" ] && vendor=(-vendor "$OUT/vendor.json")
echo "== kernelbench"
kb=0
./bin/kernelbench "${check[@]}" -bench -sizes "$SIZES" -reps "$REPS" -tiles "$TILES" "${kbargs[@]}" "${vendor[@]}" -out "$OUT/kernelbench.json" "$@" >"$OUT/kernelbench.log" 2>&1 || kb=1
sed -n '/^device:/p;/== kernel checks/,/checks took/p;/== summary ==/,$p' "$OUT/kernelbench.log"
if [ $kb -ne 0 ]; then
	rc=1
	grep -q '^== summary ==' "$OUT/kernelbench.log" || tail -15 "$OUT/kernelbench.log"
fi
if [ "${PROFILE:-0}" = 1 ]; then
	echo "== ncu (PROFILE=1)"
	if command -v ncu >/dev/null; then
		# With one timed repeat and no warm-up kernelbench launches each
		# GEMM twice (the sampled-row check, then the timing): ncu
		# profiles both, at most 20 launches in all.
		ncu --kernel-name regex:'^gc_(sp)?gemm_' --launch-count 20 \
			--section SpeedOfLight --section WarpStateStats --section SchedulerStats \
			--section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis --section LaunchStats --section Occupancy \
			./bin/kernelbench -bench -sizes 4096 -reps 1 -warmup 0 -tiles "$TILES" "${kbargs[@]}" -out /tmp/ncu-kernelbench.json \
			>"$OUT/ncu.txt" 2>&1 || rc=1
		grep -E '^  gc_|Compute \(SM\) Throughput|Memory Throughput|Duration|Issue Slots Busy|No Eligible|Registers Per|Achieved Occupancy' "$OUT/ncu.txt" | head -80
	else
		echo "ncu not found on this machine"
	fi
fi
echo "bench-gpu: exit $rc (logs and JSON in $OUT)"
exit $rc
