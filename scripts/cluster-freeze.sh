#!/usr/bin/env bash
# The freeze test again and again: ClusterFreezeTests (two `kiln` nodes on this machine's
# PostgreSQL; node b is stopped with SIGSTOP for four lease times in the middle of node
# a's campaign, then continued) RUNS times in a row (default 20), then a table of the runs
# (pass or fail, duplicates, stale outcomes, run time, what b held leased when it was
# stopped, what it sent in all) and a count. Exits non-zero if any
# run failed. Each run's output is kept in a directory named at the end.
# With --partition it runs ClusterPartitionTests instead: node a's connection to
# PostgreSQL is cut for three lease times (a proxy that stops passing bytes), then healed;
# the table shows what a sent after its leases lapsed and how often /readyz said 503.
#
#   scripts/cluster-freeze.sh [--partition] [RUNS]
#
# Every build and every test run holds /tmp/kiln-build.lock (shared with whoever else
# builds in this tree), one run at a time, not the whole loop.
set -euo pipefail
kind=freeze
suite=ClusterFreezeTests
if [ "${1:-}" = "--partition" ]; then
  kind=partition
  suite=ClusterPartitionTests
  shift
fi
runs=${1:-20}
case "$runs" in ''|*[!0-9]*|0) echo "usage: $0 [RUNS] (a positive number)" >&2; exit 2 ;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
lock=/tmp/kiln-build.lock
logs=$(mktemp -d /tmp/kiln-cluster-$kind.XXXXXX)

echo "building (swift build --build-tests)" >&2
if ! flock "$lock" swift build --build-tests >"$logs/build.log" 2>&1; then
  echo "the build failed:" >&2
  tail -20 "$logs/build.log" >&2
  exit 1
fi
eval "$(scripts/postgres-test-env.sh)"
if [ -z "${KILN_TEST_POSTGRES_URL:-}" ]; then
  echo "no PostgreSQL for the tests (scripts/postgres-test-env.sh printed no KILN_TEST_POSTGRES_URL)" >&2
  exit 1
fi
export KILN_TEST_POSTGRES_URL KILN_TEST_POSTGRES_PASSWORD

# The figure KEY=VALUE of a freeze line ("-" when absent).
figure() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2" | head -1 | grep . || echo -; }

rows=()
failed=0
for i in $(seq 1 "$runs"); do
  log="$logs/run-$i.log"
  status=0
  flock "$lock" swift test --skip-build --filter "$suite" >"$log" 2>&1 || status=$?
  line=$(grep -m1 "^$kind: " "$log" || true)
  if [ "$status" = 0 ] && grep -q "^$kind: ok " <<<"$line"; then
    result=pass
  else
    result=FAIL
    failed=$((failed + 1))
    if [ -z "$line" ]; then line="$kind: (no summary line; exit $status)"; fi
    if grep -qiE 'connection refused|connection reset|could not connect|the database system is (starting|shutting) up' "$log"; then
      result="FAIL (postgres connection?)"
    fi
  fi
  if [ "$kind" = freeze ]; then
    row=$(printf '%3d  %-27s %10s %6s %9s %10s %9s %7s  %s' "$i" "$result" "$(figure duplicates "$line")" "$(figure stale "$line")" \
      "$(figure run "$line")" "$(figure frozen_at "$line")" "$(figure b_leased_at_freeze "$line")" "$(figure b_sent "$line")" "$(figure stale_kinds "$line")")
  else
    row=$(printf '%3d  %-27s %10s %6s %9s %10s %17s %14s  %s' "$i" "$result" "$(figure duplicates "$line")" "$(figure stale "$line")" \
      "$(figure run "$line")" "$(figure cut_at "$line")" "$(figure a_sent_after_lapse "$line")" "$(figure not_ready_polls "$line")" \
      "$(figure reasons "$line")")
  fi
  rows+=("$row")
  echo "$row" >&2
done

echo
if [ "$kind" = freeze ]; then
  printf '%3s  %-27s %10s %6s %9s %10s %9s %7s  %s\n' run result duplicates stale "run time" "frozen at" "b leased" "b sent" "stale outcomes would have recorded"
else
  printf '%3s  %-27s %10s %6s %9s %10s %17s %14s  %s\n' run result duplicates stale "run time" "cut at" "a sent after lapse" "503 polls" "readyz said"
fi
printf '%s\n' "${rows[@]}"
echo
echo "$((runs - failed)) of $runs runs passed, $failed failed (logs: $logs)"
[ "$failed" = 0 ]
