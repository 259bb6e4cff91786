# shellcheck shell=sh
# Shared by run-fuzzers.sh and campaign.sh (sourced, POSIX sh): how a fuzz
# build is set up, which targets it has, their seeds, flags and sanitizer
# options, and how many runs a libFuzzer log reports.

fuzz_src=$(cd "$(dirname "$0")/../.." && pwd)

# The sanitizers as every run of a target uses them: leaks are findings
# (with the suppressions of libraries' own leaks), and so is any UBSan report.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$fuzz_src/tests/lsan.supp}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS

# fuzz_setup BUILD [MESON_ARGS...]: sets BUILD up as a clang libFuzzer build
# with ASan and UBSan if it does not exist (MESON_ARGS added, for example
# --buildtype=debugoptimized), checks that it is one, and regenerates it so
# that its introspection data is current. Returns 2 with a message on error.
fuzz_setup() {
	fs_build=$1
	shift
	if [ ! -f "$fs_build/build.ninja" ]; then
		CC=clang meson setup "$fs_build" "$fuzz_src" -Dfuzz=enabled \
			-Db_sanitize=address,undefined -Db_lundef=false "$@" \
			>"$fs_build.setup.log" 2>&1 || {
			cat "$fs_build.setup.log" >&2
			echo "$0: meson setup of $fs_build failed" >&2
			return 2
		}
		rm -f "$fs_build.setup.log"
	fi
	if ! grep -q -e '-fsanitize=fuzzer' "$fs_build/build.ninja"; then
		echo "$0: $fs_build is not a libFuzzer build; use a new directory or reconfigure it:" >&2
		echo "  CC=clang meson setup $fs_build -Dfuzz=enabled" \
			"-Db_sanitize=address,undefined -Db_lundef=false" >&2
		return 2
	fi
	ninja -C "$fs_build" build.ninja >/dev/null 2>&1 || {
		echo "$0: meson could not regenerate $fs_build" >&2
		return 2
	}
}

# fuzz_targets BUILD: one line per target, "NAME BINARY SEED_DIR" (BINARY
# relative to BUILD). The targets are the executables named fuzz-* (those of
# tests/fuzz/meson.build and of any meson.build that follows its pattern);
# each one's seeds are in corpus/NAME/ next to the meson.build that defines it.
fuzz_targets() {
	meson introspect "$1" --targets | /usr/bin/python3 -c '
import json, os, sys
build = os.path.realpath(sys.argv[1])
for t in json.load(sys.stdin):
    if t["type"] == "executable" and t["name"].startswith("fuzz-"):
        binary = os.path.relpath(t["filename"][0], build)
        corpus = os.path.join(os.path.dirname(t["defined_in"]), "corpus", t["name"])
        print(t["name"], binary, corpus)
' "$1"
}

# fuzz_seed NAME SEED_DIR DIR: copies target NAME's seeds into DIR.
fuzz_seed() {
	mkdir -p "$3"
	if [ -d "$2" ]; then
		cp "$2"/* "$3/" 2>/dev/null || true
	fi
	case $1 in
	fuzz-policy) cp "$fuzz_src/proxy/default.policy" "$3/default.policy" ;;
	esac
}

# fuzz_flags NAME: the libFuzzer flags target NAME runs with. -entropic=0 for
# the structure-aware targets: each of their runs sets tens of thousands of
# features, and entropic scheduling's bookkeeping of them took half the time
# (fuzz-proxy: 64 -> 105 executions/s, and more coverage in the same time).
fuzz_flags() {
	case $1 in
	fuzz-proxy|fuzz-proxy-*|fuzz-hostd-*|fuzz-clipd|fuzz-menu-writer) echo -entropic=0 ;;
	esac
}

# fuzz_execs LOG: the runs a libFuzzer log reports (its final statistics, or
# its last status line if the process ended without them), or nothing.
fuzz_execs() {
	fe_n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$1" | tail -n 1)
	if [ -z "$fe_n" ]; then
		fe_n=$(sed -n 's/^#\([0-9][0-9]*\)[[:space:]].*/\1/p' "$1" | tail -n 1)
	fi
	echo "$fe_n"
}

# count_files DIR: the files directly in DIR.
count_files() {
	find "$1" -mindepth 1 -maxdepth 1 -type f | wc -l
}
