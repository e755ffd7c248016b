"""Benchmark data_privacy: tf.data read throughput of the AES-GCM-encrypted shards vs the same records as plain TFRecord shards.

Both pipelines run in the recipe's process over the same 60,000 records in 8 shards, parsed the
same way; each number is the best of `--repeats` full passes. The wall-time rate is what a
training job sees; the CPU-time rate is the fairer one on a shared machine.
"""

from __future__ import annotations

import argparse

import _bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    m = _bench.run("data_privacy", "--device=cpu", f"--read_repeats={args.repeats}")["metrics"]
    rows = [
        {"shards": f"plain x{m['shards']}", "examples_per_s": m["plain_examples_per_s"], "examples_per_cpu_s": m["plain_examples_per_cpu_s"]},
        {"shards": f"encrypted x{m['shards']}", "examples_per_s": m["encrypted_examples_per_s"], "examples_per_cpu_s": m["encrypted_examples_per_cpu_s"]},
    ]
    _bench.report(
        "data_privacy",
        rows,
        {
            "throughput ratio encrypted / plain (wall)": m["throughput_ratio"],
            "throughput ratio encrypted / plain (CPU time)": m["cpu_throughput_ratio"],
            "round trip identical": m["round_trip_identical"],
        },
    )


if __name__ == "__main__":
    main()
