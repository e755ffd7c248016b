"""Benchmark speech_rnn: the bidirectional GRU against a small 2-D CNN on the same log-mels.

Both run the recipe's default config (standard split and all five held-out speakers, same
features, SpecAugment, optimizer and epochs) in separate processes; only `--model` differs.
Goal: the GRU >= 97 % on the standard split; the table shows where the CNN lands, on both
evaluations, and the training-time ratio. Extra arguments go to both runs (e.g. --epochs=10).
"""

from __future__ import annotations

import argparse

import _bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    _, extra = parser.parse_known_args()
    rows, results = [], {}
    for model in ("rnn", "cnn"):
        result = _bench.run("speech_rnn", f"--model={model}", *extra)
        m = result["metrics"]
        results[model] = m
        rows.append({
            "model": m["model"],
            "params": m["params"],
            "standard_accuracy": m["standard_test_accuracy"],
            "heldout_speaker_mean": m.get("heldout_speaker_mean_accuracy"),
            **{f"heldout_{f['speaker']}": f["accuracy"] for f in m.get("heldout_speakers", [])},
            "standard_train_s": m["standard_train_time_s"],
            "wall_time_s": result["wall_time_s"],
        })
    rnn, cnn = results["rnn"], results["cnn"]
    _bench.report("speech_rnn", rows, {
        "train time ratio bigru/cnn (standard split)": round(rnn["standard_train_time_s"] / cnn["standard_train_time_s"], 2),
        "accuracy gap bigru - cnn, standard split (pt)": round(100 * (rnn["standard_test_accuracy"] - cnn["standard_test_accuracy"]), 2),
        "goal": "bigru >= 0.97 on the standard split",
    })


if __name__ == "__main__":
    main()
