"""Benchmark training_tricks: every ablation run of the default config against its baseline run.

One run of the recipe's default config in a fresh process: the same batches, in the same order, from
the same initial weights for every run of an architecture. The peer of each trick is the baseline
run, warmup + cosine with 2 layers and 4 heads, in the same process; the clipped SGD run's peer is
the unclipped one. Reported per run: the table the recipe prints, and its time per step and steps
to hold 95 % exact match as ratios to the baseline's. Extra arguments go to the run.
"""

from __future__ import annotations

import argparse

import _bench

BASELINE = "warmup_cosine"


def per_step(row: dict) -> float:
    return row["train_time_s"] / max(1, row["steps"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    _, extra = parser.parse_known_args()
    result = _bench.run("training_tricks", *extra)
    m = result["metrics"]
    rows = m["runs"]
    runs = {row["run"]: row for row in rows}
    base = runs[BASELINE]
    summary = {}
    for name, row in runs.items():
        if name == BASELINE or name.endswith("high_lr"):
            continue
        steps = row["steps_to_95"]
        summary[f"{name}/{BASELINE} time per step"] = round(per_step(row) / per_step(base), 2)
        summary[f"{name}/{BASELINE} steps to hold 95 %"] = (
            round(steps / base["steps_to_95"], 2) if steps and base["steps_to_95"] else f"{steps} vs {base['steps_to_95']}")
    if {"clip_high_lr", "no_clip_high_lr"} <= set(runs):
        clipped, unclipped = runs["clip_high_lr"], runs["no_clip_high_lr"]
        summary["SGD at the high LR"] = (f"clipped: {clipped['steps']} steps, final loss {clipped['final_loss']}; "
                                         f"unclipped: diverged at step {unclipped['diverged_at_step']}")
        summary["clip_high_lr/no_clip_high_lr time per step"] = round(per_step(clipped) / per_step(unclipped), 2)
    for name, seeds in m["schedules"].items():
        summary[f"{name}: steps to hold 95 % per seed, mean"] = (seeds["steps_to_95"], seeds["mean"])
    summary["accumulation: variables max abs diff after one step"] = m["accumulation"]["variables_max_abs_diff"]
    summary["wall_time_s"] = result["wall_time_s"]
    _bench.report("training_tricks", rows, summary)


if __name__ == "__main__":
    main()
