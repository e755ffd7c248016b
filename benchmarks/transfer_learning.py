"""Benchmark transfer_learning: the pretrained base against the same net from scratch (the peer).

One run of the recipe's default config: the peer (c, random weights) trains in the same process
on the same N images per digit 5-9 as the frozen (a) and fine-tuned (b) variants, so accuracy and
compute are compared run for run. Reported per N (mean over the draws): test accuracy on all
4,861 test digits 5-9, the gain over scratch, and training time as a ratio to scratch's; the
one-off pretraining on digits 0-4 is reported beside it. Extra arguments go to the run.
"""

from __future__ import annotations

import argparse

import _bench
import numpy as np


def mean_seconds(runs: list[dict], n: int, variant: str) -> float:
    return float(np.mean([r["seconds"] for r in runs if r["n"] == n and r["variant"] == variant]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    _, extra = parser.parse_known_args()
    result = _bench.run("transfer_learning", *extra)
    m = result["metrics"]
    rows, summary = [], {}
    for row in m["summary"]:
        n = row["n_per_class"]
        scratch_s = mean_seconds(m["runs"], n, "c_scratch")
        for variant, label, pct in (("a_frozen_base", "frozen base + head", "frozen_pct"),
                                    ("b_fine_tuned", "fine-tuned top blocks", "fine_tuned_pct"),
                                    ("c_scratch", "scratch (peer)", "scratch_pct")):
            seconds = mean_seconds(m["runs"], n, variant)
            rows.append({"n_per_class": n, "variant": label, "test_pct": row[pct], "gain_pt": round(row[pct] - row["scratch_pct"], 2),
                         "train_s": round(seconds, 2), "time_vs_scratch": round(seconds / scratch_s, 2)})
        summary[f"N={n} fine-tuned gain over scratch (pt)"] = row["fine_tuned_gain_pt"]
    summary["pretraining on digits 0-4"] = m["pretraining"]
    summary["catalog bar"] = "fine-tuned gain >= 15 pt at N=10 and >= 5 pt at N=100"
    summary["wall_time_s"] = result["wall_time_s"]
    _bench.report("transfer_learning", rows, summary)


if __name__ == "__main__":
    main()
