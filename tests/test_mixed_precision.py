"""mixed_precision: bf16 matches float32 on real MNIST; fp16's loss scaling lets the loop learn."""

from __future__ import annotations

import pytest


@pytest.mark.realdata
def test_mixed_bfloat16_matches_float32(run_recipe):
    """An eighth of the default run (one epoch on a quarter of the images: 95.6 % here, 98.6 % by
    default): the default trains two models for two epochs, ~700 CPU-s on a CPU without AMX."""
    metrics = run_recipe("mixed_precision", "--device=cpu", "--epochs=1", "--train_examples=15360")["metrics"]
    assert metrics["policy"] == "mixed_bfloat16"  # what `auto` picks on a CPU
    runs = {run["policy"]: run for run in metrics["runs"]}
    mixed, full = runs["mixed_bfloat16"], runs["float32"]
    assert (mixed["compute_dtype"], mixed["weights_dtype"], mixed["output_dtype"]) == ("bfloat16", "float32", "float32")
    assert full["compute_dtype"] == "float32"
    assert metrics["accuracy_gap_pt"] <= 0.5, metrics
    assert metrics["test_accuracy"] >= 0.95  # both models learned: the gap is between trained models
    assert mixed["activation_kb_per_example"] == pytest.approx(full["activation_kb_per_example"] / 2, rel=0.01)


@pytest.mark.realdata
def test_float16_with_loss_scaling_learns(run_recipe):
    """Without `optimizer.scale_loss`, LossScaleOptimizer would divide unscaled gradients by 32768
    and eight steps would leave the model at chance (10 %)."""
    metrics = run_recipe("mixed_precision", "--tiny", "--precision=mixed_float16", "--compare=false")["metrics"]
    (run,) = metrics["runs"]
    assert run["compute_dtype"] == "float16" and run["output_dtype"] == "float32"
    assert run["loss_scale"] > 1
    assert run["test_accuracy"] >= 0.5
