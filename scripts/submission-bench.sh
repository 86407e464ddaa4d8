#!/usr/bin/env bash
# Submission acceptance against Postfix's, in one run (the front door's issue):
#   - postfix: a private Postfix instance (its own config and queue directories under a
#     temp dir, smtpd on a loopback port, mynetworks 127.0.0.0/8, nothing local, delivery
#     deferred by `defer_transports = smtp, relay`: it only queues). Postfix fsyncs each
#     queue file before its 250, so acknowledged = on disk.
#   - kiln-smtp: `kiln run`'s submission listener, from a trusted network (no AUTH), on a
#     paused store (`kiln pause` first: it only queues), SQLite WAL with synchronous=FULL:
#     its 250 comes after the commit, so acknowledged = on disk too.
#     Both get the same smtp-source command: -d -s 16 -m COUNT -l SIZE -N (16 sessions,
#     several messages per session, unique recipients @gmail.com; smtp-source writes
#     "From: <news@example.com>", To, Date and Message-Id headers and SIZE bytes of body).
#   - kiln-http: POST /v1/messages on the same kind of paused kiln (--listen), HTTP_THREADS
#     threads (default 4) of HTTP_CALLS calls (default 15) with 1,000 recipients each, a
#     template with one substitution (scripts/submission-client.py http): recipients/s.
# Every measurement gets a fresh instance and a fresh store; a round measures each row
# once, and each round starts one row later. Reported: medians of RUNS rounds (default 3),
# the ratio kiln-smtp / postfix, CPU per message of the server and of the client, how busy
# the machine's cores were and how much of it was I/O wait, and peak RSS (VmHWM) of kiln
# and of Postfix's processes. Targets: kiln-smtp >= 2x postfix; kiln-http >= 20,000
# recipients/s.
#
#   scripts/submission-bench.sh [COUNT] [SIZE] [RUNS]      (defaults 20000 20480 3)
# Root is needed (Postfix). The script takes /tmp/kiln-build.lock for its whole run (the
# release build, then the timings: nobody builds meanwhile); KILN_LOCK_HELD=1 when the
# caller holds it already. KILN=path/to/kiln skips the build. POSTFIX_QUEUE=hold puts
# Postfix's messages on hold (qmgr never touches them) instead of deferring them.
# PERF_DIR=dir records the first kiln-smtp and kiln-http measurements with
# `perf record -g` of kiln into dir/<row>.data. ONLY="postfix kiln-smtp" measures only those rows.
set -euo pipefail
count=${1:-20000}
size=${2:-20480}
runs=${3:-3}
http_threads=${HTTP_THREADS:-4}
http_calls=${HTTP_CALLS:-15}
postfix_queue=${POSTFIX_QUEUE:-defer}
root=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "run as root (a private Postfix instance)"; exit 1; }
work=$(mktemp -d)
chmod 755 "$work"
postfix_dir= kiln_pid=
cleanup() {
  [ -n "$kiln_pid" ] && kill "$kiln_pid" 2>/dev/null
  [ -n "$postfix_dir" ] && postfix -c "$postfix_dir/etc" stop >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

if [ -z "${KILN_LOCK_HELD:-}" ]; then
  exec 9>>/tmp/kiln-build.lock
  echo "waiting for /tmp/kiln-build.lock" >&2
  flock 9
fi
make -C "$root" bench-deps >/dev/null
if [ -z "${KILN:-}" ]; then
  swift build -c release --product kiln --package-path "$root" >/dev/null 9>&-
  KILN=$(swift build -c release --show-bin-path --package-path "$root")/kiln
fi
kiln=$KILN
source=$(command -v smtp-source || echo /usr/sbin/smtp-source)
client="$root/scripts/submission-client.py"
export BENCH_RETURN_PATH_SECRET=bench-return-path-secret-0123
ticks=$(getconf CLK_TCK)

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
  local tries=0
  until python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2>/dev/null; do
    tries=$((tries + 1))
    [ "$tries" -lt 300 ] || { echo "nothing listens on port $1" >&2; return 1; }
    sleep 0.1
  done
}
now() { date +%s.%N; }
# CPU seconds (user + system) of the processes $@, their reaped children included.
cpu_of() { for p in "$@"; do cat "/proc/$p/stat" 2>/dev/null; done | awk -v t="$ticks" '{s += $14 + $15 + $16 + $17} END {printf "%.3f\n", s / t}'; }
# The machine's jiffies: "busy iowait total" from /proc/stat.
machine() { awk '/^cpu / {busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, $6, busy + $5 + $6}' /proc/stat; }
# Runs a command and writes the CPU seconds it (and its children) used to the file $1.
timed() {
  python3 -c '
import resource, subprocess, sys
status = subprocess.call(sys.argv[2:])
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write(f"{usage.ru_utime + usage.ru_stime:.3f}\n")
sys.exit(status)' "$@"
}
# Appends one result line to $work/results: ROW RATE CLIENT_CPU SERVER_CPU UNITS
# MACHINE_BEFORE MACHINE_AFTER SECONDS, then RSS fields.
record() { echo "$*" >>"$work/results"; }

