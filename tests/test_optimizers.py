"""optimizers: the catalog bar on the default config, and the fairness the comparison rests on
(same initial weights and batches for every run, the learning-rate grids, the choice on validation)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.mark.realdata
def test_every_optimizer_converges_at_its_best_rate_and_the_table_has_each_sweep(run_recipe):
    result = run_recipe("optimizers")
    m = result["metrics"]
    rows = {row["optimizer"]: row for row in m["optimizers"]}
    assert list(rows) == ["sgd", "sgd_nesterov", "rmsprop", "adam", "adamw", "lion"]
    for name, row in rows.items():
        assert row["test_accuracy"] >= 0.96, (name, row)  # the catalog bar: every one converges
        assert not row["best_at_grid_edge"], row  # the sweep brackets the best rate
        sweep = row["sweep"]
        assert len(sweep) == 5, sweep
        # The chosen rate is the sweep's best on validation, never on test.
        scores = {lr: acc for lr, acc in sweep.items() if acc is not None}
        assert row["val_accuracy"] == max(scores.values()) and sweep[f"{row['best_lr']:g}"] == row["val_accuracy"]
        rates = [float(lr) for lr in sweep]
        assert np.allclose(np.diff(np.log10(rates)), 0.5, atol=0.01)
    # A sweep is worth running: every optimizer's worst rate is well below its best.
    assert all(min(v for v in r["sweep"].values() if v is not None) < r["val_accuracy"] - 0.005 for r in rows.values())
    # The best rates differ by orders of magnitude: no single shared rate is fair to all.
    assert rows["sgd"]["best_lr"] / rows["lion"]["best_lr"] >= 100
    assert m["lowest_test_accuracy"] == min(r["test_accuracy"] for r in rows.values())
    assert Path(m["loss_curves_png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(list((Path(result["out"]) / "tensorboard").iterdir())) == m["runs"] == 30


def test_learning_rate_grids_are_centred_and_sqrt10_apart():
    from tfcook.recipes.optimizers import CENTERS, learning_rates

    assert learning_rates("adam", 5) == [1e-4, 3.16e-4, 1e-3, 3.16e-3, 1e-2]
    assert learning_rates("lion", 1) == [CENTERS["lion"]]
    assert learning_rates("sgd", 2) == [0.0562, 0.178]


def test_every_run_starts_from_the_same_weights_and_sees_the_same_batches():
    """Two runs of one optimizer and rate give identical losses; another rate changes them."""
    import keras

    from tfcook.recipes.optimizers import Config, build_model, compiled_model, train_one

    config = Config.tiny()
    rng = np.random.default_rng(0)
    x = rng.random((config.train_examples, 28, 28, 1), np.float32)
    y = rng.integers(0, 10, config.train_examples)
    data = {"train": (x, y), "validation": (x[:500], y[:500])}
    keras.utils.set_random_seed(0)
    initial = build_model(config).get_weights()
    model = compiled_model("adam", config)
    first = train_one(model, 1e-3, config, data, initial)
    other = train_one(model, 1e-2, config, data, initial)
    # A fresh model gives the same losses as the reused one: the reset leaves nothing of the earlier runs.
    again = train_one(compiled_model("adam", config), 1e-3, config, data, initial)
    assert first["losses"] == again["losses"] and first["losses"] != other["losses"]
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-2) and int(model.optimizer.iterations) == config.steps()
    assert len(first["losses"]) == config.steps() // config.log_every


def test_the_best_rate_never_has_a_non_finite_loss():
    from tfcook.recipes import optimizers

    runs = [{"diverged": True, "val_accuracy": 0.99, "val_loss": 0.0, "learning_rate": 1.0},
            {"diverged": False, "val_accuracy": 0.9, "val_loss": 0.3, "learning_rate": 0.1}]
    assert max(runs, key=optimizers.best_key)["learning_rate"] == 0.1


@pytest.mark.parametrize("bad", [{"optimizers": ()}, {"optimizers": ("adam", "adagrad")}, {"grid_points": 0},
                                 {"train_examples": 55_000}])
def test_impossible_settings_are_refused(bad):
    from tfcook.recipes.optimizers import Config

    with pytest.raises(ValueError):
        Config(**bad)
