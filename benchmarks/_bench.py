"""What every benchmark shares: run a recipe through the CLI in its own process, print a table.

Each contender runs in a fresh process so none inherits another's warm caches or compiled
functions; timings come from the result.json `wall_time_s` (the run itself, not start-up).
"""

from __future__ import annotations

import json
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
