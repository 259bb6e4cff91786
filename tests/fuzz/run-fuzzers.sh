#!/bin/sh
# Runs every libFuzzer target for a while.
#
# usage: tests/fuzz/run-fuzzers.sh BUILD_DIR SECONDS_PER_TARGET
#
# Sets BUILD_DIR up as a clang fuzz build if it does not exist (-Dfuzz=enabled
# with ASan and UBSan), builds the fuzz targets (the executables that
# tests/fuzz/meson.build defines) and runs each one for SECONDS_PER_TARGET on a
# copy of its seed corpus in a temporary directory, so the repository is never
# modified. Prints one line per target;
# crash inputs are kept in BUILD_DIR/fuzz-artifacts/. Exits 1 if any target
# crashed, leaked or timed out, 2 on usage or setup errors.
set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 BUILD_DIR SECONDS_PER_TARGET" >&2
	exit 2
fi
build=$1
seconds=$2
case $seconds in
''|*[!0-9]*)
	echo "$0: SECONDS_PER_TARGET must be a number, got '$seconds'" >&2
	exit 2
	;;
esac
. "$(dirname "$0")/fuzz-lib.sh"

fuzz_setup "$build" || exit 2
targets=$(fuzz_targets "$build")
if [ -z "$targets" ]; then
	echo "$0: $build defines no fuzz targets" >&2
	exit 2
fi
# shellcheck disable=SC2046 # word splitting wanted
ninja -C "$build" -j2 $(echo "$targets" | cut -d ' ' -f 2) >"$build/fuzz-build.log" 2>&1 || {
	tail -n 30 "$build/fuzz-build.log" >&2
	echo "$0: building the fuzz targets failed (log: $build/fuzz-build.log)" >&2
	exit 2
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vd-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
artifacts="$build/fuzz-artifacts"

echo "$targets" >"$tmp/targets"
failed=0
while read -r t binary seed_dir; do
	dir="$tmp/$t"
	mkdir -p "$dir/corpus" "$dir/artifacts"
	fuzz_seed "$t" "$seed_dir" "$dir/corpus"
	extra=$(fuzz_flags "$t")
	seeds=$(count_files "$dir/corpus")
	rc=0
	# shellcheck disable=SC2086 # $extra: no flag or one
	"$build/$binary" $extra -max_total_time="$seconds" -timeout=10 \
		-print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
		"$dir/corpus" </dev/null >"$dir/log" 2>&1 || rc=$?
	execs=$(fuzz_execs "$dir/log")
	corpus=$(count_files "$dir/corpus")
	found=$(count_files "$dir/artifacts")
	if [ "$rc" -eq 0 ] && [ "$found" -eq 0 ]; then
		echo "$t: ${execs:-?} executions in ${seconds} s, corpus $seeds -> $corpus inputs, no crash"
	else
		failed=1
		mkdir -p "$artifacts"
		cp "$dir/artifacts"/* "$artifacts/" 2>/dev/null || true
		cp "$dir/log" "$artifacts/$t.log"
		echo "$t: ${execs:-?} executions, CRASH (exit $rc, $found artifacts in $artifacts/, log $artifacts/$t.log)"
		grep -m 5 -E 'ERROR|SUMMARY|runtime error' "$dir/log" | sed 's/^/    /' || true
	fi
done <"$tmp/targets"
exit $failed
