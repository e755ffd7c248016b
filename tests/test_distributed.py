"""distributed: mirrored loop vs one device, model.fit, and multi-worker with a killed worker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import tfcook

SMALL = ["--train_examples=8192", "--test_examples=1000"]


@pytest.mark.realdata
def test_loop_on_two_logical_devices_matches_one_device(run_recipe):
    result = run_recipe("distributed", "--device=cpu")
    metrics = result["metrics"]
    assert metrics["strategy"] == "MirroredStrategy" and metrics["replicas"] == 2
    assert result["device"]["replicas"] == 2
    assert metrics["accuracy_gap_pt"] <= 0.5, metrics
    assert metrics["test_accuracy"] >= 0.96, "both runs must actually learn"


@pytest.mark.realdata
def test_fit_under_the_mirrored_strategy_learns(run_recipe):
    metrics = run_recipe("distributed", "--mode=fit", "--epochs=2", "--device=cpu")["metrics"]
    assert metrics["replicas"] == 2
    assert metrics["test_accuracy"] >= 0.95


@pytest.mark.realdata
def test_two_workers_one_killed_resume_from_the_backup_with_identical_weights(run_recipe):
    """Two workers on localhost, one killed after epoch 1 (a run without the kill repeated all of
    this but the restart, 42 s of the suite)."""
    result = run_recipe("distributed", "--mode=multiworker", "--workers=2", "--epochs=3", "--fail_after_epoch=1", *SMALL)
    metrics, out = result["metrics"], Path(result["out"])
    assert "exiting hard after epoch 1" in (out / "worker-1.attempt-0.log").read_text()
    assert metrics["attempts"] == 2
    # The restart trained epochs 2 and 3 only: epoch 1 came from the backup, not from scratch.
    assert metrics["resumed_at_epoch"] == 2
    assert [w["epochs_run"] for w in metrics["per_worker"]] == [[1, 2], [1, 2]]
    assert metrics["weights_identical"] and metrics["max_weight_diff"] == 0.0
    assert metrics["test_accuracy"] >= 0.85


def test_worker_mode_without_tf_config_is_a_user_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    proc = tfcook("run", "distributed", "--mode=worker", "--tiny", "--out", str(tmp_path), env=env)
    assert proc.returncode == 2 and "needs the TF_CONFIG variable" in proc.stderr


def test_batch_must_split_evenly_across_replicas(tmp_path):
    proc = tfcook("run", "distributed", "--replicas=3", "--batch_size=256", "--out", str(tmp_path))
    assert proc.returncode == 2 and "must divide evenly among 3 replicas" in proc.stderr
