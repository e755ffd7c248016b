"""Benchmark transformer: greedy decoding in one compiled loop against the tutorials' Python loop.

Two fresh processes run the recipe's default config (reverse and sort, 500 steps each, seeded: the
same training): one decodes with the recipe's fixed-buffer `GreedyDecoder` (a keras.ops.fori_loop,
XLA-compiled: a tf.function on TensorFlow, jax.jit on JAX), the other with the peer,
`--decoder=python_loop`, the PyTorch tutorials' loop that re-runs the decoder eagerly on a growing
prefix. Reported per task: exact match of both (they must agree) and the time to decode the 1,000
held-out sequences, first call (tracing and XLA's compile included) and warm. Extra flags go to both
runs: `--backend jax` benchmarks the JAX backend (`make bench NAME=transformer ARGS="--backend jax"`).
"""

from __future__ import annotations

import argparse

import _bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    _, extra = parser.parse_known_args()
    results = {decoder: _bench.run("transformer", f"--decoder={decoder}", *extra) for decoder in ("python_loop", "buffer")}
    rows, summary = [], {}
    for decoder, result in results.items():
        for task in result["metrics"]["tasks"]:
            rows.append({"decoder": decoder, "task": task["task"], "exact_match": task["exact_match"],
                         "longer_exact_match": task["longer_exact_match"], "train_time_s": task["train_time_s"],
                         "decode_ms_per_1000": task["decode_ms_per_1000"], "warm_decode_ms_per_1000": task["warm_decode_ms_per_1000"]})
    by_key = {(row["decoder"], row["task"]): row for row in rows}
    for task in (t["task"] for t in results["buffer"]["metrics"]["tasks"]):
        fast, peer = by_key["buffer", task], by_key["python_loop", task]
        summary[f"{task}: warm decode time buffer/python loop"] = round(fast["warm_decode_ms_per_1000"] / peer["warm_decode_ms_per_1000"], 3)
        summary[f"{task}: first-call decode time buffer/python loop"] = round(fast["decode_ms_per_1000"] / peer["decode_ms_per_1000"], 3)
        summary[f"{task}: exact match buffer, python loop"] = (fast["exact_match"], peer["exact_match"])
    summary["wall_time_s"] = {decoder: result["wall_time_s"] for decoder, result in results.items()}
    summary["backend"] = results["buffer"]["backend"]["name"]
    _bench.report("transformer", rows, summary)


if __name__ == "__main__":
    main()
