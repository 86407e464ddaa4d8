#!/usr/bin/env bash
# "Acknowledged = durable" for the SMTP submission listener: blasts COUNT messages (default
# 20,000) over 16 smtplib sessions from a trusted network into `kiln run` (SQLite store,
# delivering to a loopback sink while it accepts), kills kiln with SIGKILL after KILL_AFTER
# acknowledgements (default 2,000), restarts `kiln run`, lets it deliver everything, stops
# it with SIGTERM, and checks that every message answered `250 ... queued as ID` is in the
# store under ID, ends delivered (state 3), and reached the sink. Messages sent but not
# acknowledged when kiln died (at most one per session) may or may not have been stored:
# they are counted, not judged. Exit status 1 when an acknowledged message is missing,
# not delivered within TIMEOUT seconds (default 300) or never reached the sink.
# A SIGKILL proves the 250 comes after the commit, not that the commit is on disk (the
# kernel keeps a killed process's writes). So a probe follows (with strace): 200 messages
# on one session, one commit each, must cost at least 200 fsyncs; exit status 3 when they
# do not (acknowledged messages would not survive a crash of the machine).
#
#   scripts/submission-durability.sh [COUNT] [KILL_AFTER] [TIMEOUT]
# The release build is taken under /tmp/kiln-build.lock (never two builds at once);
# KILN=path/to/kiln skips the build; KILN_PRELOAD=lib.so runs `kiln run` under LD_PRELOAD
# (e.g. scripts/submission-bench.sh's synchronous=FULL shim).
set -euo pipefail
count=${1:-20000}
kill_after=${2:-2000}
timeout=${3:-300}
sessions=16
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
sink_port=$((20000 + RANDOM % 10000))
smtp_port=$((30000 + RANDOM % 10000))
sink_pid= kiln_pid= blast_pid=
cleanup() {
  for pid in $blast_pid $kiln_pid $sink_pid; do kill "$pid" 2>/dev/null || true; done
  if [ -n "${KEEP_WORK:-}" ]; then echo "workspace kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

if [ -z "${KILN:-}" ]; then
  make -C "$root" deps >/dev/null
  flock /tmp/kiln-build.lock swift build -c release --product kiln --package-path "$root" >"$work/build.log" 2>&1 \
    || { tail -20 "$work/build.log"; exit 1; }
  KILN=$(swift build -c release --show-bin-path --package-path "$root")/kiln
fi
kiln=$KILN

python3 "$root/scripts/smtp_sink.py" "$sink_port" "$work/delivered.log" &
sink_pid=$!
python3 - "$work" "$sink_port" "$smtp_port" <<'PY'
import json, sys
work, sink_port, smtp_port = sys.argv[1], sys.argv[2], sys.argv[3]
json.dump({
    "store": {"path": "kiln.sqlite"}, "senderId": "Durability",
    "identities": [{"domain": "example.com", "returnPathDomain": "bounce.example.com"}],
    "pools": [{"name": "p", "ips": ["127.0.0.2", "127.0.0.3"], "scaling": "fixed"}],
    "providers": {p: {"coldHourly": 100000000, "warmHourly": 1000000000} for p in ["gmail", "microsoft", "yahoo", "apple", "other"]},
    "delivery": {"mode": "routes", "routes": {"*": f"smtp://127.0.0.1:{sink_port}"}, "heloName": "mta.example.com", "tls": "none",
                 "identityCheckAtStart": False},
    "configurationSets": [{"name": "bulk", "pool": "p"}], "defaultConfigurationSet": "bulk",
    "feedback": {"returnPathSecretEnv": "DURABILITY_RETURN_PATH_SECRET"},
    "submission": {"smtp": {"listen": [f"127.0.0.1:{smtp_port}"], "trustedNetworks": [{"network": "127.0.0.1/32"}],
                            "hostname": "submit.example.com"}},
}, open(f"{work}/kiln.json", "w"), indent=1)
PY
export DURABILITY_RETURN_PATH_SECRET=durability-return-path-secret-0123
touch "$work/acked" "$work/sent" "$work/delivered.log"

# Starts `kiln run` (log appended to $work/run.log) and waits for its listener.
start_kiln() {
  LD_PRELOAD=${KILN_PRELOAD:-} "$kiln" run --config "$work/kiln.json" --log-level notice >>"$work/run.log" 2>&1 &
  kiln_pid=$!
  local waited=0
  until grep -q "SMTP submission listening" "$work/run.log" 2>/dev/null; do
    kill -0 "$kiln_pid" 2>/dev/null || { echo "kiln run exited:"; tail -5 "$work/run.log"; exit 1; }
    sleep 0.05
    waited=$((waited + 1))
    [ "$waited" -lt 600 ] || { echo "the listener did not start in 30 s:"; tail -5 "$work/run.log"; exit 1; }
  done
}
acked() { wc -l <"$work/acked"; }

start_kiln
start=$(date +%s.%N)
python3 "$root/scripts/submission-client.py" blast --port "$smtp_port" --sessions "$sessions" --count "$count" \
  --out "$work/acked" --sent "$work/sent" >"$work/blast.json" 2>"$work/blast.err" &
blast_pid=$!
until [ "$(acked)" -ge "$kill_after" ] || ! kill -0 "$blast_pid" 2>/dev/null; do sleep 0.01; done
kill -9 "$kiln_pid"
wait "$kiln_pid" 2>/dev/null || true
killed_at=$(date +%s.%N)
acked_at_kill=$(acked)
wait "$blast_pid" || true
blast_pid=
echo "SIGKILL after $(python3 -c "print(f'{$killed_at - $start:.2f}')") s at $acked_at_kill acknowledgements; blast: $(cat "$work/blast.json")"

echo "--- restart" >>"$work/run.log"
start_kiln
# Every acknowledged message final, or the timeout.
python3 - "$work" "$timeout" <<'PY' || true
import sqlite3, sys, time
work, timeout = sys.argv[1], float(sys.argv[2])
acked = [int(line.split()[0]) for line in open(f"{work}/acked") if line.strip()]
deadline = time.time() + timeout
while time.time() < deadline:
    db = sqlite3.connect(f"file:{work}/kiln.sqlite?mode=ro", uri=True, timeout=10)
    try:
        final = {row[0] for row in db.execute("SELECT id FROM messages WHERE state >= 3")}
        pending = db.execute("SELECT count(*) FROM messages WHERE state < 3").fetchone()[0]
    except sqlite3.OperationalError:
        final, pending = set(), 1
    db.close()
    if pending == 0 and all(i in final for i in acked):
        break
    time.sleep(0.5)
PY
kill -TERM "$kiln_pid"
wait "$kiln_pid" || echo "kiln run exited with $? after SIGTERM" >&2
kiln_pid=

python3 - "$work" "$sessions" <<'PY'
import collections, sqlite3, sys
work, sessions = sys.argv[1], int(sys.argv[2])
acked = {}
for line in open(f"{work}/acked"):
    if line.strip():
        ident, recipient = line.split()
        acked[int(ident)] = recipient
sent = [line.strip() for line in open(f"{work}/sent") if line.strip()]
db = sqlite3.connect(f"file:{work}/kiln.sqlite?mode=ro", uri=True)
stored = {row[0]: (row[1], row[2]) for row in db.execute("SELECT id, state, recipient FROM messages")}
delivered_at_sink = collections.Counter(open(f"{work}/delivered.log").read().split())
acked_recipients = set(acked.values())
in_flight = [r for r in sent if r not in acked_recipients]
stored_recipients = {recipient: state for state, recipient in stored.values()}

missing = [i for i in acked if i not in stored]
wrong = [i for i in acked if i in stored and stored[i][1] != acked[i]]
undelivered = [i for i in acked if i in stored and stored[i][0] != 3]
not_at_sink = [i for i in acked if delivered_at_sink[acked[i]] == 0]
lost = set(missing) | set(wrong) | set(undelivered) | set(not_at_sink)
in_flight_stored = [r for r in in_flight if r in stored_recipients]
twice = sum(n - 1 for n in delivered_at_sink.values() if n > 1)
print(f"acknowledged {len(acked)}, in store {len(acked) - len(missing)}, delivered {len(acked) - len(undelivered) - len(missing)}, "
      f"at the sink {len(acked) - len(not_at_sink)}, lost {len(lost)}")
print(f"in flight at the kill (sent, not acknowledged): {len(in_flight)} (at most {sessions}); stored anyway {len(in_flight_stored)}, "
      f"delivered {sum(1 for r in in_flight_stored if stored_recipients[r] == 3)}; "
      f"messages in store {len(stored)}; sink deliveries {sum(delivered_at_sink.values())} ({twice} repeated after the kill)")
for label, ids in [("missing from the store", missing), ("stored for another recipient", wrong), ("not delivered", undelivered), ("never at the sink", not_at_sink)]:
    if ids:
        print(f"  {label}: {len(ids)}, e.g. {sorted(ids)[:10]}")
sys.exit(1 if lost or not acked else 0)
PY

# The probe: fsyncs while 200 messages are acknowledged on one session (one per commit).
command -v strace >/dev/null || { echo "strace missing: no fsync probe"; exit 0; }
start_kiln
strace -f -c -e trace=fsync,fdatasync -o "$work/strace" -p "$kiln_pid" 2>/dev/null &
strace_pid=$!
sleep 1
python3 "$root/scripts/submission-client.py" blast --port "$smtp_port" --sessions 1 --count 200 --domain probe.example.org \
  --out "$work/probe-acked" >/dev/null
kill -INT "$strace_pid"
wait "$strace_pid" 2>/dev/null || true
kill -TERM "$kiln_pid"
wait "$kiln_pid" || true
kiln_pid=
probe_acked=$(wc -l <"$work/probe-acked")
fsyncs=$(awk '$NF == "fsync" || $NF == "fdatasync" {n += $4} END {print n + 0}' "$work/strace")
if [ "$fsyncs" -ge "$probe_acked" ]; then
  echo "fsync probe: $fsyncs fsyncs for $probe_acked messages acknowledged one at a time: each 250 follows a synced commit"
else
  echo "fsync probe: $fsyncs fsyncs for $probe_acked messages acknowledged one at a time: the 250 comes before the commit" \
    "is on disk (durable against a crash of kiln, not of the machine)"
  exit 3
fi
