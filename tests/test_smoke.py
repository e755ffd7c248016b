"""Every recipe in recipes/ runs its tiny config in its own process and reports finite metrics.
A new recipe is covered the moment its file exists.

A recipe that runs on both Keras backends runs its tiny config on JAX here: its TensorFlow path is
already run by its real-data test, at full or at a documented shorter size, so a TensorFlow tiny run
would repeat it (CI time is made here for the JAX runs). TensorFlow-only recipes run it on TensorFlow.
"""

from __future__ import annotations

import re

import pytest

from conftest import PORTABLE, RECIPES
from tfcook.results import finite_numbers


@pytest.mark.parametrize("name", RECIPES)
def test_tiny_run_reports_finite_metrics(name, run_recipe):
    backend = "jax" if name in PORTABLE else "tensorflow"
    result = run_recipe(name, "--tiny", "--device=cpu", f"--backend={backend}")
    assert result["recipe"] == name
    assert result["metrics"], "run() returned no metrics"
    assert finite_numbers(result["metrics"]), result["metrics"]
    assert result["device"]["requested"] == "cpu" and result["device"]["kind"] == "cpu"
    assert result["backend"]["name"] == backend and result["backend"]["version"] != "unknown"
    assert {"tensorflow", "keras", "python"} <= set(result["versions"])
    assert result["wall_time_s"] > 0
    # TensorFlow's start-up notes (absl writes them before its log is set up, whatever the level) are held back.
    startup_noise = [line for line in result["stderr"].splitlines() if "absl::InitializeLog" in line or "cuInit" in line
                     or re.match(r"I\d{4} [\d:.]+ +\d+ (port|cudart_stub|cpu_feature_guard)\.cc", line)]
    assert not startup_noise, startup_noise
