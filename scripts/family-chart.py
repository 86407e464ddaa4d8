#!/usr/bin/env python3
"""Draws the distribution of adaptive / oracle over a random scenario family as an SVG.

    kiln simulate --random 200 --seed 2 --json > family.json
    scripts/family-chart.py family.json docs/family-seed2.svg

Reads the `--json` output of `kiln simulate --random` (its `adaptiveRatios`, one per
scenario, and the per-strategy distribution) and writes a histogram with the p5 and
median marked. Standard library only.
"""
import json
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: family-chart.py FAMILY.json OUT.svg")
    with open(sys.argv[1]) as f:
        report = json.load(f)
    ratios = report["adaptiveRatios"]
    if not ratios:
        sys.exit("no scenarios in " + sys.argv[1])
    adaptive = next(s for s in report["strategies"] if s["strategy"] == "adaptive")
    low = min(0.6, min(ratios))
    high = max(1.1, max(ratios))
    bins = 50
    width_bin = (high - low) / bins
    counts = [0] * bins
    for r in ratios:
        counts[min(bins - 1, int((r - low) / width_bin))] += 1
    W, H, left, top, plot_w, plot_h = 720, 360, 60, 50, 620, 240
    peak = max(counts)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{left}" y="24" font-size="15">adaptive / oracle (dedicatedShare) over {report["scenarios"]} random scenarios, '
           f'seed {report["seed"]}, {report["days"]} days</text>']
    for i, c in enumerate(counts):
        if c == 0:
            continue
        h = c / peak * plot_h
        x = left + i / bins * plot_w
        out.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{plot_w / bins - 1:.1f}" height="{h:.1f}" fill="#4285F4"/>')
    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#ccc"/>')
    d = adaptive["ratioToOracle"]
    for name, value, color in (("p5", d["p5"], "#DB4437"), ("median", d["median"], "#0F9D58")):
        x = left + (value - low) / (high - low) * plot_w
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" stroke="{color}" stroke-dasharray="4 3"/>')
        out.append(f'<text x="{x + 3:.1f}" y="{top + 12 if name == "median" else top + 26}" fill="{color}">{name} {value:.3f}</text>')
    ticks = 10
    for k in range(ticks + 1):
        v = low + k * (high - low) / ticks
        x = left + k / ticks * plot_w
        out.append(f'<text x="{x - 12:.1f}" y="{top + plot_h + 16}">{v:.2f}</text>')
    out.append(f'<text x="{left - 40}" y="{top + 8}">{peak}</text><text x="{left - 20}" y="{top + plot_h}">0</text>')
    out.append(f'<text x="{left}" y="{top + plot_h + 40}">min {d["min"]:.3f} · p5 {d["p5"]:.3f} · median {d["median"]:.3f} · mean {d["mean"]:.3f} · '
               f'blocks in {adaptive["withBlocks"]} · max throttle {adaptive["maxThrottleRate"] * 100:.2f} % · expired in {adaptive["withExpired"]} · '
               f'ahead of both fixed plans in {report["adaptiveAheadOfFixed"] * 100:.1f} %</text>')
    out.append('</svg>')
    with open(sys.argv[2], "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
