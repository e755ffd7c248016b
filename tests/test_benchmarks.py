"""The benchmarks' fairness to their peers: a NumPy/scikit-learn peer runs with OpenBLAS as its users get it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import _bench  # noqa: E402

KERNEL = "import json, numpy, threadpoolctl; print(json.dumps([i.get('architecture') for i in threadpoolctl.threadpool_info()]))"


def kernels(env: dict) -> list:
    proc = subprocess.run([sys.executable, "-c", KERNEL], capture_output=True, text=True, env=env, check=True)
    return json.loads(proc.stdout)


def test_the_peer_runs_on_openblas_own_kernel_choice_even_when_this_environment_pins_an_older_one(monkeypatch):
    """OPENBLAS_CORETYPE=Prescott (SSE3, slower than any kernel OpenBLAS picks on an x86-64 CPU of this decade)
    is set for the benchmark; the peer's process drops it and reports the kernel a clean process gets."""
    clean = {k: v for k, v in os.environ.items() if k not in _bench.SLOW_BLAS}
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Prescott")
    pinned = kernels(dict(os.environ))
    assert pinned != kernels(clean)  # the variable does pin another kernel (OpenBLAS calls Prescott's "Katmai")
    result = _bench.peer("matmul", "--sizes=64", "--repeats=1", "--min-time=0")
    assert [lib.get("architecture") for lib in result["blas"]] == kernels(clean)
    # OPENBLAS_L2_SIZE too, where this environment sets it (some CI machines do)
    assert result["unset"] == [k for k in _bench.SLOW_BLAS if k in os.environ]
    assert "OPENBLAS_CORETYPE" in result["unset"] and os.environ["OPENBLAS_CORETYPE"] == "Prescott"
    assert result["sizes"]["64"]["numpy"] > 0
