"""Benchmark gnn: the GCN on Cora against a graph-free MLP (the peer) and APPNP, each in its own process.

Goal: GCN test accuracy >= 81.5 % mean over 5 seeds (Kipf & Welling's 81.5 %), with APPNP reported
beside it. The gaps in points are what the graph (GCN - MLP) and longer propagation (APPNP - GCN)
add; the ratios compare the CPU time per training epoch (process time, so other load on the
machine inflates them less than wall time).
"""

from __future__ import annotations

import _bench

MODELS = ("gcn", "appnp", "mlp")


def main() -> None:
    rows = {}
    for model in MODELS:
        result = _bench.run("gnn", f"--models={model}", "--karate=false")
        (row,) = result["metrics"]["cora_models"]
        rows[model] = {**row, "wall_time_s": result["wall_time_s"]}
    acc = {m: rows[m]["test_accuracy_mean"] for m in MODELS}
    ms = {m: rows[m]["cpu_ms_per_epoch"] for m in MODELS}
    _bench.report(
        "gnn",
        list(rows.values()),
        {
            "GCN test accuracy, mean of 5 seeds": acc["gcn"],
            "goal": ">= 0.815 (Kipf & Welling 2017: 81.5 %)",
            "GCN - MLP (pt): what the graph adds": round(100 * (acc["gcn"] - acc["mlp"]), 2),
            "APPNP - GCN (pt)": round(100 * (acc["appnp"] - acc["gcn"]), 2),
            "CPU time per epoch GCN/MLP": round(ms["gcn"] / ms["mlp"], 2),
            "CPU time per epoch APPNP/GCN": round(ms["appnp"] / ms["gcn"], 2),
        },
    )


if __name__ == "__main__":
    main()
