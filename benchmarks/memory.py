"""Benchmark memory: the pooled training loop against the same loop creating new tf.Variables for its scratch every cycle.

Both loops run in the recipe's process (its `compare`), 1,000 steps each, same seed and batches;
memory is the process RSS on the CPU. The recipe writes both curves to memory.png.
"""

from __future__ import annotations

import _bench


def main() -> None:
    m = _bench.run("memory", "--device=cpu")["metrics"]
    columns = ("loop", "growth_mb", "max_jitter_mb", "memory_after_warmup_mb", "peak_mb", "variables_created", "step_ms", "step_cpu_ms")
    rows = [{c: loop[c] for c in columns} for loop in m["loops"]]
    _bench.report(
        "memory",
        rows,
        {
            "pooled growth after warm-up (MB)": f"{m['growth_mb']} (tolerance {m['tolerance_mb']})",
            "step time ratio unpooled / pooled (wall)": m["step_time_ratio"],
            "step time ratio unpooled / pooled (CPU time)": m["step_cpu_ratio"],
        },
    )


if __name__ == "__main__":
    main()
