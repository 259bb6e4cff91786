#!/bin/bash
# A long fuzzing campaign of one target, in legs that resume one another
# across sessions and machines, with a ledger of the runs.
#
# usage: tests/fuzz/campaign.sh [-j JOBS] [-t SECONDS] [-w DIR] [-k] BUILD_DIR TARGET RUNS
#                               [-- LIBFUZZER_FLAG...]
#        tests/fuzz/campaign.sh -s [-w DIR] BUILD_DIR TARGET
#
# Sets BUILD_DIR up as an -O2 libFuzzer build with ASan and UBSan if it does
# not exist (the -O0 build of run-fuzzers.sh works too, at about half the
# speed), builds TARGET and runs a leg: JOBS processes (default: the number
# of processors) on one shared corpus until the campaign has RUNS runs with
# no finding, SECONDS have passed, or Ctrl+C. Run the same command again to
# go on: the corpus, the findings and the ledger live in DIR (default
# BUILD_DIR/campaigns/TARGET), and the first leg starts from the target's
# seeds in tests/fuzz/corpus/. A finding (crash, leak, UBSan report, timeout,
# out of memory) ends the leg, is kept in DIR/artifacts/ and restarts the
# count: the runs before it ran on code with a bug. -k merges the inputs
# that add coverage into tests/fuzz/corpus/TARGET at the end (-merge=1);
# this changes the repository. -s prints the ledger.
#
# Run it under nice -n 19 on a shared machine. Exits 0 when the campaign has
# RUNS runs or the leg ended without a finding, 1 on a finding, 2 on usage
# or setup errors.
set -u

usage() {
	sed -n '5,7s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

jobs=$(nproc 2>/dev/null || echo 1)
seconds=
work=
keep=0
status=0
while getopts "j:t:w:ks" opt; do
	case $opt in
	j) jobs=$OPTARG ;;
	t) seconds=$OPTARG ;;
	w) work=$OPTARG ;;
	k) keep=1 ;;
	s) status=1 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
number() {
	case $2 in
	''|*[!0-9]*|0)
		echo "$0: $1 must be a positive number, got '$2'" >&2
		exit 2
		;;
	esac
}
number JOBS "$jobs"
if [ -n "$seconds" ]; then
	number SECONDS "$seconds"
