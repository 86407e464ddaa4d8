#!/usr/bin/env bash
# Sending throughput against the machine's own ceilings, in one run:
#   - end-to-end `kiln campaign run` of N recipients (default 20,000) with a 20 KB HTML
#     template into postfix's smtp-sink, from 2 source IPs with warm limits: unsigned,
#     DKIM rsa-2048 and DKIM ed25519 (and rsa-2048 forced onto swift-crypto, to compare
#     the two RSA libraries end to end);
#   - the SMTP ceiling: smtp-source -d -s 16 -l 20480 into the same smtp-sink;
#   - OpenSSL's RSA-2048 signatures/s on 2 processes (openssl speed -multi 2 rsa2048).
# Beside each rate it reports CPU time per message, of the sender (kiln, or smtp-source for
# the ceiling) and of the receiver (smtp-sink): where the two cores go, less noisy than
# wall-clock rates on a shared machine.
# Each figure is the median of RUNS rounds (default 3); a round measures every row once,
# so that drift on a shared machine falls on all of them. Absolute numbers vary between
# machines; the ratios are what to compare.
#
#   scripts/throughput.sh [N] [RUNS]
# Take timings while nobody builds: flock /tmp/kiln-build.lock scripts/throughput.sh
# PERF_DIR=dir records the first round's kiln runs with `perf record -a -g` into
# dir/<row>.data (the whole machine: kiln, smtp-sink and the kernel), for `perf report`.
# TRANSFER_THREADS=n sets delivery.transferThreads and MAX_IN_FLIGHT=n delivery.maxInFlight
# (default: the configuration's defaults).
# BASELINE=path/to/kiln adds a row: unsigned with that binary, measured in the same rounds
# (an A/B of a change: copy the old release binary aside before rebuilding).
# ONLY="ceiling unsigned baseline" measures only those rows (the ratios need their rows).
set -euo pipefail
rows=${1:-20000}
runs=${2:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
sink_pid=
cleanup() { [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

make -C "$root" bench-deps >/dev/null
swift build -c release --product kiln --package-path "$root" >/dev/null
kiln=$(swift build -c release --show-bin-path --package-path "$root")/kiln
sink=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
source=$(command -v smtp-source || echo /usr/sbin/smtp-source)
as_user=$([ "$(id -u)" = 0 ] && echo "-u nobody" || true)

# smtp-sink accepts everything and keeps nothing; one sink serves every row.
# shellcheck disable=SC2086
"$sink" $as_user 127.0.0.1:$port 1024 &
sink_pid=$!

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/rsa.pem" 2>/dev/null
openssl genpkey -algorithm ED25519 -out "$work/ed.pem" 2>/dev/null
chmod 600 "$work/rsa.pem" "$work/ed.pem"

python3 - "$work" "$rows" "$port" <<'PY'
import json, os, sys
work, rows, port = sys.argv[1], int(sys.argv[2]), sys.argv[3]
domains = ["gmail.com", "yahoo.com", "outlook.com", "example.org"]
with open(f"{work}/list.csv", "w") as f:
    f.write("email,first_name\n")
    for i in range(rows):
        f.write(f"user{i}@{domains[i % 4]},Name{i}\n")
# A 20 KB newsletter: a personal greeting, then the same paragraphs for everyone.
paragraph = ("<p style=\"margin:0 0 12px 0;font-family:Arial,sans-serif;font-size:14px;line-height:20px;color:#333333\">"
             "This week in the shop: new arrivals, a few favourites back in stock, and a short note on shipping times "
             "before the holidays. <a href=\"https://example.com/shop?utm_source=news&amp;utm_medium=email\">See what is new</a>.</p>\n")
html = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>News</title></head>\n<body>\n<p>Hello {{first_name}},</p>\n"
while len(html) < 20 * 1024 - 40:
    html += paragraph
html += "</body></html>\n"
open(f"{work}/news.html", "w").write(html)
json.dump({"from": "news@example.com", "subject": "This week, {{first_name}}", "htmlFile": "news.html", "tags": ["weekly", "news"]},
          open(f"{work}/template.json", "w"))
providers = {p: {"coldHourly": 100000000, "warmHourly": 1000000000, "maxConnections": 8, "messagesPerConnection": 1000}
             for p in ["gmail", "microsoft", "yahoo", "apple", "other"]}
for variant, dkim in [("unsigned", None), ("rsa", [{"selector": "r1", "algorithm": "rsa-sha256", "privateKeyFile": f"{work}/rsa.pem"}]),
                      ("ed25519", [{"selector": "e1", "algorithm": "ed25519-sha256", "privateKeyFile": f"{work}/ed.pem"}])]:
    identity = {"domain": "example.com", "returnPathDomain": "bounce.example.com"}
    if dkim:
        identity["dkim"] = dkim
    json.dump({
        "store": {"path": "kiln.sqlite"}, "senderId": "Throughput",
        "identities": [identity],
        "pools": [{"name": "p", "ips": ["127.0.0.2", "127.0.0.3"], "scaling": "fixed"}],
        "providers": providers,
        "delivery": {"mode": "routes", "routes": {"*": f"smtp://127.0.0.1:{port}"}, "heloName": "mta.example.com", "tls": "none",
                     **({"transferThreads": int(os.environ["TRANSFER_THREADS"])} if os.environ.get("TRANSFER_THREADS") else {}),
                     **({"maxInFlight": int(os.environ["MAX_IN_FLIGHT"])} if os.environ.get("MAX_IN_FLIGHT") else {})},
        "configurationSets": [{"name": "bulk", "pool": "p",
                               "unsubscribe": {"url": "https://example.com/u", "mailto": "unsubscribe@example.com", "secretEnv": "TP_UNSUB_SECRET"}}],
        "defaultConfigurationSet": "bulk",
        "feedback": {"returnPathSecretEnv": "TP_RETURN_SECRET"},
    }, open(f"{work}/{variant}.json", "w"))
PY
export TP_UNSUB_SECRET=throughput-unsubscribe-secret TP_RETURN_SECRET=throughput-return-path-secret
sleep 0.3

# The sink's CPU seconds so far (user + system, from /proc).
ticks=$(getconf CLK_TCK)
sink_cpu() { awk -v t="$ticks" '{printf "%.3f\n", ($14 + $15) / t}' "/proc/$sink_pid/stat"; }
# Runs a command and writes the CPU seconds it (and its children) used to the file $1.
timed() {
  python3 -c '
import resource, subprocess, sys
status = subprocess.call(sys.argv[2:])
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write(f"{usage.ru_utime + usage.ru_stime:.3f}\n")
sys.exit(status)' "$@"
}
# Appends "sender-µs sink-µs" per message of ROW's run to $work/cpu-ROW.
record_cpu() {
  python3 -c "print(f'{$2 * 1e6 / $rows:.0f} {($4 - $3) * 1e6 / $rows:.0f}')" >>"$work/cpu-$1"
}

seconds_since() { python3 -c "import time,sys; print(time.time() - float(sys.argv[1]))" "$1"; }

# One end-to-end campaign (configuration VARIANT, row name ROW) into a fresh store;
# prints messages/s (0 when not all delivered).
campaign() {
  local variant=$1 dir="$work/run-$RANDOM$RANDOM" binary=${3:-$kiln}
  mkdir -p "$dir"
  cp "$work/$variant.json" "$dir/kiln.json"
  local start sink_before
  sink_before=$(sink_cpu)
  start=$(python3 -c "import time; print(time.time())")
  local perf=()
  if [ -n "${PERF_DIR:-}" ] && [ ! -e "$PERF_DIR/$2.data" ]; then
    mkdir -p "$PERF_DIR"
    perf=(perf record -q -a -g -F 499 -o "$PERF_DIR/$2.data" --)
  fi
  (cd "$dir" && timed "$dir/cpu" "${perf[@]}" "$binary" campaign run --config kiln.json --recipients "$work/list.csv" --template "$work/template.json" \
      --campaign c --json >report.json 2>kiln.log) || true
  local elapsed delivered
  elapsed=$(seconds_since "$start")
  delivered=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['delivered'])" "$dir/report.json" 2>/dev/null || echo 0)
  if [ "$delivered" != "$rows" ]; then
    echo "  $variant: only $delivered of $rows delivered; log: $(tail -3 "$dir/kiln.log")" >&2
    echo 0
  else
    record_cpu "$2" "$(cat "$dir/cpu")" "$sink_before" "$(sink_cpu)"
    python3 -c "print(f'{$rows / $elapsed:.0f}')"
  fi
  rm -rf "$dir"
}

ceiling() {
  local start sink_before rate
  sink_before=$(sink_cpu)
  start=$(python3 -c "import time; print(time.time())")
  timed "$work/cpu" "$source" -d -s 16 -l 20480 -m "$rows" -f news@example.com -t user@example.org 127.0.0.1:$port
  rate=$(python3 -c "print(f'{$rows / $(seconds_since "$start"):.0f}')")
  record_cpu ceiling "$(cat "$work/cpu")" "$sink_before" "$(sink_cpu)"
  echo "$rate"
}

openssl_rate() {
  # "rsa 2048 bits <sign s> <verify s> <sign/s> <verify/s>", summed over the processes.
  openssl speed -multi 2 -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {rate=$6} END {print int(rate)}'
}

declare -A figures
rows_order=(${ONLY:-ceiling unsigned rsa ed25519 rsa_swift_crypto openssl ${BASELINE:+baseline}})
measure() {
  case $1 in
    ceiling) ceiling ;;
    baseline) campaign unsigned baseline "$BASELINE" ;;
    unsigned | rsa | ed25519) campaign "$1" "$1" ;;
    rsa_swift_crypto) KILN_DKIM_RSA_LIBRARY=swift-crypto campaign rsa rsa_swift_crypto ;;
    openssl) openssl_rate ;;
  esac
}
# Each round starts one row later than the round before, so that no row always runs
# first (on a fresh sink) or right after the CPU-bound openssl row.
for round in $(seq 1 "$runs"); do
  count=${#rows_order[@]}
  for k in $(seq 0 $((count - 1))); do
    row=${rows_order[$(((k + round - 1) % count))]}
    figures[$row]+="$(measure "$row") "
  done
  echo "round $round: $(for k in "${rows_order[@]}"; do printf '%s=%s ' "$k" "$(echo "${figures[$k]}" | awk '{print $NF}')"; done)" >&2
done

args=()
for k in "${rows_order[@]}"; do args+=("$k=${figures[$k]}"); done
python3 - "$rows" "$runs" "$work" "${args[@]}" <<'PY'
import os, statistics, sys
rows, runs, work = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
values = {}
for arg in sys.argv[4:]:
    name, _, figures = arg.partition("=")
    values[name] = [float(v) for v in figures.split()]
m = {n: statistics.median(v) for n, v in values.items() if v}
labels = {
    "ceiling": "SMTP ceiling: smtp-source -d -s 16 -l 20480 -> smtp-sink",
    "unsigned": "kiln campaign run, unsigned",
    "rsa": "kiln campaign run, DKIM rsa-2048 (fastest library)",
    "ed25519": "kiln campaign run, DKIM ed25519",
    "rsa_swift_crypto": "kiln campaign run, DKIM rsa-2048 forced to swift-crypto",
    "openssl": "openssl speed -multi 2 rsa2048 (signatures/s)",
    "baseline": "kiln campaign run, unsigned, BASELINE binary",
}
print(f"\n{rows} recipients, 20 KB HTML, medians of {runs} rounds (msg/s unless noted)\n")
print(f"| {'path':<58} | {'median':>8} | runs")
print(f"|{'-' * 60}|{'-' * 10}|------")
for n in m:
    print(f"| {labels[n]:<58} | {m[n]:>8,.0f} | {' '.join(f'{v:.0f}' for v in values[n])}")
cpu = {}
for n in m:
    path = f"{work}/cpu-{n}"
    if os.path.exists(path):
        pairs = [tuple(float(x) for x in line.split()) for line in open(path) if line.strip()]
        cpu[n] = (statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs))
