"""Benchmark distributed: step time of the custom loop on 2 logical CPU devices vs 1 device.

Both run in one process (the recipe's `compare`), same seed and data. On a 2-core CPU the
logical devices share the cores, so this measures the strategy's overhead more than a speedup.
"""

from __future__ import annotations

import _bench


def main() -> None:
    m = _bench.run("distributed", "--device=cpu", "--replicas=2")["metrics"]
    rows = [
        {"run": "1 device", "test_accuracy": m["one_device_test_accuracy"], "step_time_ms": round(m["step_time_ms"] / m["step_time_ratio"], 2)},
        {"run": f"{m['replicas']} logical devices", "test_accuracy": m["test_accuracy"], "step_time_ms": m["step_time_ms"]},
    ]
    _bench.report("distributed", rows, {"step time ratio 2 devices / 1 device": m["step_time_ratio"], "accuracy gap (pt)": m["accuracy_gap_pt"]})


if __name__ == "__main__":
    main()