# --- Postfix ---------------------------------------------------------------------------
postfix_start() {
  postfix_dir="$work/postfix-$RANDOM$RANDOM"
  local port=$1 d=$postfix_dir
  mkdir -p "$d/etc" "$d/queue" "$d/data"
  chown postfix "$d/data"
  local hold=""
  [ "$postfix_queue" = hold ] && hold="smtpd_data_restrictions = check_client_access static:HOLD"
  cat >"$d/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $d/queue
data_directory = $d/data
mail_owner = postfix
setgid_group = postdrop
myhostname = bench.invalid
mydomain = bench.invalid
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
defer_transports = smtp, relay
message_size_limit = 52428800
maillog_file = $d/maillog
maillog_file_prefixes = $work
biff = no
$hold
EOF
  # Debian's master.cf without chroot (the queue directory is not a chroot jail here).
  cat >"$d/etc/master.cf" <<EOF
127.0.0.1:$port inet n - n - - smtpd
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
local unix - n n - - local
virtual unix - n n - - virtual
lmtp unix - - n - - lmtp
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
EOF
  postfix -c "$d/etc" start >/dev/null 2>&1 9>&- || { echo "postfix did not start:"; tail -5 "$d/maillog"; exit 1; }
  wait_port "$port"
}
postfix_master() { head -1 "$postfix_dir/queue/pid/master.pid" | tr -d ' '; }
postfix_pids() { local m; m=$(postfix_master); echo "$m" $(pgrep -P "$m" || true); }
postfix_stop() {
  local m
  m=$(postfix_master)
  postfix -c "$postfix_dir/etc" stop >/dev/null 2>&1 || true
  while kill -0 "$m" 2>/dev/null; do sleep 0.1; done
  rm -rf "$postfix_dir"
  postfix_dir=
}
# Messages in the private instance's queue (every queue a message can be in now).
postfix_queued() { find "$postfix_dir/queue/"{incoming,active,deferred,hold} -type f | wc -l; }

measure_postfix() {
  local port start m0 m1 c0 c1 seconds queued pids
  port=$(free_port)
  postfix_start "$port"
  c0=$(cpu_of $(postfix_pids))
  m0=$(machine)
  start=$(now)
  timed "$work/client-cpu" "$source" -d -s 16 -m "$count" -l "$size" -N -f news@example.com -t user@gmail.com "127.0.0.1:$port" \
    || echo "postfix: smtp-source failed" >&2
  seconds=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$(now)")
  m1=$(machine)
  pids=$(postfix_pids)
  c1=$(cpu_of $pids)
  sleep 0.5
  queued=$(postfix_queued)
  [ "$queued" = "$count" ] || echo "postfix: $queued messages in the queue, $count acknowledged" >&2
  # Peak RSS (kB) per process: "name:VmHWM:Pss" for each Postfix process.
  local rss=""
  for p in $pids; do
    [ -r "/proc/$p/status" ] || continue
    rss+=" $(cat "/proc/$p/comm"):$(awk '/^VmHWM/ {print $2}' "/proc/$p/status"):$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)"
  done
  record postfix "$(python3 -c "print(round($count / $seconds))")" "$(cat "$work/client-cpu")" \
    "$(python3 -c "print($c1 - $c0)")" "$count" $m0 $m1 "$seconds" "$rss"
  postfix_stop
}

