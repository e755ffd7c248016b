"""Benchmark prune: the pruned model (float and int8) against its dense baseline.

Sizes are gzipped files; the tfmot guide reports 3x (pruned) and 10x (pruned + int8).
"""

from __future__ import annotations

import _bench


def main() -> None:
    m = _bench.run("prune")["metrics"]
    rows = [
        {"model": "dense .h5", "test_accuracy": m["dense_test_accuracy"], "gzip_kb": m["dense_h5_gzip_kb"], "smaller_x": 1.0},
        {"model": "pruned .h5", "test_accuracy": m["pruned_test_accuracy"], "gzip_kb": m["pruned_h5_gzip_kb"], "smaller_x": m["gzip_smaller_x"]},
        {"model": "pruned + int8 .tflite", "test_accuracy": m["pruned_int8_test_accuracy"], "gzip_kb": m["pruned_int8_tflite_gzip_kb"], "smaller_x": m["pruned_int8_smaller_x"]},
    ]
    _bench.report("prune", rows, {"min kernel sparsity": m["min_kernel_sparsity"], "accuracy drop (pt)": m["accuracy_drop_pt"]})


if __name__ == "__main__":
    main()
