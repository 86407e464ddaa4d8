#!/usr/bin/env bash
# Delivery to a receiver that takes DELAY seconds to answer the end of DATA (real
# providers take 0.1-1 s: content scanning), over 2 source IPs with 8 connections each.
# With the transfers in parallel the rate approaches 16/DELAY messages/s; if one wait
# holds up the others (libcurl's SMTP "done" phase blocks its multi handle until the
# reply: curl issue #8555) it stays near 1/DELAY. Runs once per transfer-thread count in
# THREADS (delivery.transferThreads), each on a fresh store, and prints each rate.
#
#   scripts/slow-receiver.sh [ROWS] [DELAY] [THREADS]        (defaults: 400, 0.1, "1 8")
set -euo pipefail
rows=${1:-400}
delay=${2:-0.1}
threads=${3:-1 8}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
sink_pid=
cleanup() { [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
kiln_release
touch "$work/delivered.log"
python3 "$root/scripts/smtp_sink.py" "$port" "$work/delivered.log" "$delay" &
sink_pid=$!
python3 - "$work" "$rows" "$port" <<'PY'
import json, sys
work, rows, port = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(f"{work}/list.csv", "w") as f:
    f.write("email\n")
    for i in range(rows):
        f.write(f"user{i}@{['gmail.com', 'yahoo.com', 'outlook.com', 'example.org'][i % 4]}\n")
providers = {p: {"coldHourly": 100000000, "warmHourly": 1000000000, "maxConnections": 8, "messagesPerConnection": 1000}
             for p in ["gmail", "microsoft", "yahoo", "apple", "other"]}
json.dump({
    "store": {"path": "kiln.sqlite"}, "senderId": "Measure",
    "identities": [{"domain": "example.com", "returnPathDomain": "bounce.example.com"}],
    "pools": [{"name": "p", "ips": ["127.0.0.2", "127.0.0.3"], "scaling": "fixed"}],
    "providers": providers,
    "delivery": {"mode": "routes", "routes": {"*": f"smtp://127.0.0.1:{port}"}, "heloName": "mta.example.com", "tls": "none"},
    "configurationSets": [{"name": "bulk", "pool": "p"}], "defaultConfigurationSet": "bulk",
}, open(f"{work}/kiln.json", "w"))
json.dump({"from": "news@example.com", "subject": "Hi", "text": "Hello\n"}, open(f"{work}/template.json", "w"))
PY
sleep 0.5
for n in $threads; do
  rm -f "$work"/kiln.sqlite* && : >"$work/delivered.log"
  python3 - "$work/kiln.json" "$n" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config["delivery"]["transferThreads"] = int(sys.argv[2])
json.dump(config, open(sys.argv[1], "w"))
PY
  ingest_paused "slow$n"
  start=$(date +%s.%N)
  "$kiln" run --config "$work/kiln.json" --until-idle >"$work/run.log" 2>&1
  end=$(date +%s.%N)
  python3 - "$rows" "$delay" "$start" "$end" "$(wc -l <"$work/delivered.log")" "$n" <<'PY'
import sys
rows, delay, seconds, delivered, threads = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[4]) - float(sys.argv[3]), int(sys.argv[5]), sys.argv[6]
print(f"transferThreads {threads}: {delivered:,} of {rows:,} delivered to a receiver answering end-of-data after {delay:.3f} s: {seconds:.1f} s, "
      f"{delivered / seconds:.1f} msg/s" + (f" (16 connections in parallel would give up to {16 / delay:.0f} msg/s; one at a time {1 / delay:.0f})" if delay > 0 else ""))
PY
done
