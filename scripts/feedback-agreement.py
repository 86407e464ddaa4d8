#!/usr/bin/env python3
"""Agreement of `kiln feedback classify` with the sisimai answers in Tests/Corpora/bounces.

    scripts/feedback-agreement.py [path/to/kiln] [-v] [--part A|B]

--part scores one half of a split by MTA family (the file name without its number:
`lhost-postfix`, `rhost-gmx`, `rfc3464`, ...): the families in sorted order go to A, B,
A, B, ... Rules are written looking at one part's misses only; the other part's figure
is the held-out (cross-family) agreement.
"""
import csv, json, os, re, subprocess, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
corpus = os.path.join(root, "Tests", "Corpora", "bounces")
argv = sys.argv[1:]
part = None
if "--part" in argv:
    i = argv.index("--part")
    part = argv[i + 1]
    del argv[i:i + 2]
args = [a for a in argv if a != "-v"]
verbose = "-v" in argv
kiln = args[0] if args else os.path.join(root, ".build", "debug", "kiln")
rows = list(csv.DictReader(open(os.path.join(corpus, "expected.tsv")), delimiter="\t"))
def family(name):
    return re.sub(r"-\d+\.eml$", "", name)
if part:
    families = sorted({family(r["file"]) for r in rows})
    chosen = {f for i, f in enumerate(families) if "AB"[i % 2] == part}
    rows = [r for r in rows if family(r["file"]) in chosen]
    print(f"part {part}: {len(chosen)} families, {len({r['file'] for r in rows})} files")
files = sorted({r["file"] for r in rows})
reports = {}
for f in files:
    out = subprocess.run([kiln, "feedback", "classify", "--json", os.path.join(corpus, f)], capture_output=True, text=True)
    reports[f] = json.loads(out.stdout) if out.returncode == 0 else {"type": "error", "recipients": [], "error": out.stderr}
hard_ok = comp_rows = comp_ok = count_ok = reason_ok = 0
wrong = []
for r in rows:
    rep = reports[r["file"]]
    i = int(r["rcpt_index"]) - 1
    rc = rep["recipients"][i] if i < len(rep["recipients"]) else None
    perm = bool(rc and rc["permanent"])
    exp = r["sisimai_hardbounce"] == "1"
    if perm == exp:
        hard_ok += 1
    else:
        wrong.append(f'{r["file"]}#{i+1}: expected {r["reason"]} hard={exp}; got {rc and rc["reason"]} {rc and rc["status"]} {(rc and rc["diagnostic"] or "")[:150]}')
    if rc and rc.get("reason") == r["reason"]:
        reason_ok += 1
    if r["class"] == "complaint" or rep["type"] == "complaint":
        comp_rows += 1
        if (rep["type"] == "complaint") == (r["class"] == "complaint"):
            comp_ok += 1
        else:
            wrong.append(f'{r["file"]}: complaint expected {r["class"]}, got {rep["type"]}')
expected_counts = {}
for r in rows:
    expected_counts[r["file"]] = max(expected_counts.get(r["file"], 0), int(r["rcpt_index"]))
for f, n in expected_counts.items():
    if len(reports[f]["recipients"]) == n:
        count_ok += 1
    elif verbose:
        print(f"count {f}: expected {n}, got {len(reports[f]['recipients'])} type {reports[f]['type']}")
print(f"hard-bounce agreement: {hard_ok}/{len(rows)} = {hard_ok/len(rows):.3f}")
print(f"complaint detection:   {comp_ok}/{comp_rows} = {comp_ok/max(comp_rows,1):.3f}")
print(f"same reason as sisimai: {reason_ok}/{len(rows)} = {reason_ok/len(rows):.3f}")
print(f"same recipient count:  {count_ok}/{len(expected_counts)}")
for w in wrong:
    print("  " + w)
