#!/usr/bin/env bash
# Runs the README's "Your first message and your first campaign" block as written (the
# lines between <!-- quick-start:begin --> and <!-- quick-start:end -->), from the
# checkout's root, and checks that the receiver got the message and the campaign's three
# recipients. Builds kiln first. Leaves nothing behind (the block's `first/` is removed).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ -e first ]; then echo "quick-start: ./first exists; remove it first" >&2; exit 2; fi
swift build --product kiln >/dev/null
block=$(awk '/<!-- quick-start:begin -->/{f=1;next} /<!-- quick-start:end -->/{f=0} f' README.md | sed '/^```/d')
[ -n "$block" ] || { echo "quick-start: no block between the markers in README.md" >&2; exit 2; }
echo "$block" > "$root/.quick-start-block.sh"
# On failure the block's receiver is still running: stop it too.
trap 'pkill -f "smtp_sink.py 2525 received.log" 2>/dev/null || true; rm -rf "$root/first" "$root/.quick-start-block.sh"' EXIT
bash -euo pipefail "$root/.quick-start-block.sh"
lines=$(wc -l < first/received.log)
for address in ann@gmail.com bob@gmail.com cid@yahoo.com dee@outlook.com; do
  grep -q "$address" first/received.log || { echo "quick-start: $address was not received" >&2; exit 1; }
done
echo "quick-start: the README's block ran as written; $lines recipients received"
