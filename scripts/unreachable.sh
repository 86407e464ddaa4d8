#!/usr/bin/env bash
# Bounded resources when every host is down: queues ROWS recipients (default 10,000) for
# a provider whose route is a list of two hosts that accept TCP connections and never say
# a word (a listener that never accepts), runs `kiln run --until-idle` with a 2 s connect
# timeout, samples the process's open file descriptors and threads every 50 ms, and
# reports the peaks, the time taken and every message's state (all should be deferred,
# none lost).
#
#   scripts/unreachable.sh [ROWS]
set -euo pipefail
rows=${1:-10000}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
hole_pid=
cleanup() { [ -n "$hole_pid" ] && kill "$hole_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
kiln_release
port=$((20000 + RANDOM % 20000))
python3 - "$port" <<'PY' &
import signal, socket, sys
port = int(sys.argv[1])
holes = []
for host in ("127.0.0.1", "127.0.0.9"):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(4096)  # never accepted: the kernel completes the handshake, nobody answers
    holes.append(s)
signal.pause()
PY
hole_pid=$!
python3 - "$work" "$rows" "$port" <<'PY'
import json, sys
work, rows, port = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(f"{work}/list.csv", "w") as f:
    f.write("email\n")
    for i in range(rows):
        f.write(f"user{i}@unreachable.example\n")
json.dump({
    "store": {"path": "kiln.sqlite"}, "senderId": "Measure",
    "identities": [{"domain": "example.com"}],
    "pools": [{"name": "p", "ips": ["127.0.0.2"], "scaling": "fixed"}],
    "providers": {"other": {"coldHourly": 10000000, "warmHourly": 100000000}},
    "delivery": {"mode": "routes", "routes": {"*": [f"smtp://127.0.0.1:{port}", f"smtp://127.0.0.9:{port}"]},
                 "heloName": "mta.example.com", "tls": "none", "connectTimeoutSeconds": 2, "transferTimeoutSeconds": 10},
    "configurationSets": [{"name": "bulk", "pool": "p"}], "defaultConfigurationSet": "bulk",
}, open(f"{work}/kiln.json", "w"))
json.dump({"from": "news@example.com", "subject": "Hi", "text": "Hello\n"}, open(f"{work}/template.json", "w"))
PY
sleep 0.5
ingest_paused unreachable
start=$(date +%s.%N)
"$kiln" run --config "$work/kiln.json" --until-idle >"$work/run.log" 2>&1 &
pid=$!
max_fds=0; max_threads=0
while kill -0 "$pid" 2>/dev/null; do
  fds=$(ls /proc/$pid/fd 2>/dev/null | wc -l || echo 0)
  threads=$(awk '/^Threads/ {print $2}' /proc/$pid/status 2>/dev/null || echo 0)
  [ "${fds:-0}" -gt "$max_fds" ] && max_fds=$fds
  [ "${threads:-0}" -gt "$max_threads" ] && max_threads=$threads
  sleep 0.05
done
wait "$pid" || true
end=$(date +%s.%N)
"$kiln" status --config "$work/kiln.json" --json >"$work/status.json"
python3 - "$work/status.json" "$rows" "$max_fds" "$max_threads" "$start" "$end" <<'PY'
import json, sys
status = json.load(open(sys.argv[1]))
rows, fds, threads, seconds = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[6]) - float(sys.argv[5])
states = status["byState"]
print(f"{rows:,} messages to a domain whose 2 hosts never answer: {seconds:.1f} s until idle; states {states}; "
      f"peak open files {fds}, peak threads {threads}")
sys.exit(0 if states.get("deferred", 0) == rows else 1)
PY
