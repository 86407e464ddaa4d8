#!/usr/bin/env bash
# Does delivery stay fast when the queue is large? Queues QUEUED messages
# (default 10,000,000) on a paused store, resumes it, and times `kiln run` until RUN of
# them (default 200,000) have reached postfix's smtp-sink; then does the same with only
# RUN messages queued. Each figure is the median of RUNS rounds (default 3): the large
# store is ingested once and each round delivers RUN more of it. Prints both rates, their
# ratio (target >= 0.8), each run's peak RSS (VmHWM), and the store's size.
#
#   scripts/large-queue.sh [QUEUED] [RUN] [RUNS]
# Take timings while nobody builds: flock /tmp/kiln-build.lock scripts/large-queue.sh
set -euo pipefail
queued=${1:-10000000}
run=${2:-200000}
runs=${3:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d -p "${TMPDIR:-/var/tmp}")
port=$((20000 + RANDOM % 20000))
sink_pid=
kiln_pid=
cleanup() {
  [ -n "$kiln_pid" ] && kill "$kiln_pid" 2>/dev/null
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

make -C "$root" bench-deps >/dev/null
swift build -c release --product kiln --package-path "$root" >/dev/null
kiln=$(swift build -c release --show-bin-path --package-path "$root")/kiln
sink=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
as_user=$([ "$(id -u)" = 0 ] && echo "-u nobody" || true)

# The sink prints a running count ("... mesg=N\r") for each message it accepts.
# shellcheck disable=SC2086
"$sink" $as_user -c 127.0.0.1:$port 1024 >"$work/sink.count" &
sink_pid=$!
sunk() { tail -c 200 "$work/sink.count" | tr '\r' '\n' | grep -o 'mesg=[0-9]*' | tail -1 | cut -d= -f2 || echo 0; }

python3 - "$work" "$queued" "$run" "$port" <<'PY'
import json, sys
work, queued, run, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
domains = ["gmail.com", "yahoo.com", "outlook.com", "icloud.com", "example.org", "gmx.de"]
for name, rows in [("large", queued), ("small", run)]:
    with open(f"{work}/{name}.csv", "w") as f:
        f.write("email,first_name\n")
        for i in range(rows):
            f.write(f"user{i}@{domains[i % 6]},Name{i}\n")
text = "Hello {{first_name}},\n\n" + ("This week in the shop: new arrivals and a note on shipping times.\n" * 30)
json.dump({"from": "news@example.com", "subject": "This week, {{first_name}}", "text": text}, open(f"{work}/template.json", "w"))
providers = {p: {"coldHourly": 100000000, "warmHourly": 1000000000, "maxConnections": 8, "messagesPerConnection": 1000}
             for p in ["gmail", "microsoft", "yahoo", "apple", "other"]}
json.dump({
    "store": {"path": "kiln.sqlite"}, "senderId": "LargeQueue",
    "identities": [{"domain": "example.com", "returnPathDomain": "bounce.example.com"}],
    "pools": [{"name": "p", "ips": ["127.0.0.2", "127.0.0.3"], "scaling": "fixed"}],
    "providers": providers,
    "delivery": {"mode": "routes", "routes": {"*": f"smtp://127.0.0.1:{port}"}, "heloName": "mta.example.com", "tls": "none"},
    "configurationSets": [{"name": "bulk", "pool": "p"}], "defaultConfigurationSet": "bulk",
}, open(f"{work}/kiln.json", "w"))
PY

# Queues a list into a paused store in DIR (ingest only; nothing is sent).
ingest() {
  local dir=$1 list=$2
  mkdir -p "$dir"
  cp "$work/kiln.json" "$dir/kiln.json"
  (cd "$dir" && "$kiln" pause --config kiln.json >/dev/null &&
    "$kiln" campaign run --config kiln.json --recipients "$list" --template "$work/template.json" --campaign c --json >ingest.json 2>ingest.log) || true
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(r['accepted'])" "$dir/ingest.json"
}

# Resumes the store in DIR and runs `kiln run` until RUN more messages reached the sink;
# prints "rate peak_rss_mb".
deliver() {
  local dir=$1
  (cd "$dir" && "$kiln" resume --config kiln.json >/dev/null)
  local before target start
  before=$(sunk)
  target=$((before + run))
  start=$(date +%s.%N)
  (cd "$dir" && exec "$kiln" run --config kiln.json 2>run.log) &
  kiln_pid=$!
  local peak=0 now
  while [ "$(sunk)" -lt "$target" ]; do
    kill -0 "$kiln_pid" 2>/dev/null || { echo "kiln run ended early: $(tail -3 "$dir/run.log")" >&2; break; }
    now=$(awk '/VmHWM/ {print $2}' "/proc/$kiln_pid/status" 2>/dev/null || echo 0)
    [ "${now:-0}" -gt "$peak" ] && peak=$now
    sleep 0.2
  done
  local end
  end=$(date +%s.%N)
  now=$(awk '/VmHWM/ {print $2}' "/proc/$kiln_pid/status" 2>/dev/null || echo 0)
  [ "${now:-0}" -gt "$peak" ] && peak=$now
  kill -TERM "$kiln_pid" 2>/dev/null || true
  wait "$kiln_pid" 2>/dev/null || true
  kiln_pid=
  (cd "$dir" && "$kiln" pause --config kiln.json >/dev/null)
  python3 -c "print(f'{$run / ($end - $start):.0f} {$peak / 1024:.0f}')"
}

start=$(date +%s.%N)
accepted=$(ingest "$work/large" "$work/large.csv")
ingest_seconds=$(python3 -c "print(f'{$(date +%s.%N) - $start:.0f}')")
echo "queued $accepted messages in $ingest_seconds s; store $(du -sh "$work/large" | cut -f1)" >&2

large_rates=() small_rates=() large_rss=() small_rss=()
for round in $(seq 1 "$runs"); do
  rm -rf "$work/small"
  ingest "$work/small" "$work/small.csv" >/dev/null
  read -r rate rss < <(deliver "$work/small")
  small_rates+=("$rate"); small_rss+=("$rss")
  read -r rate rss < <(deliver "$work/large")
  large_rates+=("$rate"); large_rss+=("$rss")
  echo "round $round: empty queue ${small_rates[-1]} msg/s (peak RSS ${small_rss[-1]} MB), $accepted queued ${large_rates[-1]} msg/s (peak RSS ${large_rss[-1]} MB)" >&2
done

python3 - "$accepted" "$run" "${small_rates[*]}" "${large_rates[*]}" "${small_rss[*]}" "${large_rss[*]}" <<'PY'
import statistics, sys
queued, run = int(sys.argv[1]), int(sys.argv[2])
small, large, small_rss, large_rss = ([float(v) for v in a.split()] for a in sys.argv[3:7])
ms, ml = statistics.median(small), statistics.median(large)
print(f"\ndelivery of {run:,} messages, medians of {len(small)} runs")
print(f"  only those queued:        {ms:8,.0f} msg/s  (runs {' '.join(f'{v:.0f}' for v in small)}; peak RSS {max(small_rss):.0f} MB)")
print(f"  {queued:,} queued: {ml:8,.0f} msg/s  (runs {' '.join(f'{v:.0f}' for v in large)}; peak RSS {max(large_rss):.0f} MB)")
ratio = ml / ms
print(f"  ratio {ratio:.2f} (target >= 0.8: {'met' if ratio >= 0.8 else 'NOT met'})")
PY
