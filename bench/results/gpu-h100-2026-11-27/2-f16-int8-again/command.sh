#!/usr/bin/env bash
# Session 21 device script, second call: the f16 2:4 candidates at 8192^3
# (the first call's bench ran out of time there), the int8 leaders again at
# 4096^3 and 8192^3, and an Nsight Compute profile of the int8 leaders.
set -u
here=$(cd "$(dirname "$0")" && pwd)
d=/tmp/g; rm -rf $d; mkdir -p $d; tar -xzf "$here/gcompress-gpu.tar.gz" -C $d || exit 1
cd $d
export CUDA_CACHE_MAXSIZE=4294967296
t0=$(date +%s)
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv
echo "== f16 2:4 candidates at 8192^3"
timeout -k 5 190 ./bin/kernelbench -bench -sizes 8192 -kernels f16_sparse24,f16_dense -tiles w128x128,w128x256t,w256x192,w128x256f,w128x128f,w256x128f,w256x192t,w128x256ft,w256x192ft \
  -vendor "$here/vendor-s21.json" -out "$OUT/kb-f16.json" >"$OUT/kb-f16.log" 2>&1
echo "rc=$? after $(( $(date +%s) - t0 )) s"
sed -n '/== summary ==/,$p' "$OUT/kb-f16.log" | cut -c1-60,100-250
echo "== int8 leaders again, 4096^3 and 8192^3"
timeout -k 5 140 ./bin/kernelbench -bench -sizes 4096,8192 -kernels int8_dense,int8_sparse24 -tiles w128x256,w128x256t,w256x192t,w128x256ft,w256x192ft \
  -vendor "$here/vendor-s21.json" -out "$OUT/kb-int8.json" >"$OUT/kb-int8.log" 2>&1
echo "rc=$? after $(( $(date +%s) - t0 )) s"
sed -n '/== summary ==/,$p' "$OUT/kb-int8.log" | cut -c1-60,100-250
echo "== ncu"
if command -v ncu >/dev/null; then
  timeout -k 5 95 ncu --kernel-name regex:'^gc_(sp)?gemm_' --launch-count 4 \
    --section SpeedOfLight --section WarpStateStats --section SchedulerStats --section MemoryWorkloadAnalysis --section Occupancy \
    ./bin/kernelbench -bench -sizes 4096 -reps 1 -warmup 0 -kernels int8_dense,int8_sparse24 -tiles w128x256t,w256x192ft -out /tmp/ncu.json >"$OUT/ncu.txt" 2>&1
  echo "ncu rc=$?"
  grep -E '^  gc_|Compute \(SM\) Throughput|Memory Throughput|Duration|Issue Slots Busy|No Eligible|Registers Per|Achieved Occupancy|Stall' "$OUT/ncu.txt" | head -60
else echo "no ncu"; fi
echo "all done after $(( $(date +%s) - t0 )) s"
