"""Benchmark kmeans: the recipe against scikit-learn's `KMeans` in the same run.

Goal: <= 1.0x scikit-learn's wall time at inertia within 1 %.

Both fit the 60,000 MNIST training images (784-d float32 in [0, 1]) with the same k, n_init, tol
and max_iter (the recipe's Config defaults), scikit-learn with `algorithm="lloyd"` and k-means++.
The tolerances mean the same thing: scikit-learn stops when the summed squared centroid shift is
<= tol x the mean per-feature variance of the data, and the recipe computes its absolute tolerance
the same way (`relative_tolerance`), so both stop at the same point of the same trajectory (the
tests check equal iteration counts from equal initial centroids); both also stop when no label
changes. Timed: the fit only (data already in memory), for the recipe including its XLA compile
and tracing (its `fit_time_s`); scikit-learn's `fit` wall time in its own process, started by `_bench.peer` as its
users run it (OpenBLAS's own kernel choice; the record names it). CPU time of each is reported
too, as the machine may be shared. `--no-xla` adds the recipe without XLA.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import _bench
import numpy as np

from tfcook.recipes.kmeans import Config


def scikit_learn(config: Config, seed: int) -> dict:
    """scikit-learn's KMeans in its own process (_bench.peer: OpenBLAS as its users get it) on the same images."""
    import tfcook.data

    images, _ = tfcook.data.mnist_arrays("train", config.examples)
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder, "images.npy")
        np.save(data, images.reshape(len(images), -1))
        return _bench.peer("kmeans", f"--data={data}", f"--clusters={config.clusters}", f"--n_init={config.n_init}",
                           f"--tol={config.tol}", f"--max_iter={config.max_iter}", f"--seed={seed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-xla", action="store_true", help="also run the recipe with --xla=false")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    config = Config(seed=args.seed)

    rows = []
    variants = [("recipe (XLA)", "--xla=true")] + ([("recipe (no XLA)", "--xla=false")] if args.no_xla else [])
    for label, flag in variants:
        result = _bench.run("kmeans", flag, f"--seed={args.seed}")
        m = result["metrics"]
        rows.append({
            "run": label, "inertia": m["inertia"], "iterations": sum(r["iterations"] for r in m["restarts"]),
            "fit_time_s": m["fit_time_s"], "fit_cpu_s": m["fit_cpu_s"],
            "purity": m["purity"], "nmi": m["nmi"],
        })
    sk = scikit_learn(config, args.seed)
    rows.append({"run": "scikit-learn KMeans (lloyd)", "inertia": sk["inertia"], "iterations": None, "fit_time_s": round(sk["fit_time_s"], 2),
                 "fit_cpu_s": round(sk["fit_cpu_s"], 1), "purity": None, "nmi": None})
    recipe = rows[0]
    _bench.report("kmeans", rows, {
        "fit time ratio recipe/scikit-learn": round(recipe["fit_time_s"] / sk["fit_time_s"], 3),
        "fit CPU-time ratio recipe/scikit-learn": round(recipe["fit_cpu_s"] / sk["fit_cpu_s"], 3),
        "inertia recipe/scikit-learn - 1": f"{recipe['inertia'] / sk['inertia'] - 1:+.4%}",
        "scikit-learn best restart's iterations": sk["iterations_best"],
        "goal": "<= 1.0 with inertia within 1 %",
        "scikit-learn's BLAS (its own process)": sk["blas"],
        "variables unset for scikit-learn's process": sk["unset"],
        "tensorflow threads": _bench.tf_threads(),
    })


if __name__ == "__main__":
    main()
