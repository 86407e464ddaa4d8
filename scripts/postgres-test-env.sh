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
as_postgres() { if [ "$(id -u)" = 0 ]; then su postgres -c "$1"; else sudo -u postgres sh -c "$1"; fi; }

# A throwaway TLS setup, made once per machine (and again when a file is missing or the
# certificate is within 30 days of expiring): a CA, a server certificate it signed for
# 127.0.0.1 and localhost, and an unrelated CA that signed nothing (the TLS tests check
# that `tls: verify` refuses the server with it). The CAs' keys are not kept. Made before
# the cluster starts: once ALTER SYSTEM below names these files, the server would not start
# without them. Test material only: no production server should trust these CAs.
TLS_DIR=/var/lib/postgresql/kiln-test-tls
TLS_LOCK=/tmp/kiln-postgres-test-tls.lock
tls_files_ready() {
  [ -s "$TLS_DIR/ca.crt" ] && [ -s "$TLS_DIR/other-ca.crt" ] && [ -s "$TLS_DIR/server.crt" ] \
    && $SUDO test -s "$TLS_DIR/server.key" \
    && openssl x509 -checkend 2592000 -noout -in "$TLS_DIR/server.crt" >/dev/null 2>&1
}
make_tls_files() {
  local tmp status
  tmp=$(mktemp -d) || return 1
  (
    cd "$tmp" \
    && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
         -subj "/CN=Kiln throwaway test CA" -addext "basicConstraints=critical,CA:TRUE" \
         -addext "keyUsage=critical,keyCertSign,cRLSign" -keyout ca.key -out ca.crt \
    && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
         -subj "/CN=Kiln throwaway unrelated CA" -addext "basicConstraints=critical,CA:TRUE" \
         -addext "keyUsage=critical,keyCertSign,cRLSign" -keyout other-ca.key -out other-ca.crt \
    && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
         -subj "/CN=localhost" -keyout server.key -out server.csr \
    && printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
         "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >server.ext \
    && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
         -extfile server.ext -out server.crt \
    && openssl verify -CAfile ca.crt server.crt \
    && $SUDO install -d -o postgres -g postgres -m 755 "$TLS_DIR" \
    && $SUDO install -o postgres -g postgres -m 600 server.key "$TLS_DIR/server.key" \
    && $SUDO install -o postgres -g postgres -m 644 ca.crt other-ca.crt server.crt "$TLS_DIR/"
  ) >&2 2>&1
  status=$?
  rm -rf "$tmp"
  return $status
}
TLS_MADE=0
if command -v openssl >/dev/null 2>&1; then
  # Scripts run at the same time make the files once (fd 9 is closed before the server
  # starts, which would otherwise inherit the lock).
  (umask 0; : >>"$TLS_LOCK") 2>/dev/null || true
  { exec 9<"$TLS_LOCK"; } 2>/dev/null && { flock -w 120 9 || true; } || true
  if ! tls_files_ready; then
    echo "making the throwaway TLS files in $TLS_DIR" >&2
    if make_tls_files; then TLS_MADE=1; else echo "# could not make the TLS files: the PostgreSQL TLS tests are skipped" >&2; fi
  fi
  exec 9<&-
else
  echo "# openssl is not installed: the PostgreSQL TLS tests are skipped" >&2
fi

# The server starts with only standard input, output and error: one that inherited a
# caller's descriptor (the build lock that `flock FILE COMMAND` holds, say) would hold
# that lock for as long as it runs.
if [ "$STATUS" != "online" ]; then
  (
    for fd in /proc/self/fd/*; do
      n=${fd##*/}
      if [ "$n" -gt 2 ] 2>/dev/null; then eval "exec $n>&-" 2>/dev/null || true; fi
    done
    exec $SUDO pg_ctlcluster "$VERSION" "$CLUSTER" start
  ) >&2
fi
for _ in $(seq 1 50); do
  pg_isready -q -h 127.0.0.1 -p "$PORT" && break
  sleep 0.2
done
as_postgres "psql -q -p $PORT -v ON_ERROR_STOP=1 -c \"DO \\\$\\\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
  ELSE ALTER ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD'; END IF; END \\\$\\\$;\"" >&2
as_postgres "psql -q -p $PORT -tc \"SELECT 1 FROM pg_database WHERE datname = 'kiln'\" | grep -q 1 || createdb -p $PORT -O $ROLE kiln" >&2

# The server's TLS: on, with the files above (ALTER SYSTEM, then a reload: the ssl settings
# need no restart), only when it is not so already. Then checked as a client would:
# verify-full against the CA over 127.0.0.1 (the certificate's IP SAN).
tls_server_ready() {
  tls_files_ready || return 1
  local want running
  want="on|$TLS_DIR/server.crt|$TLS_DIR/server.key"
  running=$(as_postgres "psql -X -At -p $PORT -c \"SELECT current_setting('ssl') || '|' || current_setting('ssl_cert_file') || '|' || current_setting('ssl_key_file')\"") || return 1
  if [ "$running" != "$want" ] || [ "$TLS_MADE" = 1 ]; then
    echo "turning on the server's TLS ($TLS_DIR)" >&2
    as_postgres "psql -X -q -p $PORT -v ON_ERROR_STOP=1 \
      -c \"ALTER SYSTEM SET ssl_cert_file = '$TLS_DIR/server.crt'\" \
      -c \"ALTER SYSTEM SET ssl_key_file = '$TLS_DIR/server.key'\" \
      -c \"ALTER SYSTEM SET ssl = on\" -c \"SELECT pg_reload_conf()\"" >/dev/null || return 1
  fi
  # The reload is asynchronous: new sessions see it once the postmaster has read it.
  for _ in $(seq 1 50); do
    [ "$(PGPASSWORD=$PASSWORD PGCONNECT_TIMEOUT=5 psql -X -At \
        "host=127.0.0.1 port=$PORT user=$ROLE dbname=kiln sslmode=verify-full sslrootcert=$TLS_DIR/ca.crt" \
        -c "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()" 2>/dev/null)" = t ] && return 0
    sleep 0.2
  done
  echo "# the server does not accept verified TLS connections (see the server's log)" >&2
  return 1
}
echo "export KILN_TEST_POSTGRES_URL=postgres://$ROLE@127.0.0.1:$PORT/kiln"
echo "export KILN_TEST_POSTGRES_PASSWORD=$PASSWORD"
if command -v openssl >/dev/null 2>&1 && tls_server_ready; then
  echo "export KILN_TEST_POSTGRES_CA=$TLS_DIR/ca.crt"
  echo "export KILN_TEST_POSTGRES_OTHER_CA=$TLS_DIR/other-ca.crt"
else
  echo "# the PostgreSQL TLS tests are skipped (failed with KILN_REQUIRE_POSTGRES=1)" >&2
fi
