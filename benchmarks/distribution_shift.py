"""Benchmark distribution_shift: augmented training and fine-tuning against plain training (the peer).

One run of the recipe's default config: the plain model (the peer), the same net trained with
augmentation layers, and the plain model fine-tuned on a few hundred shifted images are trained in
the same process and scored on the same clean and shifted test sets. Reported: accuracy per set,
mean accuracy over the geometric and the other shifts as a ratio to plain's, and each model's
training time as a ratio to plain's. Extra arguments go to the run.
"""

from __future__ import annotations

import argparse

import _bench
import numpy as np

MODELS = ("plain", "augmented", "fine_tuned")


def mean_over(rows: list[dict], model: str, geometric: bool) -> float:
    return float(np.mean([r[model] for r in rows if r["set"] != "clean" and r["geometric"] == geometric]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    _, extra = parser.parse_known_args()
    result = _bench.run("distribution_shift", *extra)
    m = result["metrics"]
    rows = [{"set": r["set"], **{f"{name}_pct": round(100 * r[name], 2) for name in MODELS}} for r in m["accuracy"]]
    times = m["train_times_s"]
    summary = {}
    for name in MODELS[1:]:
        for geometric, kind in ((True, "geometric"), (False, "other")):
            summary[f"{name}/plain mean accuracy on {kind} shifts"] = round(
                mean_over(m["accuracy"], name, geometric) / mean_over(m["accuracy"], "plain", geometric), 3)
        summary[f"{name}/plain training time"] = round(times[name] / times["plain"], 2)
    summary["train_times_s"] = times
    recovered = m["finetune_recovered"]  # None when plain had no gap on that set
    summary["fine-tuned on"] = f"{m['finetune_on']}: " + ("no gap" if recovered is None else f"{100 * recovered:.0f} % of the gap recovered")
    summary["flagged by the detector"] = m["flagged"]
    summary["wall_time_s"] = result["wall_time_s"]
    _bench.report("distribution_shift", rows, summary)


if __name__ == "__main__":
    main()
