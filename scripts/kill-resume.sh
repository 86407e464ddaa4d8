#!/usr/bin/env bash
# How many recipients a SIGKILL makes Kiln send twice: runs a campaign of ROWS recipients
# (default 20,000) against a loopback sink, kills it with SIGKILL KILLS times (default 5)
# while it delivers, resumes it each time, lets the last resume finish, and reports every
# recipient's delivery count. maxInFlight is IN_FLIGHT (default 256, the engine's default).
#
#   scripts/kill-resume.sh [ROWS] [KILLS] [IN_FLIGHT]
set -euo pipefail
rows=${1:-20000}
kills=${2:-5}
in_flight=${3:-256}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
sink_pid=
cleanup() { [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
make -C "$root" deps >/dev/null
swift build -c release --product kiln --package-path "$root" >/dev/null
kiln=$(swift build -c release --show-bin-path --package-path "$root")/kiln

python3 "$root/scripts/smtp_sink.py" "$port" "$work/delivered.log" 0.002 &
sink_pid=$!
python3 - "$work" "$rows" "$port" "$in_flight" <<'PY'
import json, sys
work, rows, port, in_flight = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
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
    "delivery": {"mode": "routes", "routes": {"*": f"smtp://127.0.0.1:{port}"}, "heloName": "mta.example.com", "tls": "none",
                 "maxInFlight": in_flight},
    "configurationSets": [{"name": "bulk", "pool": "p"}], "defaultConfigurationSet": "bulk",
}, open(f"{work}/kiln.json", "w"))
json.dump({"from": "news@example.com", "subject": "Hi {{name}}", "text": "Hello {{name}}\n"}, open(f"{work}/template.json", "w"))
PY
sleep 0.5
touch "$work/delivered.log"
delivered() { wc -l <"$work/delivered.log"; }
for k in $(seq 1 "$kills"); do
  if [ "$k" = 1 ]; then
    "$kiln" campaign run --config "$work/kiln.json" --recipients "$work/list.csv" --template "$work/template.json" --campaign m >/dev/null 2>&1 &
  else
    "$kiln" campaign resume m --config "$work/kiln.json" >/dev/null 2>&1 &
  fi
  pid=$!
  target=$((rows * k / (kills + 1)))
  while [ "$(delivered)" -lt "$target" ] && kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "kill $k at $(delivered) deliveries"
done
"$kiln" campaign resume m --config "$work/kiln.json" >/dev/null 2>&1 || true
python3 - "$work/delivered.log" "$rows" "$kills" "$in_flight" <<'PY'
import collections, sys
counts = collections.Counter(open(sys.argv[1]).read().split())
rows, kills, in_flight = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
twice = sum(n - 1 for n in counts.values() if n > 1)
print(f"{len(counts)} of {rows} recipients delivered, {sum(counts.values())} deliveries; "
      f"{twice} sent more than once over {kills} SIGKILLs ({twice / kills:.1f} per kill; maxInFlight {in_flight})")
sys.exit(0 if len(counts) == rows else 1)
PY
