#!/usr/bin/env bash
# The held-out protocol for reply reading (README "How replies are read"): the bounce
# corpus's real refusals, split by the system that wrote them into two halves, each scored
# by the action its reply calls for. Scores the reading of one or more kiln binaries side
# by side on the same rows.
#   scripts/held-out-replies.sh [KILN ...]   (default: the debug build's kiln)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
KILN_HELD_OUT_DUMP="$rows" swift test --skip-build --filter HeldOutReplyReadingTests >/dev/null 2>&1 || true
[ -s "$rows" ] || { echo "no rows: build the tests first (swift build --build-tests)" >&2; exit 1; }
binaries=("$@")
[ ${#binaries[@]} -gt 0 ] || binaries=("$(swift build --show-bin-path)/kiln")
for kiln in "${binaries[@]}"; do
  cut -f4 "$rows" | "$kiln" reply classify --stdin --json | paste "$rows" - | python3 -c '
import json, sys
def action(c):
    k, s = c["class"], c["scope"]
    if k == "permanent-user": return "suppress"
    if k == "permanent-message" or (k == "permanent-policy" and s == "message"): return "bounce"
    if (k == "permanent-policy" and s == "ip") or k == "throttle": return "protect"
    if s == "sender": return "sender"
    if k == "permanent-policy": return "bounce"
    return "retry"
score = {0: [0, 0, 0], 1: [0, 0, 0]}
for line in sys.stdin:
    half, want, name, reply, out = line.rstrip("\n").split("\t", 4)
    got = action(json.loads(out))
    s = score[int(half)]
    s[0] += 1
    if got == want or (want == "retry" and got == "protect"): s[1] += 1
    elif want == "protect": s[2] += 1
for h in (0, 1):
    rows, right, missed = score[h]
    print(f"half {h}: {right}/{rows} = {right / max(rows, 1):.3f} right, {missed} IP-protecting replies missed")
' | sed "s|^|$(basename "$kiln"): |"
done
