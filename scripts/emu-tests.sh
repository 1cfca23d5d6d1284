#!/bin/sh
# Runs the emulator's test binary (make test-emu builds it) as five jobs,
# two at a time (the emulator runs a launch on one thread, so one job per
# core): every test but the GEMM suites, then the GEMM suites in four shards
# (GCOMPRESS_TEST_SHARD). Whichever core is free takes the next job, so no
# core idles while the other works through a heavy shard. Prints the end of
# each job's log, and a failing job's log whole; fails if any job failed.
#   usage: scripts/emu-tests.sh BUILD/emu.test LOGDIR
set -u
if [ "${1:-}" = --job ]; then
	bin=$2 logs=$3 job=$4
	log="$logs/emu-$(echo "$job" | tr / -).log"
	if [ "$job" = rest ]; then
		"$bin" -test.skip '^TestEmulatedGemm$' -test.timeout 15m >"$log" 2>&1
	else
		GCOMPRESS_TEST_SHARD=$job "$bin" -test.run '^TestEmulatedGemm$' -test.timeout 15m >"$log" 2>&1
	fi
	r=$?
	# One write per job, so that the two jobs' reports do not interleave.
	if [ $r -ne 0 ]; then body=$(cat "$log"); else body=$(tail -2 "$log"); fi
	printf '== emulator tests, %s: rc=%d\n%s\n' "$job" "$r" "$body"
	# xargs goes on past a job that exits 1-125 and exits 123 at the end.
	[ $r -eq 0 ] || exit 1
	exit 0
fi
[ $# -eq 2 ] || { echo "usage: $0 BUILD/emu.test LOGDIR" >&2; exit 2; }
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
logs=$(mkdir -p "$2" && cd "$2" && pwd)
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$0")/../kernels/emu" || exit 1
printf '%s\n' rest 0/4 2/4 1/4 3/4 | xargs -P 2 -I{} sh "$self" --job "$bin" "$logs" {}
