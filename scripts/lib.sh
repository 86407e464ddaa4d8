# Shared by the measurement scripts (source it after setting `root` and `work`).

# Builds the release kiln (after the apt packages it needs) and sets $kiln to it.
kiln_release() {
  make -C "$root" deps >/dev/null
  swift build -c release --product kiln --package-path "$root" >/dev/null
  kiln=$(swift build -c release --show-bin-path --package-path "$root")/kiln
}

# Stores the campaign of $work/list.csv and $work/template.json, named CAMPAIGN, on a
# paused store (the run stops at once with exit 3, "paused"), then resumes: the queue is
# full before delivery starts. A failed ingest stops the script with its log's tail.
ingest_paused() {
  local campaign=$1 rc=0
  "$kiln" pause --config "$work/kiln.json" >/dev/null
  "$kiln" campaign run --config "$work/kiln.json" --recipients "$work/list.csv" --template "$work/template.json" \
    --campaign "$campaign" >"$work/ingest.log" 2>&1 || rc=$?
  [ "$rc" = 0 ] || [ "$rc" = 3 ] || { echo "campaign run failed ($rc):"; tail -3 "$work/ingest.log"; exit 1; }
  "$kiln" resume --config "$work/kiln.json" >/dev/null
}
