"""training_speed: the catalog bar on the default config, and the pieces it rests on (the warmup-cosine
schedule, the linear scaling rule, the same start for every row)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.mark.realdata
def test_early_stopping_restores_the_best_epoch_and_a_faster_row_matches_the_baseline(run_recipe):
    result = run_recipe("training_speed")
    m, config = result["metrics"], result["config"]
    rows = {row["variant"]: row for row in m["variants"]}
    assert list(rows) == ["baseline", "early_stopping", "reduce_on_plateau", "cosine", "batch_32", "batch_1024"]
    assert rows["baseline"]["epochs_run"] == config["max_epochs"]
    for name in ("early_stopping", "reduce_on_plateau"):
        row = rows[name]
        # Stopped before the limit, `patience` epochs after the best one, with the best epoch's weights back.
        assert row["epochs_run"] < config["max_epochs"], row
        assert row["epochs_run"] == row["kept_epoch"] + config["patience"], row
        assert row["val_loss_kept"] == pytest.approx(row["val_loss_min"], rel=1e-4, abs=1e-5), row
        assert row["val_loss_min"] == min(row["val_loss"])
    # The baseline kept its last weights, which are not its best: it trained past the optimum.
    assert rows["baseline"]["val_loss_kept"] > rows["baseline"]["val_loss_min"]
    # The bar: the fastest row within 0.2 pt of the baseline's test accuracy took less wall time.
    fastest = rows[m["fastest_at_baseline_accuracy"]]
    assert fastest["test_accuracy"] >= m["baseline_test_accuracy"] - 0.002 and fastest["train_time_s"] < m["baseline_time_s"]
    assert fastest["train_time_s"] == min(r["train_time_s"] for r in rows.values() if r["reaches_baseline"] and r is not rows["baseline"])
    assert rows["batch_1024"]["epochs_run"] == rows["cosine"]["epochs_run"] == config["short_epochs"]
    assert Path(m["val_loss_png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {p.name for p in (Path(result["out"]) / "tensorboard").iterdir()} == set(rows)


def test_the_large_batch_schedule_warms_up_linearly_then_decays_to_zero():
    from tfcook.recipes.training_speed import Config, plan

    steps_per_epoch = 50_000 // 1024
    _, _, schedule, _ = plan("batch_1024", Config(), 50_000)
    total, peak = Config().short_epochs * steps_per_epoch, 1e-3 * 1024 / 128
    rates = np.array([float(schedule(step)) for step in range(total + 1)])
    np.testing.assert_allclose(rates[:steps_per_epoch + 1], peak * np.arange(steps_per_epoch + 1) / steps_per_epoch, rtol=1e-5)
    assert rates[(total + steps_per_epoch) // 2] == pytest.approx(peak / 2, rel=0.02) and rates[total] == pytest.approx(0.0, abs=1e-7)
    assert np.all(np.diff(rates[steps_per_epoch:]) <= 1e-7)


def test_the_batch_rows_scale_the_rate_linearly_and_only_large_batches_warm_up():
    from tfcook.recipes.training_speed import Config, plan

    config = Config()
    for name, batch, warmup in (("cosine", 128, 0), ("batch_32", 32, 0), ("batch_1024", 1024, 50_000 // 1024)):
        size, epochs, schedule, callbacks = plan(name, config, 50_000)
        assert size == batch and epochs == config.short_epochs and not callbacks
        peak = 1e-3 * batch / 128
        assert (schedule.warmup_target or schedule.initial_learning_rate) == pytest.approx(peak) and schedule.warmup_steps == warmup
        assert schedule.decay_steps + warmup == config.short_epochs * (50_000 // batch)
    assert plan("baseline", config, 50_000)[1:] == (20, 1e-3, [])


@pytest.mark.parametrize("bad", [{"variants": ("cosine",)}, {"variants": ("baseline", "sgdr")}, {"short_epochs": 20},
                                 {"plateau_factor": 1.0}, {"train_examples": 512}])
def test_impossible_settings_are_refused(bad):
    from tfcook.recipes.training_speed import Config

    with pytest.raises(ValueError):
        Config(**bad)