if cpu:
    print("\nCPU time per message (medians, µs): the sender (kiln, or smtp-source for the ceiling), the receiver")
    print("(smtp-sink), and the rate that the two alone would allow on 2 cores")
    print(f"| {'path':<58} | {'sender':>7} | {'sink':>6} | {'2 cores / (sender + sink)':>26}")
    print(f"|{'-' * 60}|{'-' * 9}|{'-' * 8}|{'-' * 28}")
    for n, (sender, sink) in cpu.items():
        print(f"| {labels[n]:<58} | {sender:>7,.0f} | {sink:>6,.0f} | {2e6 / max(sender + sink, 1):>22,.0f} msg/s")
def ratio(label, value, target):
    verdict = "met" if value >= target else "NOT met"
    print(f"{label:<62} {value:5.2f}  (target >= {target}: {verdict})")
print()
if "unsigned" in m and "ceiling" in m:
    ratio("unsigned / SMTP ceiling", m["unsigned"] / m["ceiling"], 0.6)
if "unsigned" in m and "openssl" in m and "rsa" in m:
    base = min(m["unsigned"], m["openssl"])
    ratio(f"rsa-2048 / min(unsigned, openssl 2-process) = /{base:,.0f}", m["rsa"] / base, 0.75)
if "unsigned" in m and "ed25519" in m:
    ratio("ed25519 / unsigned", m["ed25519"] / m["unsigned"], 0.85)
if "rsa" in m and "rsa_swift_crypto" in m:
    print(f"{'rsa-2048 fastest library / forced swift-crypto':<62} {m['rsa'] / max(m['rsa_swift_crypto'], 1):5.2f}")
if "baseline" in m and "unsigned" in m:
    # Per round, so that drift between rounds cancels out.
    pairs = [u / b for u, b in zip(values["unsigned"], values["baseline"]) if b > 0]
    print(f"{'unsigned / BASELINE unsigned (median of per-round ratios)':<62} {statistics.median(pairs):5.2f}  ({' '.join(f'{p:.2f}' for p in pairs)})")
PY
