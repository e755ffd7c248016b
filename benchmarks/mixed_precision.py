"""Benchmark mixed_precision: training step time under the mixed policy vs float32.

Reported, not a goal: bf16 only pays off on CPUs with AMX (this one has it) and on TPUs.
"""

from __future__ import annotations

import _bench


def main() -> None:
    m = _bench.run("mixed_precision")["metrics"]
    rows = [{k: run[k] for k in ("policy", "test_accuracy", "step_time_ms", "activation_kb_per_example")} for run in m["runs"]]
    _bench.report("mixed_precision", rows, {"step time ratio mixed / float32": m["step_time_ratio"], "accuracy gap (pt)": m["accuracy_gap_pt"]})


if __name__ == "__main__":
    main()
