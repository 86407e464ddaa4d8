#!/usr/bin/env bash
# Starts the machine's PostgreSQL for the cluster tests and prints the variables that point
# the tests at it (eval the output). With --install, installs PostgreSQL from apt first (CI).
# Without PostgreSQL installed (and no --install) it prints nothing: the cluster suites skip.
#   eval "$(scripts/postgres-test-env.sh [--install])"
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
ROLE=kiln
PASSWORD=kiln-test-password
PORT=5432

if [ "${1:-}" = "--install" ] && ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "installing postgresql" >&2
  $SUDO apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >&2
fi
if ! command -v pg_lsclusters >/dev/null 2>&1; then
  echo "# PostgreSQL is not installed: the cluster tests are skipped (make test-postgres installs it)" >&2
  exit 0
fi
# The first cluster of the newest version; create one if there is none.
read -r VERSION CLUSTER PORT_SEEN STATUS _ < <(pg_lsclusters --no-header | sort -rn | head -1) || true
if [ -z "${VERSION:-}" ]; then
  VERSION=$(ls /usr/lib/postgresql | sort -rn | head -1)
  $SUDO pg_createcluster "$VERSION" main >&2
  read -r VERSION CLUSTER PORT_SEEN STATUS _ < <(pg_lsclusters --no-header | sort -rn | head -1)
fi
PORT=$PORT_SEEN
if [ "$STATUS" != "online" ]; then
  $SUDO pg_ctlcluster "$VERSION" "$CLUSTER" start >&2
fi
for _ in $(seq 1 50); do
  pg_isready -q -h 127.0.0.1 -p "$PORT" && break
  sleep 0.2
done
as_postgres() { if [ "$(id -u)" = 0 ]; then su postgres -c "$1"; else sudo -u postgres sh -c "$1"; fi; }
as_postgres "psql -q -p $PORT -v ON_ERROR_STOP=1 -c \"DO \\\$\\\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
  ELSE ALTER ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD'; END IF; END \\\$\\\$;\"" >&2
as_postgres "psql -q -p $PORT -tc \"SELECT 1 FROM pg_database WHERE datname = 'kiln'\" | grep -q 1 || createdb -p $PORT -O $ROLE kiln" >&2
echo "export KILN_TEST_POSTGRES_URL=postgres://$ROLE@127.0.0.1:$PORT/kiln"
echo "export KILN_TEST_POSTGRES_PASSWORD=$PASSWORD"
