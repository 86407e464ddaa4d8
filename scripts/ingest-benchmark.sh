#!/usr/bin/env bash
# Campaign ingest at scale: generates a CSV of N recipients (default 10,000,000), queues
# it with `kiln campaign run` on a paused store (ingest only, nothing is sent), and
# reports the rate and the peak resident memory.
#
#   scripts/ingest-benchmark.sh [ROWS]
set -euo pipefail
rows=${1:-10000000}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Peak memory comes from GNU time (Debian package `time`), not the shell's builtin.
if [ ! -x /usr/bin/time ]; then
  sudo=$([ "$(id -u)" = 0 ] || echo sudo)
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq time
fi
make -C "$root" deps >/dev/null
swift build -c release --product kiln --package-path "$root" >/dev/null
kiln=$(swift build -c release --show-bin-path --package-path "$root")/kiln

python3 - "$work" "$rows" <<'PY'
import json, sys
work, rows = sys.argv[1], int(sys.argv[2])
domains = ["gmail.com", "yahoo.com", "outlook.com", "icloud.com", "example.org", "gmx.de"]
with open(f"{work}/list.csv", "w") as f:
    f.write("email,first_name,last_name,city\n")
    for i in range(rows):
        f.write(f'user{i}@{domains[i % 6]},First{i},"Last, {i}",City{i % 100}\n')
config = {
    "store": {"path": "kiln.sqlite"}, "senderId": "Bench",
    "identities": [{"domain": "example.com", "returnPathDomain": "bounce.example.com"}],
    "pools": [{"name": "p", "ips": ["127.0.0.2"], "scaling": "fixed"}],
    "delivery": {"mode": "routes", "routes": {"*": "smtp://127.0.0.1:1"}, "heloName": "mta.example.com"},
    "configurationSets": [{"name": "bulk", "pool": "p"}], "defaultConfigurationSet": "bulk",
}
json.dump(config, open(f"{work}/kiln.json", "w"))
json.dump({"from": "news@example.com", "subject": "Hi {{first_name}}", "text": "Hello {{first_name}} {{last_name}} of {{city}}\n"},
          open(f"{work}/template.json", "w"))
PY

"$kiln" pause --config "$work/kiln.json" >/dev/null
start=$(date +%s.%N)
/usr/bin/time -v "$kiln" campaign run --config "$work/kiln.json" --recipients "$work/list.csv" --template "$work/template.json" \
  --campaign bench --json >"$work/report.json" 2>"$work/time.txt" || true
end=$(date +%s.%N)
accepted=$(python3 -c "import json,sys; print(json.load(open('$work/report.json'))['accepted'])")
rss=$(awk '/Maximum resident/ {print $6}' "$work/time.txt")
python3 -c "
rows, accepted, seconds, rss = $rows, $accepted, $end - $start, $rss
print(f'ingested {accepted} of {rows} rows in {seconds:.1f} s: {accepted / seconds:,.0f} recipients/s, peak RSS {rss / 1024:.0f} MB')
"