fi
if [ "$status" -eq 1 ]; then
	[ $# -eq 2 ] || usage
else
	[ $# -ge 3 ] || usage
	number RUNS "$3"
fi
build=$1
target=$2
goal=${3:-0}
shift $(($# < 3 ? $# : 3))
if [ $# -gt 0 ]; then
	[ "$1" = "--" ] || usage
	shift
fi
extra_flags=("$@")
work=${work:-$build/campaigns/$target}

. "$(dirname "$0")/fuzz-lib.sh"

# The ledger: one line per leg, tab-separated: its start (UTC), the code's
# commit, jobs, seconds, runs, and "ok", "stopped" or "finding".
ledger=$work/ledger

# The runs with no finding: those of the legs after the last finding.
ledger_total() {
	[ -f "$ledger" ] || { echo 0; return; }
	awk -F '\t' '$6 == "finding" { n = 0; next } { n += $5 } END { print n + 0 }' "$ledger"
}

if [ "$status" -eq 1 ]; then
	if [ ! -f "$ledger" ]; then
		echo "$0: no campaign of $target in $work" >&2
		exit 2
	fi
	printf 'start\tcommit\tjobs\tseconds\truns\tresult\n'
	cat "$ledger"
	echo "$target: $(ledger_total) runs with no finding since the last finding"
	exit 0
fi

fuzz_setup "$build" --buildtype=debugoptimized || exit 2
line=$(fuzz_targets "$build" | awk -v t="$target" '$1 == t')
if [ -z "$line" ]; then
	echo "$0: $build has no fuzz target '$target'; it has:" >&2
	fuzz_targets "$build" | cut -d ' ' -f 1 | tr '\n' ' ' >&2
	echo >&2
	exit 2
fi
binary=$build/$(echo "$line" | cut -d ' ' -f 2)
seed_dir=$(echo "$line" | cut -d ' ' -f 3)
ninja -C "$build" "${binary#"$build"/}" >"$build/campaign-build.log" 2>&1 || {
	tail -n 30 "$build/campaign-build.log" >&2
	echo "$0: building $target failed (log: $build/campaign-build.log)" >&2
	exit 2
}

mkdir -p "$work/logs" "$work/artifacts" || exit 2
if [ ! -d "$work/corpus" ]; then
	fuzz_seed "$target" "$seed_dir" "$work/corpus"
fi
done_runs=$(ledger_total)
if [ "$done_runs" -ge "$goal" ]; then
	echo "$target: the campaign has $done_runs runs with no finding (goal $goal); nothing to do"
	exit 0
fi
left=$((goal - done_runs))
if [ "$jobs" -gt "$left" ]; then
	jobs=$left
fi
per_job=$(((left + jobs - 1) / jobs))
commit=$(git -C "$fuzz_src" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
leg=$(date -u +%Y%m%d-%H%M%S)
corpus_before=$(count_files "$work/corpus")
artifacts_before=$(count_files "$work/artifacts")
read -r -a flags <<<"$(fuzz_flags "$target")"
time_flag=()
if [ -n "$seconds" ]; then
	time_flag=(-max_total_time="$seconds")
fi

echo "$target: leg $leg: $jobs jobs of $per_job runs (the campaign has $done_runs of $goal)," \
	"corpus $work/corpus ($corpus_before inputs), logs $work/logs/$leg-*.log"
pids=()
for i in $(seq 1 "$jobs"); do
	"$binary" "${flags[@]}" -runs="$per_job" "${time_flag[@]}" -print_final_stats=1 \
		-artifact_prefix="$work/artifacts/" "${extra_flags[@]}" "$work/corpus" \
		</dev/null >"$work/logs/$leg-$i.log" 2>&1 &
	pids+=("$!")
done

stopped=0
stop_jobs() {
	kill -INT "${pids[@]}" 2>/dev/null
}
trap 'stopped=1; stop_jobs' INT TERM

# libFuzzer ends with 0 at its run or time limit and with 72 when
# interrupted; anything else is a finding (or a harness that died), which
# stops the other jobs.
finding=0
t0=$(date +%s)
live=("${pids[@]}")
while [ ${#live[@]} -gt 0 ]; do
	pid=
	rc=0
	wait -n -p pid "${live[@]}" || rc=$?
	if [ -z "${pid:-}" ]; then
		continue # a trapped signal woke the wait
	fi
	rest=()
	for p in "${live[@]}"; do
		[ "$p" = "$pid" ] || rest+=("$p")
	done
	live=("${rest[@]}")
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 72 ] && [ "$finding" -eq 0 ]; then
		finding=1
		echo "$target: job with pid $pid ended with $rc: stopping the others" >&2
		stop_jobs
	fi
done
trap - INT TERM
elapsed=$(($(date +%s) - t0))

runs=0
for i in $(seq 1 "$jobs"); do
	n=$(fuzz_execs "$work/logs/$leg-$i.log")
	runs=$((runs + ${n:-0}))
done
if [ "$(count_files "$work/artifacts")" -gt "$artifacts_before" ]; then
	finding=1
fi
result=ok
if [ "$finding" -eq 1 ]; then
	result=finding
elif [ "$stopped" -eq 1 ]; then
	result=stopped
fi
printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$start" "$commit" "$jobs" "$elapsed" "$runs" "$result" \
	>>"$ledger"
total=$(ledger_total)
rate=$((runs / (elapsed > 0 ? elapsed : 1)))
echo "$target: leg $leg ($result): $runs runs in $elapsed s ($rate/s)," \
	"corpus $corpus_before -> $(count_files "$work/corpus") inputs"
if [ "$finding" -eq 1 ]; then
	echo "$target: FINDING: see $work/artifacts/ and the logs:" >&2
	grep -h -m 5 -E 'ERROR|SUMMARY|runtime error' "$work/logs/$leg"-*.log | sed 's/^/    /' >&2
	echo "$target: the count restarts after the fix" >&2
	exit 1
fi
echo "$target: $total of $goal runs with no finding (ledger: $ledger)"

if [ "$keep" -eq 1 ]; then
	kept_before=$(count_files "$seed_dir")
	"$binary" "${flags[@]}" -merge=1 "$seed_dir" "$work/corpus" \
		>"$work/logs/$leg-merge.log" 2>&1 || {
		echo "$0: merging into $seed_dir failed (log: $work/logs/$leg-merge.log)" >&2
		exit 2
	}
	echo "$target: kept corpus $seed_dir: $kept_before -> $(count_files "$seed_dir") inputs"
fi
exit 0
