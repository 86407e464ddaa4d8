#!/usr/bin/env bash
# The cluster figures: lease contention with 1, 2, 4 and 8 lessees, and one node end to end
# on SQLite and on PostgreSQL (same workload, medians of 3), against this machine's
# PostgreSQL (started, with a test role, by scripts/postgres-test-env.sh --install).
#   scripts/cluster-bench.sh [--messages N] [--lessees 1,2,4,8] [--smtp smtp://127.0.0.1:PORT]
# With --nodes it measures whole nodes instead (scripts/cluster-scale.sh: N `kiln run`
# processes on one PostgreSQL; msg/s, round trips per delivered message, lock waits):
#   scripts/cluster-bench.sh --nodes 1,2,4,8 [--messages N] [--rounds R]
set -euo pipefail
case " $* " in
  *" --nodes "*) exec "$(dirname "$0")/cluster-scale.sh" "$@" ;;
esac
cd "$(dirname "$0")/.."
eval "$(scripts/postgres-test-env.sh --install)"
swift build -c release --product kiln-cluster-bench >&2
KILN_BENCH_POSTGRES_PASSWORD=$KILN_TEST_POSTGRES_PASSWORD "$(swift build -c release --show-bin-path)/kiln-cluster-bench" "$KILN_TEST_POSTGRES_URL" "$@"
