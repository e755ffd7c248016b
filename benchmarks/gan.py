"""Benchmark gan: the class-conditional DCGAN against the same DCGAN without the labels (the peer).

Both run the recipe's default config in their own process; only `--conditional` differs. The
judge (a CNN trained on real MNIST inside each run) scores 10,000 samples of each: the share it
labels with confidence >= 0.9, the smallest digit's share (mode collapse shows there), and MNIST
FID against the real test set over the floor (real training images against the same test set).
Goal: the conditional model's FID within 5x of the floor, its default run <= 10 minutes.
Extra arguments go to both runs: e.g. --epochs=5 (the CI run), or --backend jax for the JAX backend
(`make bench NAME=gan ARGS="--backend jax"`).
"""

from __future__ import annotations

import argparse

import _bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    _, extra = parser.parse_known_args()
    rows, results, backend = [], {}, None
    for conditional in (True, False):
        result = _bench.run("gan", f"--conditional={str(conditional).lower()}", *extra)
        m = results[conditional] = result["metrics"] | {"wall_time_s": result["wall_time_s"]}
        backend = result["backend"]["name"]
        rows.append({
            "model": "conditional DCGAN" if conditional else "DCGAN (peer)",
            "confident_fraction": m["confident_fraction"],
            "min_digit_share": m["min_digit_share"],
            "mnist_fid": m["mnist_fid"],
            "fid_over_floor": m["fid_over_floor"],
            "train_time_s": m["train_time_s"],
            "wall_time_s": m["wall_time_s"],
        })
    cond, plain = results[True], results[False]
    _bench.report("gan", rows, {
        "fid ratio conditional/plain": round(cond["mnist_fid"] / plain["mnist_fid"], 2),
        "train time ratio conditional/plain": round(cond["train_time_s"] / plain["train_time_s"], 2),
        "goal": "conditional fid_over_floor <= 5 and wall_time_s <= 600",
        "conditional wall_time_s": cond["wall_time_s"],
        "backend": backend,
    })


if __name__ == "__main__":
    main()
