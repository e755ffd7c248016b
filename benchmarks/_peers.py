"""The peers that run on NumPy's BLAS, each in a process of its own as its users run it.

`_bench.peer(NAME, ...)` starts `python _peers.py NAME ...` without the variables that pin
OpenBLAS to older kernels; this file imports neither TensorFlow nor tfcook, so the peer's process
holds only what the peer's users would load. Each prints one JSON object (its results, the BLAS
libraries threadpoolctl sees in the process, its threads) as its last line.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import time

import numpy as np


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return usage.ru_utime + usage.ru_stime


def blas() -> list[dict]:
    """The BLAS and OpenMP libraries loaded in this process: kernel ("architecture"), version, threads."""
    from threadpoolctl import threadpool_info

    keys = ("internal_api", "version", "architecture", "threading_layer", "num_threads", "prefix")
    return [{k: lib.get(k) for k in keys if lib.get(k) is not None} for lib in threadpool_info()]


def matmul_inputs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """What benchmarks/matmul.py feeds TensorFlow at this n (the recipe's random_inputs, seeded per n)."""
    rng = np.random.default_rng([seed, n])
    return rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)


def median_seconds(call, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def matmul(args: argparse.Namespace) -> dict:
    """numpy.matmul GFLOP/s per n: one warm-up call, then at least `repeats` calls and `min_time` seconds."""
    sizes = {}
    for n in (int(s) for s in args.sizes.split(",")):
        a, b = matmul_inputs(n, args.seed)
        cpu, wall = time.process_time(), time.perf_counter()
        np.matmul(a, b)
        once = median_seconds(lambda: np.matmul(a, b), 1)
        seconds = median_seconds(lambda: np.matmul(a, b), max(args.repeats, math.ceil(args.min_time / once)))
        sizes[str(n)] = {"numpy": 2 * n**3 / seconds / 1e9, "np_cores": (time.process_time() - cpu) / (time.perf_counter() - wall)}
    return {"sizes": sizes}


def kmeans(args: argparse.Namespace) -> dict:
    """scikit-learn's KMeans (Lloyd, k-means++) on the images in `args.data` (a .npy file the benchmark wrote)."""
    from sklearn.cluster import KMeans

    x = np.load(args.data, allow_pickle=False)
    start, cpu = time.perf_counter(), cpu_seconds()
    model = KMeans(args.clusters, n_init=args.n_init, tol=args.tol, max_iter=args.max_iter, algorithm="lloyd", random_state=args.seed)
    model.fit(x)
    return {"inertia": float(model.inertia_), "fit_time_s": time.perf_counter() - start, "fit_cpu_s": cpu_seconds() - cpu,
            "iterations_best": int(model.n_iter_)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="peer", required=True)
    m = sub.add_parser("matmul")
    m.add_argument("--sizes", required=True)
    m.add_argument("--repeats", type=int, required=True)
    m.add_argument("--min-time", type=float, required=True)
    m.add_argument("--seed", type=int, default=0)
    k = sub.add_parser("kmeans")
    k.add_argument("--data", required=True)
    for name, kind in (("clusters", int), ("n_init", int), ("tol", float), ("max_iter", int), ("seed", int)):
        k.add_argument(f"--{name}", type=kind, required=True)
    args = parser.parse_args()
    result = {"matmul": matmul, "kmeans": kmeans}[args.peer](args)
    print(json.dumps({**result, "blas": blas()}))


if __name__ == "__main__":
    main()
