"""Benchmark scheduler: makespan of the 9 jobs on 2 logical CPU devices vs the same jobs one after another on one.

Both run in the recipe's process (its `compare`), same jobs and data, after one warm-up job.
On a CPU the logical devices share the cores: the gain is the overlap of one job's Python and
dispatch time with the other's kernels, not a second processor.
"""

from __future__ import annotations

import _bench


def main() -> None:
    m = _bench.run("scheduler", "--device=cpu")["metrics"]
    rows = [
        {"run": "one after another, 1 device", "makespan_s": m["serial_makespan_s"]},
        {"run": f"scheduled, {len(m['devices'])} devices", "makespan_s": m["makespan_s"]},
    ]
    done = [r["test_accuracy"] for r in m["records"] if r["status"] == "done"]
    _bench.report(
        "scheduler",
        rows,
        {
            "makespan ratio scheduled / serial": m["makespan_ratio"],
            "jobs done / failed": f"{len(done)} / {len(m['failed'])}",
            "test accuracy of the done jobs": f"{min(done):.4f}-{max(done):.4f}",
        },
    )


if __name__ == "__main__":
    main()
