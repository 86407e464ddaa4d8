#!/usr/bin/env bash
# Runs the built test suite (`swift test --skip-build`, extra arguments passed on) with a
# time limit, streaming its output, and ends with what a reader of only the last lines
# needs: the failed expectations and tests, a crash's message and frames, and, when the
# limit was hit, the tests that started and never finished. Exits with the suite's status.
#   scripts/run-tests.sh [swift test arguments...]
# TEST_TIMEOUT (seconds, default 600; the suite takes 2-3 minutes): the whole suite's limit; a hung test fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
LIMIT=${TEST_TIMEOUT:-600}
LOG=$(mktemp /tmp/kiln-test-XXXXXX.log)
# A crash's backtrace: the crashed thread only, quickly (the full default took minutes
# with the suite's hundreds of threads).
export SWIFT_BACKTRACE=${SWIFT_BACKTRACE:-enable=yes,interactive=no,threads=crashed,registers=none,images=none,unwind=fast,symbolicate=fast}

# The suite writes to a file rather than a pipe: a test process that outlives the limit
# cannot then hold the stream (and this script) open.
timeout --kill-after=30 "$LIMIT" "$SWIFT" test --skip-build "$@" >"$LOG" 2>&1 &
pid=$!
tail -n +1 -f --pid="$pid" "$LOG"
wait "$pid"
status=$?
# A test bundle left behind by a killed `swift test` (it is not always in its process group;
# this assumes one test run at a time on the machine, as CI and `make test` do).
# A crashed bundle's backtrace is still being written when `swift test` returns: wait for
# it (up to 4 minutes) before reading the log.
if [ "$status" -ne 0 ]; then
  for _ in $(seq 1 240); do
    pgrep -f 'swift-backtrace|KilnPackageTests.xctest' >/dev/null || break
    sleep 1
  done
  pkill -KILL -f 'KilnPackageTests.xctest' 2>/dev/null || true
fi

if [ "$status" -ne 0 ]; then
  echo
  echo "==== test summary (full output: $LOG) ===="
  if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    echo "the suite did not finish within ${LIMIT} s; tests started and never finished:"
    grep -aoE '^◇ Test [^ ]+ started' "$LOG" | sed -E 's/^◇ Test (.*) started/\1/' | sort >"$LOG.started"
    grep -aoE '^[✔✘] Test [^ ]+ ' "$LOG" | sed -E 's/^. Test ([^ ]+) /\1/' | sort >"$LOG.ended"
    comm -23 "$LOG.started" "$LOG.ended" | grep -vx 'run' | sed 's/^/  /'
  fi
  # Failed expectations with their comments, failed tests and suites, and a crash: its
  # message and the first frames of the thread that crashed.
  awk '
    /recorded an issue/ { print; comment = 1; next }
    comment && /^↳/ { print; next }
    { comment = 0 }
    /^✘ (Test|Suite)/ { print }
    /\*\*\* Program crashed/ || /Fatal error:/ || /^error: / { print }
    /^Thread [0-9]+ .*crashed:$/ { frames = 16 }
    frames > 0 { print; frames-- }
  ' "$LOG" | tail -n 200
  echo "==== exit status $status ===="
fi
exit "$status"
