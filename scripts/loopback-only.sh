#!/usr/bin/env bash
# Runs a command in a network namespace that holds only loopback (`unshare --net`, lo up):
# nothing the command does can reach beyond this machine, so a test that would query the
# system's resolver or any outside address fails instead of passing by luck. PostgreSQL,
# when installed, runs inside the namespace for the command's duration (the cluster tests
# reach it on 127.0.0.1 there) and is started again outside afterwards if it was running.
# Needs root (CI runs as root).
#   scripts/loopback-only.sh COMMAND [ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$#" -gt 0 ] || { echo "usage: scripts/loopback-only.sh COMMAND [ARGS...]" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "loopback-only: needs root (unshare --net)" >&2; exit 2; }
if ! command -v ip >/dev/null 2>&1; then
  echo "installing iproute2" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >&2
fi
# PostgreSQL is started with no descriptor of this script's caller: a server that
# inherited, say, the lock of `flock LOCK scripts/loopback-only.sh ...` would hold it for ever.
export PG_CTL_CLEAN="python3 -c 'import os, sys; os.closerange(3, 65536); os.execvp(sys.argv[1], sys.argv[1:])'"
version=""; name=""; was_online=""
if command -v pg_lsclusters >/dev/null 2>&1; then
  read -r version name _ status _ < <(pg_lsclusters --no-header | sort -rn | head -1) || true
  if [ "${status:-}" = online ]; then
    was_online=1
    pg_ctlcluster "$version" "$name" stop >&2
  fi
fi
set +e
PG_VERSION="$version" PG_NAME="$name" unshare --net bash -c '
  set -e
  ip link set lo up
  if [ -n "$PG_VERSION" ]; then eval "$PG_CTL_CLEAN" pg_ctlcluster "$PG_VERSION" "$PG_NAME" start >&2; fi
  set +e
  "$@"; status=$?
  if [ -n "$PG_VERSION" ]; then pg_ctlcluster "$PG_VERSION" "$PG_NAME" stop >&2; fi
  exit $status' loopback-only "$@"
status=$?
set -e
if [ -n "$was_online" ]; then eval "$PG_CTL_CLEAN" pg_ctlcluster "$version" "$name" start >&2; fi
exit "$status"
