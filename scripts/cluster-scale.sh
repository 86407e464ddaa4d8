#!/usr/bin/env bash
# The cluster with N real `kiln run` PROCESSES on one PostgreSQL (this machine's, started
# with a test role by scripts/postgres-test-env.sh), for N in 1, 2, 4, 8. Per N and round:
#   - a fresh database (CREATE DATABASE through the test role; dropped after the round);
#   - a configuration of N nodes n1..nN, each owning 2 loopback source IPs (127.0.0.2
#     upward), every provider's cold/warm hourly limits at 10^9 (pacing never limits) and
#     its connection limit at 8 per node (8 N for the cluster), delivery in routes mode to
#     one loopback receiver (postfix's smtp-sink, else scripts/smtp_sink.py),
#     `delivery.tls: none`, no DKIM;
#   - M messages queued first: `kiln pause`, `kiln campaign run --detach` (the CSV ingested
#     into the paused store), `kiln resume`: one small text template, 4 providers;
#   - N `kiln run --config C --node nK --listen 127.0.0.1:PORT` started at once; the wall
#     time runs from their launch (start-up included) until no message is queued, leased or
#     deferred.
# Measured per round:
#   - messages/s (M / wall time; the round fails unless all M are delivered);
#   - PostgreSQL round trips per delivered message: the sum over the nodes of
#     `kiln_store_round_trips_total` (their /metrics, scraped the moment the last message is
#     final; the counter starts at 0 with each process, so it covers the whole run, start-up
#     and idle polling included) / M;
#   - lock waits: pg_stat_activity sampled every 100 ms (psql \watch 0.1) on the round's
#     database: the share of samples with at least one backend whose wait_event_type is
#     'Lock', the most common (wait_event, statement) among those waiters, the tables whose
#     rows (tuple locks) or relations were waited on, and the share of samples with an
#     LWLock waiter (hot pages, WAL);
#   - CPU per message: of the kiln processes, of their PostgreSQL backends (from /proc, at
#     the moment the last message is final; the sampler's backend, PostgreSQL's WAL writer,
#     checkpointer and autovacuum are left out) and of the receiver;
#   - the WAL written per message (pg_current_wal_lsn, the whole server's), and the
#     connections of the nodes at the end;
#   - the load after the last message: round trips per node and second over the next 2 s
#     (a `kiln run` goes on polling the queue), and PostgreSQL's CPU per such round trip
#     (the tail of the run's work included: not a steady idle figure).
# The figures of N are the medians of R rounds (default 3). The build lock
# (/tmp/kiln-build.lock) is held for each N's rounds, not across the whole script.
#
#   scripts/cluster-scale.sh [--messages M] [--nodes 1,2,4,8] [--rounds R]
# KEEP=1 keeps the work directory (configurations, node logs, samples).
set -euo pipefail
messages=20000
nodes_list=1,2,4,8
rounds=3
while [ $# -gt 0 ]; do
  case $1 in
    --messages) messages=$2; shift 2 ;;
    --nodes) nodes_list=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    -h|--help) sed -n '2,40p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (usage: $0 [--messages M] [--nodes 1,2,4,8] [--rounds R])" >&2; exit 2 ;;
  esac
done
case "$messages$rounds" in *[!0-9]*) echo "--messages and --rounds take positive numbers" >&2; exit 2 ;; esac
[ "$messages" -gt 0 ] && [ "$rounds" -gt 0 ] || { echo "--messages and --rounds take positive numbers" >&2; exit 2; }
IFS=, read -r -a node_counts <<<"$nodes_list"
max_nodes=0
for n in "${node_counts[@]}"; do
  case "$n" in ''|*[!0-9]*|0) echo "--nodes takes positive numbers, comma-separated" >&2; exit 2 ;; esac
  [ "$n" -gt "$max_nodes" ] && max_nodes=$n
done

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
lock=/tmp/kiln-build.lock
work=$(mktemp -d /tmp/kiln-cluster-scale.XXXXXX)
node_pids=()
sampler_pid=
sink_pid=
database=

log() { echo "$@" >&2; }

