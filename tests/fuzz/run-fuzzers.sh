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
src=$(cd "$(dirname "$0")/../.." && pwd)

if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" "$src" -Dfuzz=enabled \
		-Db_sanitize=address,undefined -Db_lundef=false >"$build.setup.log" 2>&1 || {
		cat "$build.setup.log" >&2
		echo "$0: meson setup failed" >&2
		exit 2
	}
	rm -f "$build.setup.log"
fi
if ! grep -q -e '-fsanitize=fuzzer' "$build/build.ninja"; then
	echo "$0: $build is not a libFuzzer build; use a new directory or reconfigure it:" >&2
	echo "  CC=clang meson setup $build -Dfuzz=enabled -Db_sanitize=address,undefined -Db_lundef=false" >&2
	exit 2
fi

# The fuzz targets are the executables named fuzz-* (tests/fuzz/meson.build
# and any other meson.build that follows its pattern); each one's seeds are in
# corpus/NAME/ next to the meson.build that defines it. Regenerate first so
# that the introspection data is current.
ninja -C "$build" build.ninja >/dev/null 2>&1 || {
	echo "$0: meson could not regenerate $build" >&2
	exit 2
}
targets=$(meson introspect "$build" --targets | /usr/bin/python3 -c '
import json, os, sys
build = os.path.realpath(sys.argv[1])
for t in json.load(sys.stdin):
    if t["type"] == "executable" and t["name"].startswith("fuzz-"):
        binary = os.path.relpath(t["filename"][0], build)
        corpus = os.path.join(os.path.dirname(t["defined_in"]), "corpus", t["name"])
        print(t["name"], binary, corpus)
' "$build")
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

count_files() {
	find "$1" -mindepth 1 -maxdepth 1 -type f | wc -l
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vd-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
artifacts="$build/fuzz-artifacts"

echo "$targets" >"$tmp/targets"
failed=0
while read -r t binary seed_dir; do
	dir="$tmp/$t"
	mkdir -p "$dir/corpus" "$dir/artifacts"
	if [ -d "$seed_dir" ]; then
		cp "$seed_dir"/* "$dir/corpus/" 2>/dev/null || true
	fi
	# -entropic=0 for the structure-aware targets: each of their runs sets
	# tens of thousands of features, and entropic scheduling's bookkeeping
	# of them took half the time (fuzz-proxy: 64 -> 105 executions/s, and
	# more coverage in the same time).
	extra=
	case $t in
	fuzz-policy) cp "$src/proxy/default.policy" "$dir/corpus/default.policy" ;;
	fuzz-proxy|fuzz-proxy-*|fuzz-hostd-*) extra=-entropic=0 ;;
	esac
	seeds=$(count_files "$dir/corpus")
	rc=0
	# shellcheck disable=SC2086 # $extra: no flag or one
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	LSAN_OPTIONS=suppressions="$src/tests/lsan.supp" \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		"$build/$binary" $extra -max_total_time="$seconds" -timeout=10 \
		-print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
		"$dir/corpus" </dev/null >"$dir/log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n 1)
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
