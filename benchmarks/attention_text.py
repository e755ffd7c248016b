"""Benchmark attention_text: the Transformer encoder against text_classifier's BiLSTM, same data, same run.

Both recipes run their default configs in fresh processes on the same 67,349 SST-2 phrases and
872 validation sentences. The table gives accuracy and time per epoch (vectorization included,
so the first epoch carries it, and on JAX its compiles); the summary the time-per-epoch ratio.
Extra arguments go to both runs: `--backend jax` benchmarks the JAX backend
(`make bench NAME=attention_text ARGS="--backend jax"`).
"""

from __future__ import annotations

import argparse
import statistics

import _bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=1)
    args, extra = parser.parse_known_args()
    rows, ratios = [], []
    for i in range(args.repeats):
        bilstm = _bench.run("text_classifier", *extra)
        encoder = _bench.run("attention_text", *extra)
        for label, result in (("text_classifier BiLSTM", bilstm), ("attention_text encoder", encoder)):
            m = result["metrics"]
            rows.append(
                {
                    "run": label,
                    "repeat": i,
                    "val_accuracy": m["val_accuracy"],
                    "epochs": result["config"]["epochs"],
                    "epoch_time_s": m["epoch_time_s"],
                    "train_time_s": m["train_time_s"],
                    "params": m["params"],
                }
            )
        ratios.append(encoder["metrics"]["epoch_time_s"] / bilstm["metrics"]["epoch_time_s"])
    _bench.report(
        "attention_text",
        rows,
        {
            "time per epoch ratio encoder/BiLSTM (median)": round(statistics.median(ratios), 3),
            "goal": "encoder >= 0.82",
            "backend": encoder["backend"]["name"],
        },
    )


if __name__ == "__main__":
    main()
