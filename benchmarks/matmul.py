"""Benchmark matmul: GFLOP/s of the recipe's variants against numpy.matmul, n x n @ n x n.

Goal: @tf.function fp32 >= 1.0x numpy.matmul at n >= 1024; and report, honestly, whether
Strassen ever beats tf.matmul (the crossover). TensorFlow's contenders run in this process (no
Keras needed), NumPy afterwards in its own (`_bench.peer`: OpenBLAS as NumPy's users get it, with
the kernel threadpoolctl reports recorded; its spinning threads also can't slow TensorFlow there).
For each n and contender: one warm-up call, then timed calls back to back (at least `--repeats`
and `--min-time` seconds of them); the median counts. Both processes draw the same inputs per n.
A crossover needs Strassen faster by more than 5 % (the noise between runs here) at that n and
every larger one.

"strassen" is the recipe's default (tf.matmul once n <= 512), "strassen_1" exactly one level
(7 tf.matmuls of n/2), the classic way to locate the crossover. Columns: GFLOP/s = 2n^3/s per
contender; X/np = X's GFLOP/s over numpy's, X/tf over tf_function's; levels = Strassen's recursion
depth at the cutoff; cores (np_cores) = CPU time the TensorFlow (NumPy) process got per second of
timing. At n >= 1024 a value below ~1.8 on a 2-core machine means other jobs competed; at n <= 512
TensorFlow's matmul itself uses about one thread.
"""

from __future__ import annotations

import argparse
import math
import time

import _bench
import _peers
import numpy as np
import tensorflow as tf

import tfcook
from tfcook.recipes import matmul

WIN = matmul.STRASSEN_WIN  # Strassen "beats" tf.matmul only by more than run-to-run noise


def contenders(n: int, cutoff: int) -> dict:
    """name -> (input dtype, callable) on device tensors."""
    return {
        "tf_function": ("float32", matmul.matmul_function()),
        "xla": ("float32", matmul.matmul_function(jit_compile=True)),
        "strassen": ("float32", matmul.strassen_function(cutoff)),
        "strassen_1": ("float32", matmul.strassen_function(max(n // 2, 1))),
        "bf16": ("bfloat16", matmul.matmul_function()),
    }


def measure_tf(n: int, cutoff: int, repeats: int, min_time: float, device: str, seed: int) -> dict:
    a, b = _peers.matmul_inputs(n, seed)  # what NumPy gets in its process
    cpu, wall = time.process_time(), time.perf_counter()
    seconds = {}
    with tf.device(device):
        on_device = {"float32": (tf.identity(a), tf.identity(b))}
        on_device["bfloat16"] = tuple(tf.cast(x, tf.bfloat16) for x in on_device["float32"])
        for name, (dtype, fn) in contenders(n, cutoff).items():
            call = lambda fn=fn, args=on_device[dtype]: fn(*args)  # noqa: E731
            matmul.materialize(call())  # warm-up: tracing, XLA compilation, caches
            once = matmul.time_median(call, 1)
            seconds[name] = matmul.time_median(call, max(repeats, math.ceil(min_time / once)))
    return {"n": n, **{name: 2 * n**3 / s / 1e9 for name, s in seconds.items()},
            "cores": (time.process_time() - cpu) / (time.perf_counter() - wall)}


def median_of(rounds: list[dict]) -> dict:
    return {key: float(np.median([r[key] for r in rounds])) for key in rounds[0]}


def row(tf_row: dict, np_row: dict, cutoff: int) -> dict:
    n, g = tf_row["n"], {**tf_row, **np_row}
    out = {"n": int(n), **{k: round(g[k], 1) for k in ("tf_function", "xla", "strassen", "strassen_1", "bf16", "numpy")}}
    out.update({f"{k}/np": round(g[k] / g["numpy"], 3) for k in ("tf_function", "xla", "strassen", "bf16")})
    out.update({"strassen/tf": round(g["strassen"] / g["tf_function"], 3), "strassen_1/tf": round(g["strassen_1"] / g["tf_function"], 3),
                "levels": matmul.strassen_levels(n, n, n, cutoff), "cores": round(g["cores"], 2), "np_cores": round(g["np_cores"], 2)})
    return out


def crossover(rows: list[dict], key: str, recursed=lambda row: True) -> str:
    """The smallest n from which `key` (a Strassen/tf_function ratio) stays above WIN."""
    rows = [r for r in rows if recursed(r)]
    for i, row in enumerate(rows):
        if all(r[key] > WIN for r in rows[i:]):
            return f"n = {row['n']}"
    return f"no crossover up to {rows[-1]['n']}" if rows else "not measured"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="256,512,1024,2048,4096", help="comma-separated n")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per contender and size, at least")
    parser.add_argument("--min-time", type=float, default=0.5, help="...and at least this many seconds of them")
    parser.add_argument("--cutoff", type=int, default=matmul.Config.strassen_cutoff, help="Strassen's tf.matmul cutoff")
    parser.add_argument("--device", default="auto", choices=tfcook.devices.DEVICES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3, help="TensorFlow, then NumPy, this many times per n; medians count")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    tfcook.devices.select(args.device)
    device = tfcook.devices.device_name()
    tf.get_logger().setLevel("ERROR")  # one trace per size is intended
    tf.config.experimental.enable_tensor_float_32_execution(False)  # full fp32, as in the recipe
    rows, peer = [], {}
    for n in sizes:
        # Rounds alternate TensorFlow and NumPy at each n: on a shared machine the speed available drifts over
        # minutes (the same tf.function measured 105 and 217 GFLOP/s at n = 1024 in two runs here).
        tf_rounds, np_rounds = [], []
        for _ in range(args.rounds):
            tf_rounds.append(measure_tf(n, args.cutoff, args.repeats, args.min_time, device, args.seed))
            peer = _bench.peer("matmul", f"--sizes={n}", f"--repeats={args.repeats}", f"--min-time={args.min_time}", f"--seed={args.seed}")
            np_rounds.append(peer["sizes"][str(n)])
        rows.append(row(median_of(tf_rounds), median_of(np_rounds), args.cutoff))
        print(f"n={n}: tf_function {rows[-1]['tf_function']} GFLOP/s, numpy {rows[-1]['numpy']} (own process, "
              f"{_bench.blas_summary(peer['blas'])}), medians of {args.rounds} rounds", flush=True)
    big = [r for r in rows if r["n"] >= 1024] or rows
    summary = {
        "device": device,
        "tf_function/numpy at n >= 1024 (min, max)": (min(r["tf_function/np"] for r in big), max(r["tf_function/np"] for r in big)),
        "tf_function/numpy at the largest n": rows[-1]["tf_function/np"],
        "goal": "tf_function/numpy >= 1.0 at n >= 1024",
        "goal met (every n >= 1024)": all(r["tf_function/np"] >= 1.0 for r in big),
        f"Strassen (cutoff {args.cutoff}) vs tf.matmul crossover": crossover(rows, "strassen/tf", lambda r: r["levels"] > 0),
        "Strassen one level vs tf.matmul crossover": crossover(rows, "strassen_1/tf"),
        "least cores TensorFlow / NumPy got at n >= 1024 (< 1.8: other jobs competed)": (min(r["cores"] for r in big), min(r["np_cores"] for r in big)),
        "numpy's BLAS (its own process)": peer["blas"],
        "variables unset for numpy's process": peer["unset"],
        "tensorflow threads": _bench.tf_threads(),
    }
    print()
    _bench.report("matmul", rows, summary)


if __name__ == "__main__":
    main()
