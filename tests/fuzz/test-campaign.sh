#!/bin/bash
# Checks campaign.sh on a libFuzzer build: a leg reaches its goal and the
# next call has nothing to do, a leg stopped by SIGTERM is counted, a finding
# is kept and restarts the count, and the ledger says so.
#
# usage: tests/fuzz/test-campaign.sh BUILD_DIR
# Prints one line per check ("ok: ..." or "FAILED: ..."); exits 1 if one failed.
set -u

if [ $# -ne 1 ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
build=$1
here=$(dirname "$0")
campaign=$here/campaign.sh
target=fuzz-color # the fastest target: a leg of 20,000 runs takes a second
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vd-campaign.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failed=0

# result NAME STATUS: the check NAME passed if STATUS (of its test) is 0.
result() {
	if [ "$2" -eq 0 ]; then
		echo "ok: $1"
	else
		echo "FAILED: $1"
		failed=1
	fi
}
total() {
	"$campaign" -s -w "$1" "$build" "$target" | sed -n 's/^.*: \([0-9]*\) runs with no finding.*/\1/p'
}

w=$tmp/goal
rc=0
"$campaign" -j 2 -w "$w" "$build" "$target" 20000 >"$tmp/goal.log" 2>&1 || rc=$?
[ "$rc" -eq 0 ] && [ "$(total "$w")" = 20000 ]
result "a leg of 20000 runs ends with 0 and counts them" $?
"$campaign" -j 2 -w "$w" "$build" "$target" 20000 >"$tmp/again.log" 2>&1
grep -q "nothing to do" "$tmp/again.log" && [ "$(wc -l <"$w/ledger")" -eq 1 ]
result "the next call with the same goal has nothing to do" $?

w=$tmp/stop
"$campaign" -j 2 -w "$w" "$build" "$target" 1000000000 >"$tmp/stop.log" 2>&1 &
pid=$!
sleep 3
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 0 ] && grep -q "	stopped$" "$w/ledger" && [ "$(total "$w")" -gt 0 ] &&
	! pgrep -f -- "-artifact_prefix=$w/" >/dev/null
result "a leg stopped by SIGTERM ends with 0, is counted and leaves no job" $?

# A finding: libFuzzer's memory limit at 1 MB is passed at once.
stopped=$(total "$w")
rc=0
"$campaign" -j 2 -w "$w" "$build" "$target" 1000000000 -- -rss_limit_mb=1 \
	>"$tmp/finding.log" 2>&1 || rc=$?
[ "$rc" -eq 1 ] && compgen -G "$w/artifacts/oom-*" >/dev/null && [ "$(total "$w")" = 0 ] &&
	grep -q "	finding$" "$w/ledger"
result "a finding ends with 1, is kept, and restarts the count (it was $stopped)" $?

rc=0
"$campaign" -j 0 "$build" "$target" 10 >"$tmp/usage.log" 2>&1 || rc=$?
[ "$rc" -eq 2 ] && grep -q "JOBS must be a positive number" "$tmp/usage.log"
result "a bad number of jobs is a usage error" $?

if [ "$failed" -ne 0 ]; then
	for f in "$tmp"/*.log; do
		echo "--- $f"
		cat "$f"
	done
fi
exit $failed
