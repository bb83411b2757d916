#!/usr/bin/env python3
"""The self-healing table of experiments/README.md, from a run's over_time.csv.

Usage: gnutella experiment experiments/self-healing.json --out out/self-healing
       scripts/self-healing-table.py out/self-healing/over_time.csv

Each cell is the mean over the seeds ± one (sample) standard deviation: the mean
degree of the online peers over the 5 s buckets of 50-60 s, 60-65 s and 110-120 s, and
the success rate of the searches started in 0-60 s and in 60-120 s (succeeded / started,
per seed; a window with no bucket or no search shows –). Standard library only.
"""

import csv
import statistics
import sys
from collections import defaultdict


def cell(values, digits=2):
    if not values:
        return "–"
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    text = f"{mean:.{digits}f}"
    return text if sd == 0 else f"{text} ± {sd:.{digits}f}"


def main(path):
    runs = defaultdict(lambda: defaultdict(list))
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            key = (row["churn"], row["remove_fraction"], row["overlay"])
            runs[key][row["seed"]].append(row)
    print("| churn, removal | overlay | degree 50–60 s | 60–65 s | 110–120 s "
          "| success 0–60 s | success 60–120 s |")
    print("|---|---|---|---|---|---|---|")
    for (churn, removal, overlay), seeds in runs.items():
        def degree(lo, hi):
            out = []
            for rows in seeds.values():
                window = [float(r["mean_degree"]) for r in rows
                          if lo <= float(r["from_s"]) and float(r["to_s"]) <= hi]
                if window:
                    out.append(statistics.fmean(window))
            return out

        def success(lo, hi):
            out = []
            for rows in seeds.values():
                window = [r for r in rows if lo <= float(r["from_s"]) and float(r["to_s"]) <= hi]
                started = sum(int(r["queries_started"]) for r in window)
                done = sum(int(r["queries_succeeded"]) for r in window)
                if started:
                    out.append(done / started)
            return out

        churn_text = churn
        if ":" in churn:
            up, down = (int(v) // 1000 for v in churn.split(":"))
            churn_text = f"{up} s : {down} s"
        removal_text = "none" if float(removal) == 0 else f"{float(removal):.0%} at 60 s"
        print(f"| {churn_text}, {removal_text} | {overlay} | {cell(degree(50, 60))} "
              f"| {cell(degree(60, 65))} | {cell(degree(110, 120))} "
              f"| {cell(success(0, 60))} | {cell(success(60, 120))} |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