# Stops every process this script started (nodes, sampler, receiver), drops the round's
# database, and removes the work directory (unless KEEP=1).
stop_nodes() {
  local pid
  for pid in "${node_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 100); do
    local alive=0
    for pid in "${node_pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${node_pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  node_pids=()
}
stop_sampler() {
  if [ -n "$sampler_pid" ]; then kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; sampler_pid=; fi
}
drop_database() {
  if [ -n "$database" ]; then
    pg_admin "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || log "could not drop database $database"
    database=
  fi
}
cleanup() {
  stop_sampler
  stop_nodes
  if [ -n "$sink_pid" ]; then kill "$sink_pid" 2>/dev/null || true; wait "$sink_pid" 2>/dev/null || true; fi
  drop_database
  if [ "${KEEP:-0}" = 1 ]; then log "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# PostgreSQL: the test role of scripts/postgres-test-env.sh.
eval "$(scripts/postgres-test-env.sh)"
[ -n "${KILN_TEST_POSTGRES_URL:-}" ] || { log "no PostgreSQL (scripts/postgres-test-env.sh printed no URL; make test-postgres installs it)"; exit 1; }
pg_rest=${KILN_TEST_POSTGRES_URL#postgres://}            # kiln@127.0.0.1:5432/kiln
pg_user=${pg_rest%%@*}; pg_hostport=${pg_rest#*@}; pg_hostport=${pg_hostport%%/*}
pg_host=${pg_hostport%:*}; pg_port=${pg_hostport##*:}
export PGPASSWORD=$KILN_TEST_POSTGRES_PASSWORD KILN_SCALE_PG_PASSWORD=$KILN_TEST_POSTGRES_PASSWORD
export KILN_SCALE_RETURN_PATH=cluster-scale-return-path-secret-0123
psql_db() { local db=$1; shift; psql -X -q -At -F'|' -v ON_ERROR_STOP=1 -h "$pg_host" -p "$pg_port" -U "$pg_user" -d "$db" "$@"; }
pg_admin() { psql_db kiln -c "$1"; }
# Others may restart the server briefly: wait up to 2 minutes for it.
wait_for_postgres() {
  local i
  for i in $(seq 1 120); do
    pg_admin "SELECT 1" >/dev/null 2>&1 && return 0
    [ "$i" = 1 ] && log "waiting for PostgreSQL to accept connections"
    sleep 1
  done
  log "PostgreSQL does not accept connections"; return 1
}
wait_for_postgres || exit 1
max_connections=$(pg_admin "SHOW max_connections")

# The release kiln, built under the build lock (a failure in files others are editing is
# retried after a minute), then copied aside: every round runs the same binary.
make -C "$root" bench-deps >/dev/null 2>&1 || log "make bench-deps failed; using whatever receiver is there"
for attempt in 1 2 3; do
  if flock "$lock" swift build -c release --product kiln >"$work/build.log" 2>&1; then break; fi
  [ "$attempt" = 3 ] && { log "the release build failed:"; tail -20 "$work/build.log" >&2; exit 1; }
  log "the release build failed (attempt $attempt); trying again in a minute"
  sleep 60
done
cp "$(flock "$lock" swift build -c release --show-bin-path)/kiln" "$work/kiln"
kiln=$work/kiln

# 2 source IPs per node from 127.0.0.2 up: they must stay inside 127.0.0.0/8's host range,
# and be bindable (Linux routes all of 127/8 to lo).
if [ $((2 * max_nodes + 1)) -gt 254 ]; then log "$max_nodes nodes need $((2 * max_nodes)) IPs: more than 127.0.0.2-127.0.0.254 holds"; exit 1; fi
python3 - "$max_nodes" <<'PY' || { log "the loopback source IPs cannot all be bound"; exit 1; }
import socket, sys
for i in range(2, 2 + 2 * int(sys.argv[1])):
    s = socket.socket(); s.bind((f"127.0.0.{i}", 0)); s.close()
PY

# One receiver for every round (its CPU is shared with the nodes; 2 cores in all).
# Ports below Linux's ephemeral range (32768-60999), which the nodes' own connections
# (to PostgreSQL, to the receiver) take from: a listener there can find its port in use.
sink_port=$((12000 + RANDOM % 8000))
sink=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
if [ -x "$sink" ]; then
  receiver="postfix smtp-sink"
  as_user=(); [ "$(id -u)" = 0 ] && as_user=(-u nobody)
  "$sink" "${as_user[@]}" "127.0.0.1:$sink_port" 1024 &
else
  receiver="scripts/smtp_sink.py"
  python3 scripts/smtp_sink.py "$sink_port" /dev/null &
fi
sink_pid=$!
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$sink_port") 2>/dev/null && break; sleep 0.1; done

# The campaign: M recipients at 4 providers, a small text template.
python3 - "$work" "$messages" <<'PY'
import json, sys
work, count = sys.argv[1], int(sys.argv[2])
domains = ["gmail.com", "yahoo.com", "outlook.com", "example.org"]
with open(f"{work}/list.csv", "w") as f:
    f.write("email,name\n")
    for i in range(count):
        f.write(f"user{i}@{domains[i % 4]},Name{i}\n")
json.dump({"from": "news@example.com", "subject": "Hi {{name}}",
           "text": "Hello {{name}},\n\nThis week in the shop: new arrivals and a few favourites back in stock.\n"},
          open(f"{work}/template.json", "w"))
PY

# The configuration of N nodes on DATABASE.
write_config() {
  local n=$1 db=$2 path=$3
  python3 - "$n" "$db" "$path" "$pg_user@$pg_host:$pg_port" "$sink_port" <<'PY'
import json, sys
n, db, path, server, port = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
ips = [f"127.0.0.{2 + i}" for i in range(2 * n)]
# A provider's connection limit holds for the whole cluster (each of N nodes takes 1/N):
# 8 per node whatever N, so that every node runs as a single node would.
roomy = {"coldHourly": 1_000_000_000, "warmHourly": 1_000_000_000, "maxConnections": 8 * n, "messagesPerConnection": 1000}
json.dump({
    "store": {"url": f"postgres://{server}/{db}", "passwordEnv": "KILN_SCALE_PG_PASSWORD", "tls": "disable"},
    "senderId": "Scale",
    "identities": [{"domain": "example.com", "returnPathDomain": "bounce.example.com"}],
    "pools": [{"name": "p", "ips": ips, "scaling": "fixed"}],
    "nodes": [{"name": f"n{k + 1}", "ips": ips[2 * k:2 * k + 2]} for k in range(n)],
    "providers": {p: roomy for p in ["gmail", "microsoft", "yahoo", "apple", "other"]},
    "delivery": {"mode": "routes", "routes": {"*": f"smtp://127.0.0.1:{port}"}, "heloName": "mta.example.com", "tls": "none",
                 "identityCheckAtStart": False, "connectTimeoutSeconds": 5, "transferTimeoutSeconds": 30},
    "configurationSets": [{"name": "bulk", "pool": "p"}],
    "defaultConfigurationSet": "bulk",
    "feedback": {"returnPathSecretEnv": "KILN_SCALE_RETURN_PATH"},
}, open(path, "w"), indent=1)
PY
}

# CPU seconds (user + system) of the given pids, from /proc (0 for those gone).
ticks=$(getconf CLK_TCK)
cpu_of() {
  local total=0 pid
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] || continue
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  python3 -c "print($total / $ticks)"
}

# The sum of kiln_store_round_trips_total over the N nodes listening from BASE_PORT + 1.
scrape_trips() {
  local base_port=$1 n=$2 total=0 value k
  for k in $(seq 1 "$n"); do
    value=$(curl -s --max-time 5 "http://127.0.0.1:$((base_port + k))/metrics" | awk '$1 == "kiln_store_round_trips_total" {print $2}')
    [ -n "$value" ] || { log "node n$k: no kiln_store_round_trips_total on /metrics"; return 1; }
    total=$(python3 -c "print(int($total + float('$value')))")
  done
  echo "$total"
}

# The sampler's statement (one line: \watch repeats it every 100 ms): the time, how many
# backends of the database wait on a heavyweight lock and on an LWLock, those waits as
# "event:statement" (the statement's first words, which say which of the store's calls
# waits), the tables of the row (tuple) and relation locks waited on, each lock waiter's
# statement with the statement of the backend it waits for (pg_blocking_pids), and
# whether no message is left to deliver.
sampler_sql() {
  cat <<'SQL'
SELECT extract(epoch FROM clock_timestamp()), count(*) FILTER (WHERE wait_event_type = 'Lock'), count(*) FILTER (WHERE wait_event_type = 'LWLock'), coalesce(string_agg(wait_event_type || ':' || wait_event || ':' || translate(left(regexp_replace(query, '\s+', ' ', 'g'), 60), '|;', '  '), ';') FILTER (WHERE wait_event_type IN ('Lock', 'LWLock')), ''), (SELECT coalesce(string_agg(l.locktype || ' on ' || l.relation::regclass::text, ','), '') FROM pg_locks l WHERE NOT l.granted AND l.relation IS NOT NULL AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())), (SELECT coalesce(string_agg(translate(left(regexp_replace(w.query, '\s+', ' ', 'g'), 40), '|;,<', '    ') || '<' || translate(left(regexp_replace(b.query, '\s+', ' ', 'g'), 40), '|;,<', '    '), ';'), '') FROM (SELECT DISTINCT pid FROM pg_locks WHERE NOT granted) waiter CROSS JOIN LATERAL unnest(pg_blocking_pids(waiter.pid)) AS blocker(pid) JOIN pg_stat_activity w ON w.pid = waiter.pid JOIN pg_stat_activity b ON b.pid = blocker.pid WHERE w.datname = current_database()), NOT EXISTS (SELECT 1 FROM messages WHERE state IN (0, 1, 2)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() \watch 0.1
SQL
}

# One round with N nodes; appends its figures (the line it prints) to
# $work/results-N and the round's waits to $work/waits-N. Returns non-zero on failure.
round() {
  local n=$1 r=$2 dir="$work/n$1-r$2"
  mkdir -p "$dir"
  wait_for_postgres || return 1
  database="kiln_scale_$$_${n}_$r"
  pg_admin "CREATE DATABASE $database" >/dev/null || { log "cannot create database $database"; return 1; }
  write_config "$n" "$database" "$dir/kiln.json" || return 1
  local config="$dir/kiln.json"
  "$kiln" migrate --config "$config" >"$dir/migrate.log" 2>&1 || { log "migrate failed: $(tail -3 "$dir/migrate.log")"; return 1; }
  # Queue the whole list on a paused store, then resume: nothing is sent before the nodes start.
  local ingest_start rc=0
  ingest_start=$(date +%s.%N)
  "$kiln" pause --config "$config" >/dev/null || return 1
  "$kiln" campaign run --config "$config" --recipients "$work/list.csv" --template "$work/template.json" --campaign scale --detach \
    >"$dir/ingest.log" 2>&1 || rc=$?
  [ "$rc" = 0 ] || { log "campaign run --detach failed ($rc): $(tail -3 "$dir/ingest.log")"; return 1; }
  local queued
  queued=$(psql_db "$database" -c "SELECT count(*) FROM messages WHERE state = 0")
  [ "$queued" = "$messages" ] || { log "only $queued of $messages queued"; return 1; }
  local ingest_seconds
  ingest_seconds=$(python3 -c "import time; print(f'{time.time() - $ingest_start:.1f}')")
  "$kiln" resume --config "$config" >/dev/null || return 1
  psql_db "$database" -c "VACUUM ANALYZE messages" -c "VACUUM ANALYZE contents" >/dev/null || return 1

  sampler_sql >"$dir/sampler.sql"
  PGAPPNAME=kiln-cluster-scale-sampler psql_db "$database" -f "$dir/sampler.sql" >"$dir/samples" 2>"$dir/sampler.err" 9>&- &
  sampler_pid=$!
  local base_port=$((21000 + RANDOM % 10000)) k start sink_before wal_before
  sink_before=$(cpu_of "$sink_pid")
  wal_before=$(psql_db "$database" -c "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn") || return 1
  start=$(date +%s.%N)
  for k in $(seq 1 "$n"); do
    "$kiln" run --config "$config" --node "n$k" --listen "127.0.0.1:$((base_port + k))" --shutdown-timeout 10 >"$dir/node$k.log" 2>&1 9>&- &
    node_pids+=($!)
  done
  # Until a sample says that nothing is left to deliver (every node must stay up).
  local deadline=$(( $(date +%s) + 120 + messages / 20 )) done_line=
  while [ -z "$done_line" ]; do
    sleep 0.05
    done_line=$(grep -m1 '|t$' "$dir/samples" || true)
    for k in $(seq 1 "$n"); do
      kill -0 "${node_pids[$((k - 1))]}" 2>/dev/null || { log "node n$k exited: $(tail -3 "$dir/node$k.log")"; return 1; }
    done
    kill -0 "$sampler_pid" 2>/dev/null || { log "the sampler stopped: $(tail -3 "$dir/sampler.err")"; return 1; }
    [ "$(date +%s)" -lt "$deadline" ] || { log "not delivered within the deadline"; return 1; }
  done
  # At once: the round trips of every node, and the CPU of the nodes and their backends.
  local trips backends kiln_cpu pg_cpu sink_cpu idle_trips idle_pg_cpu wal connections
  trips=$(scrape_trips "$base_port" "$n") || return 1
  kiln_cpu=$(cpu_of "${node_pids[@]}")
  sink_cpu=$(python3 -c "print($(cpu_of "$sink_pid") - $sink_before)")
  # The WAL written meanwhile (the whole server's: other databases' writes count too).
  wal=$(psql_db "$database" -c "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn - $wal_before") || return 1
  backends=$(psql_db "$database" -c "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
    AND application_name <> 'kiln-cluster-scale-sampler'" | tr '\n' ' ')
  connections=$(wc -w <<<"$backends")
  # shellcheck disable=SC2086
  pg_cpu=$(cpu_of $backends)
  # What the nodes send with nothing left to deliver: round trips per node and second over
  # 2 s, and the PostgreSQL CPU per such round trip.
  sleep 2
  idle_trips=$(scrape_trips "$base_port" "$n") || return 1
  # shellcheck disable=SC2086
  idle_pg_cpu=$(python3 -c "print(f'{($(cpu_of $backends) - $pg_cpu) * 1e6 / max($idle_trips - $trips, 1):.0f}')")
  idle_trips=$(python3 -c "print(f'{($idle_trips - $trips) / 2 / $n:.1f}')")
  stop_sampler
  stop_nodes
  local delivered
  delivered=$(psql_db "$database" -c "SELECT count(*) FROM messages WHERE state = 3") || return 1
  [ "$delivered" = "$messages" ] || { log "only $delivered of $messages delivered"; return 1; }
  python3 - "$dir/samples" "$start" "$messages" "$trips" "$kiln_cpu" "$pg_cpu" "$ingest_seconds" \
    "$sink_cpu" "$idle_trips" "$idle_pg_cpu" "$wal" "$connections" "$work/results-$n" "$work/waits-$n" <<'PY' || return 1
import collections, sys
path, start, m, trips, kiln_cpu, pg_cpu, ingest, sink_cpu, idle, idle_pg, wal, connections, results, waits = sys.argv[1:]
start, m, trips = float(start), int(m), int(trips)
rows = [line.rstrip("\n").split("|") for line in open(path) if line.count("|") == 6]
end = next(float(r[0]) for r in rows if r[6] == "t")
during = [r for r in rows if start <= float(r[0]) <= end]
lock = sum(1 for r in during if int(r[1]) > 0)
lw = sum(1 for r in during if int(r[2]) > 0)
waiters = sum(int(r[1]) for r in during)
seconds = end - start
line = (f"{m / seconds:.1f} {trips / m:.3f} {100 * lock / max(len(during), 1):.1f} {100 * lw / max(len(during), 1):.1f} "
        f"{float(kiln_cpu) * 1e6 / m:.0f} {float(pg_cpu) * 1e6 / m:.0f} {seconds:.2f} {len(during)} {waiters} {ingest} "
        f"{float(sink_cpu) * 1e6 / m:.0f} {idle} {idle_pg} {float(wal) / m:.0f} {connections}")
open(results, "a").write(line + "\n")
with open(waits, "a") as f:
    for r in during:
        for w in filter(None, r[3].split(";")):
            f.write(w.strip() + "\n")
        for w in filter(None, r[4].split(",")):
            f.write("Lock-on:" + w.strip() + ":\n")
        for w in filter(None, r[5].split(";")):
            f.write("Blocked:" + w.strip() + ":\n")
print(line)
PY
  drop_database
}

log "cluster scale: $messages messages, nodes $nodes_list, $rounds rounds; receiver $receiver on 127.0.0.1:$sink_port;" \
    "PostgreSQL $pg_host:$pg_port (max_connections $max_connections); work $work"
exec 9>>"$lock"
for n in "${node_counts[@]}"; do
  log "nodes $n: waiting for the build lock"
  flock 9
  for r in $(seq 1 "$rounds"); do
    ok=0
    for attempt in 1 2; do
      # Not in a subshell: the pids and the database must stay visible to the EXIT trap.
      if round "$n" "$r" >"$work/line"; then
        line=$(cat "$work/line")
        ok=1
        log "  nodes $n round $r: msg/s trips/msg lock% lwlock% kiln-µs/msg pg-µs/msg seconds samples waiters ingest-s sink-µs/msg idle-trips/node/s idle-pg-µs/trip wal-bytes/msg connections = $line"
        break
      fi
      stop_sampler; stop_nodes; drop_database
      log "  nodes $n round $r failed (attempt $attempt)${KEEP:+; logs in $work/n$n-r$r}"
      sleep 5
    done
    [ "$ok" = 1 ] || { log "nodes $n round $r failed twice; stopping"; exit 1; }
  done
  flock -u 9
done
exec 9>&-

python3 - "$work" "$messages" "$rounds" "$max_connections" "${node_counts[@]}" <<'PY'
import collections, re, statistics, sys
work, m, rounds, max_connections, counts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), [int(n) for n in sys.argv[5:]]
def kind(statement):
    # The store's call behind a statement, from its first words.
    s = statement.strip()
    for prefix, name in [("WITH o AS", "record outcomes"), ("WITH urgent", "lease"), ("WITH back", "take back expired leases"),
                         ("UPDATE messages SET lease_expires_at", "heartbeat: renew leases"), ("INSERT INTO nodes", "heartbeat: node row"),
                         ("SELECT count(*) FROM nodes", "heartbeat: live nodes"), ("INSERT INTO warmup_pairs", "save warm-up state"),
                         ("DELETE FROM pool_active", "save warm-up state"), ("INSERT INTO pool_active", "save warm-up state"),
                         ("INSERT INTO control", "save paces"), ("SELECT state, provider, count(*)", "gauges: counts"),
                         ("SELECT substr(key", "read pauses"), ("SELECT pg_advisory_xact_lock(hashtext(", "heartbeat: take a quota slice"),
                         ("INSERT INTO quota_slices", "heartbeat: take a quota slice"), ("COMMIT", "COMMIT"), ("BEGIN", "BEGIN")]:
        if s.startswith(prefix):
            return name
    return s[:40]
print(f"\n{m} messages per round, medians of {rounds} rounds; PostgreSQL max_connections {max_connections}\n")
print("| nodes | msg/s | round trips/msg | lock-wait samples (% with >= 1 waiter) | notes |")
print("|---:|---:|---:|---:|---|")
for n in counts:
    rows = [[float(x) for x in line.split()] for line in open(f"{work}/results-{n}")]
    col = lambda i: statistics.median(r[i] for r in rows)
    waits = collections.Counter()
    for line in open(f"{work}/waits-{n}"):
        if line.startswith("Blocked:"):
            # The statements hold colons (::bigint): the pair is all that follows.
            waits[("Blocked", line[len("Blocked:"):].rstrip("\n")[:-1], "")] += 1
            continue
        parts = line.rstrip("\n").split(":", 2)
        if len(parts) == 3:
            waits[(parts[0], parts[1], kind(parts[2]))] += 1
    lock_waits = [(k, c) for k, c in waits.most_common() if k[0] == "Lock"]
    lw_waits = [(k, c) for k, c in waits.most_common() if k[0] == "LWLock"]
    total = sum(c for _, c in lock_waits)
    top = ", ".join(f"{k[1]} in {k[2]} {100 * c / total:.0f}%" for k, c in lock_waits[:2]) if lock_waits else "none"
    lw = f"{lw_waits[0][0][1]} in {lw_waits[0][0][2]}" if lw_waits else "none"
    on = [(k[1], c) for k, c in waits.most_common() if k[0] == "Lock-on"]
    pairs = collections.Counter()
    for (what, detail, _), c in waits.items():
        if what == "Blocked":
            waiter, _, blocker = detail.partition("<")
            pairs[(kind(waiter), kind(blocker))] += c
    if pairs:
        total_pairs = sum(pairs.values())
        top += "; waiter <- blocker: " + ", ".join(f"{a} <- {b} {100 * c / total_pairs:.0f}%" for (a, b), c in pairs.most_common(3))
    if on:
        top += " (row/relation locks waited on: " + ", ".join(f"{what} {c}" for what, c in on[:3]) + ")"
    notes = (f"runs {' '.join(f'{r[0]:.0f}' for r in rows)} msg/s; lock waits: {top}; LWLock samples {col(3):.0f}% (most: {lw}); "
             f"CPU/msg: kiln {col(4):.0f} µs, PostgreSQL backends {col(5):.0f} µs, sink {col(10):.0f} µs; "
             f"WAL {col(13):,.0f} B/msg; {col(14):.0f} connections; 2 s after: {col(11):.0f} round trips/s a node, {col(12):.0f} µs of PostgreSQL CPU each; "
             f"{col(6):.1f} s, {col(7):.0f} samples")
    print(f"| {n} | {col(0):,.0f} | {col(1):.3f} | {col(2):.0f}% | {notes} |")
PY
