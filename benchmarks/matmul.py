"""Benchmark matmul: GFLOP/s of the recipe's variants against numpy.matmul, n x n @ n x n.

Goal: @tf.function fp32 >= 1.0x numpy.matmul at n >= 1024; and report, honestly, whether
Strassen ever beats tf.matmul (the crossover). Everything runs in this one process (no Keras
needed): for each n and contender, one warm-up call, then timed calls back to back (at least
`--repeats` and `--min-time` seconds of them); the median counts. NumPy goes last and a pause
follows it: its OpenBLAS threads keep spinning after a call and slow whatever runs next
(interleaving the contenders made tf.matmul look 1.5x slower than it is). A crossover needs
Strassen faster by more than 5 % (the noise between runs here) at that n and every larger one.

"strassen" is the recipe's default (tf.matmul once n <= 512), "strassen_1" exactly one level
(7 tf.matmuls of n/2), the classic way to locate the crossover. Columns: GFLOP/s = 2n^3/s per
contender; X/np = X's GFLOP/s over numpy's, X/tf over tf_function's; levels = Strassen's recursion
depth at the cutoff; cores = CPU time this process got per second of timing. At n >= 1024 a value
below ~1.8 on a 2-core machine means other jobs competed (OpenBLAS suffers most); at n <= 512
TensorFlow's matmul itself uses about one thread.
"""

from __future__ import annotations

import argparse
import math
import time

import _bench
import numpy as np
import tensorflow as tf

import tfcook
from tfcook.recipes import matmul

WIN = matmul.STRASSEN_WIN  # Strassen "beats" tf.matmul only by more than run-to-run noise


def contenders(n: int, cutoff: int) -> dict:
    """name -> (input dtype, callable); NumPy gets NumPy arrays, the rest device tensors."""
    return {
        "tf_function": ("float32", matmul.matmul_function()),
        "xla": ("float32", matmul.matmul_function(jit_compile=True)),
        "strassen": ("float32", matmul.strassen_function(cutoff)),
        "strassen_1": ("float32", matmul.strassen_function(max(n // 2, 1))),
        "bf16": ("bfloat16", matmul.matmul_function()),
        "numpy": (None, np.matmul),
    }


def measure(n: int, cutoff: int, repeats: int, min_time: float, device: str, rng: np.random.Generator) -> dict:
    a, b = matmul.random_inputs(rng, n, n, n)
    time.sleep(matmul.SETTLE_S)  # let the previous size's OpenBLAS threads go idle
    cpu, wall = time.process_time(), time.perf_counter()
    seconds = {}
    with tf.device(device):
        on_device = {"float32": (tf.identity(a), tf.identity(b))}
        on_device["bfloat16"] = tuple(tf.cast(x, tf.bfloat16) for x in on_device["float32"])
        for name, (dtype, fn) in contenders(n, cutoff).items():  # NumPy last, as in the recipe
            args = on_device[dtype] if dtype else (a, b)
            call = lambda fn=fn, args=args: fn(*args)  # noqa: E731
            matmul.materialize(call())  # warm-up: tracing, XLA compilation, caches
            once = matmul.time_median(call, 1)
            seconds[name] = matmul.time_median(call, max(repeats, math.ceil(min_time / once)))
    cores = (time.process_time() - cpu) / (time.perf_counter() - wall)
    gflops = {name: 2 * n**3 / s / 1e9 for name, s in seconds.items()}
    row = {"n": n, **{name: round(g, 1) for name, g in gflops.items()}}
    row.update(
        {
            "tf_function/np": round(gflops["tf_function"] / gflops["numpy"], 3),
            "xla/np": round(gflops["xla"] / gflops["numpy"], 3),
            "strassen/np": round(gflops["strassen"] / gflops["numpy"], 3),
            "bf16/np": round(gflops["bf16"] / gflops["numpy"], 3),
            "strassen/tf": round(gflops["strassen"] / gflops["tf_function"], 3),
            "strassen_1/tf": round(gflops["strassen_1"] / gflops["tf_function"], 3),
            "levels": matmul.strassen_levels(n, n, n, cutoff),
            "cores": round(cores, 2),
        }
    )
    return row


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
    args = parser.parse_args()

    tfcook.devices.select(args.device)
    device = tfcook.devices.device_name()
    tf.get_logger().setLevel("ERROR")  # one trace per size is intended
    tf.config.experimental.enable_tensor_float_32_execution(False)  # full fp32, as in the recipe
    rng = np.random.default_rng(args.seed)
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        rows.append(measure(n, args.cutoff, args.repeats, args.min_time, device, rng))
        print(f"n={n}: tf_function {rows[-1]['tf_function']} GFLOP/s, numpy {rows[-1]['numpy']} (cores {rows[-1]['cores']})", flush=True)
    big = [r for r in rows if r["n"] >= 1024] or rows
    summary = {
        "device": device,
        "tf_function/numpy at n >= 1024 (min, max)": (min(r["tf_function/np"] for r in big), max(r["tf_function/np"] for r in big)),
        "tf_function/numpy at the largest n": rows[-1]["tf_function/np"],
        "goal": "tf_function/numpy >= 1.0 at n >= 1024",
        "goal met (every n >= 1024)": all(r["tf_function/np"] >= 1.0 for r in big),
        f"Strassen (cutoff {args.cutoff}) vs tf.matmul crossover": crossover(rows, "strassen/tf", lambda r: r["levels"] > 0),
        "Strassen one level vs tf.matmul crossover": crossover(rows, "strassen_1/tf"),
        "least cores this process got at n >= 1024 (< 1.8: other jobs competed)": min(r["cores"] for r in big),
    }
    print()
    _bench.report("matmul", rows, summary)


if __name__ == "__main__":
    main()
