#!/usr/bin/env bash
# run.sh test|bench|candidates|verify|all [args]: unpacks the gcompress GPU
# bundle next to this script into ${BUNDLE_DIR:-/tmp/gcompress-gpu} (afresh
# each time) and runs test-gpu.sh, bench-gpu.sh (all: both),
# candidates-gpu.sh or verify-gpu.sh there. OUT (default $PWD/out)
# collects logs and results.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${BUNDLE_DIR:-/tmp/gcompress-gpu}
export OUT=${OUT:-$PWD/out}
# The tarball is xz-compressed; without the xz program, Python's lzma reads it.
unpack() {
	if command -v xz >/dev/null; then
		tar -xJf "$here/gcompress-gpu.tar.xz" -C "$dir"
	else
		python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$here/gcompress-gpu.tar.xz" "$dir"
	fi
}
rm -rf "$dir" && mkdir -p "$dir" && unpack || exit 1
what=${1:-all}
shift || true
rc=0
case $what in
test) "$dir/test-gpu.sh" "$@" || rc=1 ;;
bench) "$dir/bench-gpu.sh" "$@" || rc=1 ;;
candidates) "$dir/candidates-gpu.sh" "$@" || rc=1 ;;
verify) "$dir/verify-gpu.sh" "$@" || rc=1 ;;
all)
	"$dir/test-gpu.sh" || rc=1
	"$dir/bench-gpu.sh" || rc=1
	;;
*)
	echo "usage: run.sh test|bench|candidates|verify|all [args]" >&2
	exit 2
	;;
esac
exit $rc
