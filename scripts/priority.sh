#!/usr/bin/env bash
# Transactional mail ahead of bulk: queues ROWS bulk recipients (default 1,000,000) with
# `kiln campaign run` on a paused store, resumes and delivers them with `kiln run` into a
# loopback SMTP sink, and while that backlog delivers, submits SAMPLES transactional
# messages (default 7, one a second) with `kiln send` (SendEngine.submit) to a recipient
# on the same provider, lanes and token buckets. For each it reports the time from just
# before `kiln send` starts to the message's arrival at the sink (so it includes the
# process start and the submit), then the median and the worst, and how much bulk was
# still queued. Needs the release build; run it alone (it measures time).
#
#   scripts/priority.sh [ROWS] [SAMPLES]
set -euo pipefail
rows=${1:-1000000}
samples=${2:-7}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
sink_pid=
run_pid=
cleanup() {
  [ -n "$run_pid" ] && kill "$run_pid" 2>/dev/null && wait "$run_pid" 2>/dev/null
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
kiln_release

python3 "$root/scripts/smtp_sink.py" "$port" "$work/delivered.log" &
sink_pid=$!
python3 - "$work" "$rows" "$port" <<'PY'
import json, sys
work, rows, port = sys.argv[1], int(sys.argv[2]), sys.argv[3]
domains = ["gmail.com", "yahoo.com", "outlook.com", "example.org"]
with open(f"{work}/list.csv", "w") as f:
    f.write("email,name\n")
    for i in range(rows):
        f.write(f"user{i}@{domains[i % 4]},Name {i}\n")
json.dump({
    "store": {"path": "kiln.sqlite"}, "senderId": "Measure",
    "identities": [{"domain": "example.com", "returnPathDomain": "bounce.example.com"}],
    "pools": [{"name": "p", "ips": ["127.0.0.2", "127.0.0.3"], "scaling": "fixed"}],
    "providers": {p: {"coldHourly": 10000000, "warmHourly": 100000000} for p in ["gmail", "microsoft", "yahoo", "apple", "other"]},
    "delivery": {"mode": "routes", "routes": {"*": f"smtp://127.0.0.1:{port}"}, "heloName": "mta.example.com", "tls": "none"},
    "configurationSets": [{"name": "bulk", "pool": "p"}, {"name": "tx", "pool": "p", "transactional": True}],
    "defaultConfigurationSet": "bulk",
}, open(f"{work}/kiln.json", "w"))
json.dump({"from": "news@example.com", "subject": "Hi {{name}}", "text": "Hello {{name}}\n"}, open(f"{work}/template.json", "w"))
PY
touch "$work/delivered.log"
ingest_paused backlog
"$kiln" run --config "$work/kiln.json" >"$work/run.log" 2>&1 &
run_pid=$!
# Let the bulk delivery get going before the first transactional message.
while [ "$(wc -l <"$work/delivered.log")" -lt 5000 ]; do
  kill -0 "$run_pid" 2>/dev/null || { cat "$work/run.log"; exit 1; }
  sleep 0.1
done
python3 - "$kiln" "$work" "$samples" "$rows" <<'PY'
import os, statistics, subprocess, sys, time
kiln, work, samples, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
log = open(f"{work}/delivered.log")
log.seek(0, os.SEEK_END)
buffered = ""
def arrived(wanted):
    global buffered
    buffered += log.read()
    lines = buffered.split("\n")
    buffered = lines.pop()
    return any(line == wanted for line in lines)
times = []
for n in range(samples):
    wanted = f"reset{n}@gmail.com"
    start = time.monotonic()
    subprocess.run([kiln, "send", "--config", f"{work}/kiln.json", "--config-set", "tx", "--from", "news@example.com",
                    "--to", wanted, "--subject", "Reset", "--text", "Your code\n"], check=True, stdout=subprocess.DEVNULL)
    submitted = time.monotonic()
    while not arrived(wanted):
        if time.monotonic() - start > 60:
            sys.exit(f"{wanted} did not arrive within 60 s")
        time.sleep(0.002)
    done = time.monotonic()
    times.append(done - start)
    delivered = sum(1 for _ in open(f"{work}/delivered.log"))
    print(f"{wanted}: {done - start:.3f} s submit→arrival ({submitted - start:.3f} s of it in kiln send); "
          f"bulk delivered so far {delivered:,}, still queued ~{rows - delivered:,}")
    time.sleep(1)
print(f"transactional submit→arrival over {samples} samples with {rows:,} bulk queued and delivering: "
      f"median {statistics.median(times):.3f} s, worst {max(times):.3f} s")
sys.exit(0 if statistics.median(times) <= 2.0 else 1)
PY
