"""Benchmark quantize: batch-1 LiteRT latency of every variant against the float32 .tflite.

Goal: int8 >= 2x faster than float32 at batch 1, one interpreter thread, on this CPU.
"""

from __future__ import annotations

import _bench


def main() -> None:
    m = _bench.run("quantize", "--latency_runs=3000")["metrics"]
    rows = [{k: row[k] for k in ("variant", "size_kb", "test_accuracy", "latency_us", "faster_x", "smaller_x")} for row in m["variants"]]
    _bench.report("quantize", rows, {"int8 speedup vs float32 (goal >= 2x)": m["int8_faster_x"]})


if __name__ == "__main__":
    main()
