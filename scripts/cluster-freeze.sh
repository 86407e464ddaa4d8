#!/usr/bin/env bash
# The freeze test again and again: ClusterFreezeTests (two `kiln` nodes on this machine's
# PostgreSQL; node b is stopped with SIGSTOP for four lease times in the middle of node
# a's campaign, then continued) RUNS times in a row (default 20), then a table of the runs
# (pass or fail, duplicates, stale outcomes, run time, what b held leased when it was
# stopped, what it sent in all) and a count. Exits non-zero if any
# run failed. Each run's output is kept in a directory named at the end.
#
#   scripts/cluster-freeze.sh [RUNS]
#
# Every build and every test run holds /tmp/kiln-build.lock (shared with whoever else
# builds in this tree), one run at a time, not the whole loop.
set -euo pipefail
runs=${1:-20}
case "$runs" in ''|*[!0-9]*|0) echo "usage: $0 [RUNS] (a positive number)" >&2; exit 2 ;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
lock=/tmp/kiln-build.lock
logs=$(mktemp -d /tmp/kiln-cluster-freeze.XXXXXX)

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
  flock "$lock" swift test --skip-build --filter ClusterFreezeTests >"$log" 2>&1 || status=$?
  line=$(grep -m1 '^freeze: ' "$log" || true)
  if [ "$status" = 0 ] && grep -q '^freeze: ok ' <<<"$line"; then
    result=pass
  else
    result=FAIL
    failed=$((failed + 1))
    if [ -z "$line" ]; then line="freeze: (no summary line; exit $status)"; fi
    if grep -qiE 'connection refused|connection reset|could not connect|the database system is (starting|shutting) up' "$log"; then
      result="FAIL (postgres connection?)"
    fi
  fi
  row=$(printf '%3d  %-27s %10s %6s %9s %10s %9s %7s  %s' "$i" "$result" "$(figure duplicates "$line")" "$(figure stale "$line")" \
    "$(figure run "$line")" "$(figure frozen_at "$line")" "$(figure b_leased_at_freeze "$line")" "$(figure b_sent "$line")" "$(figure stale_kinds "$line")")
  rows+=("$row")
  echo "$row" >&2
done

echo
printf '%3s  %-27s %10s %6s %9s %10s %9s %7s  %s\n' run result duplicates stale "run time" "frozen at" "b leased" "b sent" "stale outcomes would have recorded"
printf '%s\n' "${rows[@]}"
echo
echo "$((runs - failed)) of $runs runs passed, $failed failed (logs: $logs)"
[ "$failed" = 0 ]
