"""Reference records: `make reference NAME=...` runs a recipe's default config and keeps the proof.

    python -m tfcook.reference NAME... | all [--bench | --bench-only]

Each run goes to a scratch folder (a run also writes checkpoints, TensorBoard logs and saved
models, which don't belong in the repository); docs/results/NAME/ then gets its result.json,
stamped with the commit, date and machine, and the PNGs it drew. `--bench` also runs
`benchmarks/NAME.py` and keeps its bench.json there (`--bench-only`: just that, beside the kept run). The headers' headline numbers are checked
against these records (tests/test_records.py), and the site shows them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tfcook import devices, results

ROOT = Path(__file__).resolve().parents[2]
RECORDS = ROOT / "docs" / "results"
KEPT = ("*.png",)  # besides result.json: what a reader looks at; the rest of a run folder stays out


def record_dir(name: str) -> Path:
    return RECORDS / name


def load(name: str) -> dict[str, Any]:
    """The committed record of `name` (result.json, with bench.json's content under "bench" if present)."""
    folder = record_dir(name)
    record = json.loads((folder / "result.json").read_text())
    bench = folder / "bench.json"
    if bench.exists():
        record["bench"] = json.loads(bench.read_text())
    return record


def figures(name: str) -> list[Path]:
    return sorted(record_dir(name).glob("*.png"))


def commit() -> str:
    """HEAD's hash, with "+changes" when the recipe tree differs from it (the record then isn't exact)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()

    head = git("rev-parse", "HEAD")
    dirty = git("status", "--porcelain", "--", "recipes", "src", "benchmarks")
    return head + ("+changes" if dirty else "")


def make(name: str, bench: bool = False, at: str | None = None) -> Path:
    """Run `name` as shipped and (re)write docs/results/NAME/; `at` is the commit (read once per batch)."""
    at = at or commit()
    folder = record_dir(name)
    with tempfile.TemporaryDirectory(prefix=f"tfcook-reference-{name}-") as scratch:
        started = time.time()
        # The child inherits stdout: a long run shows its progress as `make recipe` does.
        subprocess.run([sys.executable, "-m", "tfcook", "run", name, "--out", scratch], check=True)
        # Paths into the scratch folder (saved models, say) are kept as bare file names.
        result = json.loads(Path(scratch, "result.json").read_text().replace(scratch + "/", ""))
        result["reference"] = {
            "commit": at,
            "date": time.strftime("%Y-%m-%d", time.localtime(started)),
            "machine": devices.cpu_summary(),
            "command": f"make reference NAME={name}",
            "threads": os.environ.get("TF_NUM_INTRAOP_THREADS", "default (one per core)"),
        }
        # The benchmark's record stays unless this run replaces it: it carries its own commit and date.
        kept_bench = (folder / "bench.json").read_text() if (folder / "bench.json").exists() and not bench else None
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        if kept_bench:
            (folder / "bench.json").write_text(kept_bench)
        results.write(folder / "result.json", result)
        for pattern in KEPT:
            for png in sorted(Path(scratch).rglob(pattern)):
                shutil.copy2(png, folder / png.name)
    if bench and (ROOT / "benchmarks" / f"{name}.py").exists():
        record_bench(name, at)
    return folder


def record_bench(name: str, at: str) -> Path:
    """Run benchmarks/NAME.py and write its record, stamped like result.json, as docs/results/NAME/bench.json."""
    script = ROOT / "benchmarks" / f"{name}.py"
    if not script.exists() or not record_dir(name).exists():
        raise FileNotFoundError(2, "no benchmark or no record to add it to", str(script))
    with tempfile.TemporaryDirectory() as cwd:  # the bench saves into ./runs/bench/NAME/<time>/
        subprocess.run([sys.executable, str(script)], cwd=cwd, check=True)
        (saved,) = Path(cwd, "runs", "bench", name).glob("*/bench.json")
        bench = json.loads(saved.read_text())
    bench["reference"] = {"commit": at, "date": time.strftime("%Y-%m-%d"), "machine": devices.cpu_summary(),
                          "command": f"make reference NAME={name} BENCH=1"}
    path = record_dir(name) / "bench.json"
    results.write(path, bench)
    return path


def main(argv: list[str]) -> int:
    from tfcook.cli import recipe_files

    bench, only = "--bench" in argv, "--bench-only" in argv
    names = [a for a in argv if a not in ("--bench", "--bench-only")]
    if names == ["all"]:
        names = list(recipe_files())
    unknown = [n for n in names if n not in recipe_files()]
    if not names or unknown:
        print(f"tfcook.reference: name the recipes to record, or all (unknown: {', '.join(unknown) or 'none given'})", file=sys.stderr)
        return 2
    at, failed = commit(), []
    for name in names:
        try:
            if only:
                print(f"tfcook.reference: wrote {record_bench(name, at).relative_to(ROOT)}", flush=True)
            else:
                print(f"tfcook.reference: wrote {make(name, bench=bench, at=at).relative_to(ROOT)}", flush=True)
        except subprocess.CalledProcessError as err:  # the others still get their records
            print(f"tfcook.reference: {name} failed (exit {err.returncode}); its old record is kept", file=sys.stderr)
            failed.append(name)
        except FileNotFoundError as err:  # --bench-only without a benchmark or a kept run
            print(f"tfcook.reference: {name}: {err.strerror}: {err.filename}", file=sys.stderr)
            failed.append(name)
    if failed:
        print(f"tfcook.reference: no new record for {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