# --- Kiln ------------------------------------------------------------------------------
kiln_start() {
  local dir=$1 smtp_port=$2 http_port=$3
  mkdir -p "$dir"
  python3 - "$dir" "$smtp_port" <<'PY'
import json, sys
work, smtp_port = sys.argv[1], sys.argv[2]
json.dump({
    "store": {"path": "kiln.sqlite"}, "senderId": "Bench",
    "identities": [{"domain": "example.com", "returnPathDomain": "bounce.example.com"}],
    "pools": [{"name": "p", "ips": ["127.0.0.2", "127.0.0.3"], "scaling": "fixed"}],
    "providers": {p: {"coldHourly": 100000000, "warmHourly": 1000000000} for p in ["gmail", "microsoft", "yahoo", "apple", "other"]},
    # Paused: nothing is delivered; the route is never used.
    "delivery": {"mode": "routes", "routes": {"*": "smtp://127.0.0.1:9"}, "heloName": "mta.example.com", "tls": "none",
                 "identityCheckAtStart": False},
    "configurationSets": [{"name": "bulk", "pool": "p"}], "defaultConfigurationSet": "bulk",
    "feedback": {"returnPathSecretEnv": "BENCH_RETURN_PATH_SECRET"},
    "submission": {"smtp": {"listen": [f"127.0.0.1:{smtp_port}"], "trustedNetworks": [{"network": "127.0.0.1/32"}],
                            "maxMessageBytes": 52428800, "hostname": "submit.example.com"}},
}, open(f"{work}/kiln.json", "w"), indent=1)
PY
  "$kiln" pause --config "$dir/kiln.json" >/dev/null
  "$kiln" credentials create --config "$dir/kiln.json" --name bench --json >"$dir/credential.json"
  local perf=()
  if [ -n "${PERF_DIR:-}" ] && [ ! -e "$PERF_DIR/$4.data" ]; then
    mkdir -p "$PERF_DIR"
    perf=(perf record -q -g -F 999 -o "$PERF_DIR/$4.data" --)
  fi
  "${perf[@]}" "$kiln" run --config "$dir/kiln.json" --listen "127.0.0.1:$http_port" --log-level notice >"$dir/run.log" 2>&1 9>&- &
  kiln_pid=$!
  wait_port "$smtp_port" && wait_port "$http_port" || { tail -5 "$dir/run.log"; exit 1; }
  if [ ${#perf[@]} -gt 0 ]; then kiln_pid=$(pgrep -P "$kiln_pid" -x kiln || echo "$kiln_pid"); fi
}
kiln_stop() {
  kill -TERM "$kiln_pid" 2>/dev/null || true
  while kill -0 "$kiln_pid" 2>/dev/null; do sleep 0.1; done
  wait 2>/dev/null || true
  kiln_pid=
}
kiln_stored() { python3 -c "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM messages').fetchone()[0])" "$1/kiln.sqlite"; }
kiln_rss() { awk '/^VmHWM/ {print $2}' "/proc/$kiln_pid/status"; }

measure_kiln_smtp() {
  local dir="$work/kiln-$RANDOM$RANDOM" smtp_port http_port start seconds m0 m1 c0 c1 rss stored
  smtp_port=$(free_port)
  http_port=$(free_port)
  kiln_start "$dir" "$smtp_port" "$http_port" kiln-smtp
  c0=$(cpu_of "$kiln_pid")
  m0=$(machine)
  start=$(now)
  timed "$work/client-cpu" "$source" -d -s 16 -m "$count" -l "$size" -N -f news@example.com -t user@gmail.com "127.0.0.1:$smtp_port" \
    || echo "kiln-smtp: smtp-source failed; log: $(tail -3 "$dir/run.log")" >&2
  seconds=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$(now)")
  m1=$(machine)
  c1=$(cpu_of "$kiln_pid")
  rss=$(kiln_rss)
  kiln_stop
  stored=$(kiln_stored "$dir")
  [ "$stored" = "$count" ] || echo "kiln-smtp: $stored messages in the store, $count acknowledged; log: $(tail -3 "$dir/run.log")" >&2
  record kiln-smtp "$(python3 -c "print(round($count / $seconds))")" "$(cat "$work/client-cpu")" \
    "$(python3 -c "print($c1 - $c0)")" "$count" $m0 $m1 "$seconds" " kiln:$rss:0"
  rm -rf "$dir"
}

measure_kiln_http() {
  local dir="$work/kiln-$RANDOM$RANDOM" smtp_port http_port m0 m1 c0 c1 rss secret result stored
  smtp_port=$(free_port)
  http_port=$(free_port)
  kiln_start "$dir" "$smtp_port" "$http_port" kiln-http
  secret=$(python3 -c "import json, sys; print(json.load(open(sys.argv[1]))['secret'])" "$dir/credential.json")
  c0=$(cpu_of "$kiln_pid")
  m0=$(machine)
  result=$(python3 "$client" http --port "$http_port" --user bench --password "$secret" --threads "$http_threads" \
    --calls "$http_calls" --recipients 1000)
  m1=$(machine)
  c1=$(cpu_of "$kiln_pid")
  rss=$(kiln_rss)
  kiln_stop
  stored=$(kiln_stored "$dir")
  python3 - "$result" "$stored" "$((http_threads * http_calls * 1000))" <<'PY' >&2
import json, sys
r, stored, expected = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
if r["accepted"] != expected or stored != expected or r["errors"]:
    print(f"kiln-http: {r['accepted']} accepted, {stored} stored of {expected}; statuses {r['status']}")
PY
  set -- $(python3 -c "import json, sys; r = json.loads(sys.argv[1]); print(r['recipientsPerSecond'], r['clientCpuSeconds'], r['accepted'], r['seconds'])" "$result")
  record kiln-http "$1" "$2" "$(python3 -c "print($c1 - $c0)")" "$3" $m0 $m1 "$4" " kiln:$rss:0"
  rm -rf "$dir"
}

# fsync latency of this file system (the cost both servers pay per commit).
fsync_ms=$(python3 - "$work" <<'PY'
import os, sys, time
fd = os.open(os.path.join(sys.argv[1], "fsync-probe"), os.O_WRONLY | os.O_CREAT)
start = time.time()
for _ in range(200):
    os.write(fd, b"x" * 4096)
    os.fsync(fd)
print(f"{(time.time() - start) / 200 * 1000:.2f}")
PY
)

rows=(${ONLY:-postfix kiln-smtp kiln-http})
for round in $(seq 1 "$runs"); do
  for k in $(seq 0 $((${#rows[@]} - 1))); do
    row=${rows[$(((k + round - 1) % ${#rows[@]}))]}
    case $row in
      postfix) measure_postfix ;;
      kiln-smtp) measure_kiln_smtp ;;
      kiln-http) measure_kiln_http ;;
    esac
  done
  echo "round $round: $(awk -v r="$round" '{n[$1]++; v[$1]=$2} END {for (k in v) printf "%s=%s ", k, v[k]}' "$work/results")" >&2
done

python3 - "$work/results" "$count" "$size" "$runs" "$http_threads" "$http_calls" "$fsync_ms" "$postfix_queue" <<'PY'
import statistics, sys
path, count, size, runs, threads, calls, fsync_ms, queue = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7], sys.argv[8]
rows = {}
for line in open(path):
    f = line.split()
    name, rate, client_cpu, server_cpu, units = f[0], float(f[1]), float(f[2]), float(f[3]), int(f[4])
    busy0, io0, total0, busy1, io1, total1 = (float(x) for x in f[5:11])
    seconds = float(f[11])
    procs = [p.split(":") for p in f[12:]]
    span = max(total1 - total0, 1)
    rows.setdefault(name, []).append({
        "rate": rate, "client_us": client_cpu * 1e6 / units, "server_us": server_cpu * 1e6 / units,
        "client_cores": client_cpu / seconds, "server_cores": server_cpu / seconds,
        "busy": (busy1 - busy0) / span * 100, "iowait": (io1 - io0) / span * 100,
        "procs": [(p[0], int(p[1] or 0), int(p[2] or 0)) for p in procs],
    })
med = lambda name, key: statistics.median(r[key] for r in rows[name])
labels = {
    "postfix": f"Postfix smtpd, smtp-source -d -s 16 -l {size} ({queue} queue)",
    "kiln-smtp": f"kiln SMTP listener, same smtp-source, paused, SQLite",
    "kiln-http": f"kiln POST /v1/messages, {threads} threads x {calls} x 1,000 rcpt",
}
unit = {"postfix": "msg/s", "kiln-smtp": "msg/s", "kiln-http": "rcpt/s"}
print(f"\nSubmission acceptance: {count} messages of {size} bytes per SMTP run; medians of {runs} rounds; fsync {fsync_ms} ms on this disk\n")
print(f"| {'row':<62} | {'median':>9} | {'runs':<20} | {'server µs':>9} | {'client µs':>9} | server cores | client cores | machine busy | iowait")
print(f"|{'-' * 64}|{'-' * 11}|{'-' * 22}|{'-' * 11}|{'-' * 11}|--------------|--------------|--------------|-------")
for name in ["postfix", "kiln-smtp", "kiln-http"]:
    if name not in rows:
        continue
    rates = " ".join(f"{r['rate']:.0f}" for r in rows[name])
    print(f"| {labels[name]:<62} | {med(name, 'rate'):>9,.0f} | {rates:<20} | {med(name, 'server_us'):>9,.0f} | {med(name, 'client_us'):>9,.0f} | "
          f"{med(name, 'server_cores'):>12.2f} | {med(name, 'client_cores'):>12.2f} | {med(name, 'busy'):>11.0f}% | {med(name, 'iowait'):>4.0f}%")
print("(µs: CPU time per message, or per recipient for HTTP; cores: CPU seconds / wall seconds; machine busy and iowait: share of the 2 cores)")

print("\nPeak RSS (VmHWM, max over rounds)")
if "postfix" in rows:
    by_name = {}
    sums, pss = [], []
    for r in rows["postfix"]:
        sums.append(sum(p[1] for p in r["procs"]))
        pss.append(sum(p[2] for p in r["procs"]))
        for name, hwm, _ in r["procs"]:
            by_name.setdefault(name, []).append(hwm)
    count_per = {n: len(v) // len(rows["postfix"]) for n, v in by_name.items()}
    detail = ", ".join(f"{n} {max(v) / 1024:.1f} MB (x{count_per[n]})" for n, v in sorted(by_name.items(), key=lambda kv: -max(kv[1])))
    print(f"  Postfix: largest process {max(max(v) for v in by_name.values()) / 1024:.1f} MB; sum over its {len(rows['postfix'][0]['procs'])} processes "
          f"{max(sums) / 1024:.1f} MB VmHWM (shared pages counted in each), {max(pss) / 1024:.1f} MB PSS after the run")
    print(f"    per process (max VmHWM): {detail}")
for name in ["kiln-smtp", "kiln-http"]:
    if name in rows:
        print(f"  kiln ({name}): {max(r['procs'][0][1] for r in rows[name]) / 1024:.1f} MB (one process)")

print()
verdicts = []
if "postfix" in rows and "kiln-smtp" in rows:
    ratio = med("kiln-smtp", "rate") / med("postfix", "rate")
    per_round = " ".join(f"{k['rate'] / p['rate']:.2f}" for k, p in zip(rows["kiln-smtp"], rows["postfix"]))
    print(f"kiln SMTP / Postfix: {ratio:.2f}x (per round: {per_round})  target >= 2x: {'PASS' if ratio >= 2 else 'MISS'}")
    verdicts.append(ratio >= 2)
if "kiln-http" in rows:
    rate = med("kiln-http", "rate")
    print(f"kiln HTTP: {rate:,.0f} recipients/s  target >= 20,000: {'PASS' if rate >= 20000 else 'MISS'}")
    verdicts.append(rate >= 20000)
sys.exit(0 if all(verdicts) else 2)
PY
