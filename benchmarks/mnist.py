"""Benchmark mnist: the recipe's default run against doc 000's snippet as written.

Goal: >= 98.0 % test accuracy at <= 0.5x the snippet's wall time. With --repeats=N the two
alternate N times and the table shows each run plus the median time ratio.
"""

from __future__ import annotations

import argparse
import statistics

import _bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    rows, ratios = [], []
    for i in range(args.repeats):
        snippet = _bench.run("mnist", "--snippet")
        recipe = _bench.run("mnist")
        for label, result in (("doc 000 snippet", snippet), ("mnist recipe", recipe)):
            m = result["metrics"]
            rows.append({"run": label, "repeat": i, "test_accuracy": m["test_accuracy"], "wall_time_s": result["wall_time_s"], "train_time_s": m["train_time_s"]})
        ratios.append(recipe["wall_time_s"] / snippet["wall_time_s"])
    _bench.report("mnist", rows, {"time ratio recipe/snippet (median)": round(statistics.median(ratios), 3), "goal": "<= 0.5 with accuracy >= 0.980"})


if __name__ == "__main__":
    main()
