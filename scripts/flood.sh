#!/usr/bin/env bash
# The descriptor flood, RUNS times in a row (default 5): `kiln run --listen` with submission
# over SMTP under `ulimit -n 1024`, 1,000 idle connections to each listener, a message
# queued during the flood must arrive, and the process must live
# (FrontDoorCLITests.aFloodOfIdleConnectionsNeitherCrashesTheDaemonNorStopsDelivery).
#   scripts/flood.sh [RUNS]
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
swift build --build-tests >/dev/null || exit 1
passed=0
for i in $(seq 1 "$runs"); do
  if swift test --skip-build --filter aFloodOfIdleConnectionsNeitherCrashesTheDaemonNorStopsDelivery >/tmp/kiln-flood-$i.log 2>&1; then
    passed=$((passed + 1)); echo "run $i: passed"
  else
    echo "run $i: FAILED (/tmp/kiln-flood-$i.log)"; grep -E "recorded an issue|crashed" /tmp/kiln-flood-$i.log | head -5
  fi
done
echo "flood: $passed of $runs runs passed"
[ "$passed" -eq "$runs" ]
