"""What every benchmark shares: run a recipe through the CLI in its own process, print a table.

Each contender runs in a fresh process so none inherits another's warm caches or compiled
functions; timings come from the result.json `wall_time_s` (the run itself, not start-up).

A peer that does its work in NumPy/SciPy/scikit-learn's OpenBLAS runs as its users run it
(`peer()`): in its own process without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which this
environment may set and which pin OpenBLAS to older kernels (NumPy's float32 matmul ran at half
speed on an AVX-512 CPU with them: Haswell kernel instead of SkylakeX). The record keeps the BLAS
kernel and thread count threadpoolctl reports in that process, beside the recipe's thread settings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tfcook.devices import cpu, cpu_summary
from tfcook.results import new_run_dir, table, write


def run(name: str, *args: str) -> dict:
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.run([sys.executable, "-m", "tfcook", "run", name, "--out", out, *args], capture_output=True, text=True)
        if proc.returncode:
            sys.exit(f"tfcook run {name} {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
        return json.loads(Path(out, "result.json").read_text())


SLOW_BLAS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")  # unset for a peer's process only, never in tests or CI


def peer(name: str, *args: str) -> dict:
    """Run the peer `name` of _peers.py in a fresh process as its users run it (SLOW_BLAS unset) and return
    the JSON object it prints, with the BLAS libraries it loaded and which variables were unset."""
    env = {k: v for k, v in os.environ.items() if k not in SLOW_BLAS}
    script = Path(__file__).with_name("_peers.py")
    proc = subprocess.run([sys.executable, str(script), name, *args], capture_output=True, text=True, env=env)
    if proc.returncode:
        sys.exit(f"the peer ({name} {' '.join(args)}) failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["unset"] = [k for k in SLOW_BLAS if k in os.environ]
    return result


def blas_summary(libraries: list[dict]) -> str:
    return ", ".join(" ".join(str(lib[k]) for k in ("internal_api", "version", "architecture") if k in lib) + f" x{lib['num_threads']}"
                     for lib in libraries)


def tf_threads() -> dict:
    """TensorFlow's thread pools as this process configured them (0: TensorFlow's default, one per core)."""
    import tensorflow as tf

    return {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads(), "cores": os.cpu_count(),
            "TF_NUM_INTRAOP_THREADS": os.environ.get("TF_NUM_INTRAOP_THREADS")}


def report(name: str, rows: list[dict], summary: dict) -> None:
    """Print the rows and the summary ratios, and keep them in runs/bench/<name>/<time>/."""
    print("\n".join(table(rows)))
    for key, value in summary.items():
        print(f"{key}: {value}")
    print(f"machine: {cpu_summary()}")  # bf16/fp16 figures differ ~4x with and without AMX
    out = new_run_dir(name, "runs/bench")
    out.mkdir(parents=True)
    write(out / "bench.json", {"rows": rows, "summary": summary, "cpu": cpu()})
    print(f"(saved in {out}/bench.json)")
