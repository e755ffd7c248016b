"""Every recipe in recipes/ runs its tiny config in its own process and reports finite metrics.
A new recipe is covered the moment its file exists."""

from __future__ import annotations

import pytest

from conftest import RECIPES
from tfcook.results import finite_numbers


@pytest.mark.parametrize("name", RECIPES)
def test_tiny_run_reports_finite_metrics(name, run_recipe):
    result = run_recipe(name, "--tiny", "--device=cpu")
    assert result["recipe"] == name
    assert result["metrics"], "run() returned no metrics"
    assert finite_numbers(result["metrics"]), result["metrics"]
    assert result["device"]["requested"] == "cpu" and result["device"]["kind"] == "cpu"
    assert {"tensorflow", "keras", "python"} <= set(result["versions"])
    assert result["wall_time_s"] > 0
