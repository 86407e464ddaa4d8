#!/usr/bin/env bash
# Fuzzes the HTTP injection API against its own OpenAPI document with schemathesis 4: every
# check (`--checks all`): no 5xx, every status, header, content type and body as documented,
# valid bodies accepted, invalid ones refused, authentication never ignored, 405 with Allow
# for undocumented methods. Exits non-zero when schemathesis finds anything.
#
#   KILN_API_USER=name KILN_API_SECRET=secret scripts/api-fuzz.sh [BASE_URL]
#
# BASE_URL (or KILN_API_URL) is where `kiln run --listen` serves /v1, e.g.
# http://127.0.0.1:8025. The credential must be able to submit (the server stores every
# message schemathesis manages to make valid: point it at a test store). Installs
# schemathesis 4 with pip when it is missing. KILN_FUZZ_EXAMPLES (default 100, about 25 s) sets the
# examples per operation; KILN_FUZZ_SEED makes a run repeatable.
set -euo pipefail
url=${1:-${KILN_API_URL:-}}
if [ -z "$url" ]; then
  echo "usage: KILN_API_USER=name KILN_API_SECRET=secret $0 BASE_URL (or KILN_API_URL)" >&2
  exit 2
fi
: "${KILN_API_USER:?set KILN_API_USER to the credential name}"
: "${KILN_API_SECRET:?set KILN_API_SECRET to the credential secret}"
url=${url%/}

# Through python3 -m, so that a fresh install works whether or not pip's script folder is on PATH.
if ! python3 -c 'import schemathesis, sys; sys.exit(int(schemathesis.__version__.split(".")[0]) != 4)' 2>/dev/null; then
  python3 -m pip install --quiet 'schemathesis>=4,<5'
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Settings that differ from schemathesis's defaults, each because the API means it:
cat >"$work/schemathesis.toml" <<'EOF'
[checks.negative_data_rejection]
# The defaults, plus 413: more than 1,000 recipients (the schema's maxItems) is answered
# 413 too_many_recipients (RFC 9110 Content Too Large), as documented, not 400.
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
EOF

seed=()
[ -n "${KILN_FUZZ_SEED:-}" ] && seed=(--seed "$KILN_FUZZ_SEED")
# The secret reaches schemathesis as an argument (visible in ps to this machine's users);
# its output hides Authorization values (--output-sanitize is on by default).
# Run in the scratch folder: schemathesis keeps a crash cache (.schemathesis/) in its working directory.
cd "$work"
status=0
python3 -m schemathesis.cli --config-file "$work/schemathesis.toml" --no-color run "$url/v1/openapi.json" \
  --checks all \
  --auth "$KILN_API_USER:$KILN_API_SECRET" \
  --max-examples "${KILN_FUZZ_EXAMPLES:-100}" \
  --request-timeout 10 \
  --wait-for-schema 10 \
  "${seed[@]}" || status=$?
exit "$status"
