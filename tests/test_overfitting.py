"""overfitting: the catalog bar on the default config, and the pieces it rests on (folds as tf.data views,
resetting a compiled model to a fresh run, shared initial weights)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


@pytest.mark.realdata
def test_combined_regularization_narrows_the_gap_and_raises_test_accuracy(run_recipe):
    result = run_recipe("overfitting")
    metrics, config = result["metrics"], result["config"]
    assert metrics["train_examples"] == 1000 and metrics["test_examples"] == 10_000
    rows = {row["variant"]: row for row in metrics["variants"]}
    assert list(rows) == ["plain", "L2", "dropout", "augmentation", "early stopping", "all"]
    plain, combined = rows["plain"], rows["all"]
    # The bar: smaller train-validation gap and higher test accuracy than the plain model.
    assert combined["gap"] < plain["gap"], (plain, combined)
    assert combined["test_accuracy"] > plain["test_accuracy"], (plain, combined)
    # The plain model memorizes its 1,000 images: that is what the recipe is about.
    assert plain["train_accuracy"] >= 0.99 and plain["gap"] >= 0.05, plain
    assert metrics["gap_plain"] == plain["gap"] and metrics["test_accuracy_all"] == combined["test_accuracy"]
    for row in rows.values():
        assert row["gap"] == pytest.approx(row["train_accuracy"] - row["val_accuracy"], abs=2e-4)

    # Early stopping stopped and kept the best epoch; the others ran every epoch.
    assert rows["early stopping"]["epochs"] < config["epochs"]
    assert rows["early stopping"]["best_epoch"] == rows["early stopping"]["epochs"] - config["patience"]
    assert rows["plain"]["epochs"] == rows["L2"]["epochs"] == config["epochs"]

    # Cross-validation: every strength with every fold's score, and the chosen one is the best mean.
    cv = metrics["cross_validation"]
    assert [row["l2"] for row in cv] == config["l2_grid"]
    for row in cv:
        assert len(row["fold_accuracy"]) == config["folds"]
        assert row["mean_accuracy"] == pytest.approx(np.mean(row["fold_accuracy"]))
        assert 0.7 < row["mean_accuracy"] < 1
    assert metrics["chosen_l2"] == max(cv, key=lambda row: row["mean_accuracy"])["l2"]

    histories = json.loads(Path(metrics["histories_json"]).read_text())
    assert len(histories["plain"]["val_ce"]) == config["epochs"]
    assert len(histories["early stopping"]["val_ce"]) == rows["early stopping"]["epochs"]
    for key in ("learning_curves_png", "cross_validation_png"):
        assert Path(metrics[key]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(list((Path(result["out"]) / "tensorboard").rglob("events.out.tfevents.*"))) >= 6


@pytest.mark.parametrize("size,folds", [(1000, 5), (1003, 4), (7, 3)])
def test_folds_hold_out_every_example_exactly_once(size, folds):
    import tensorflow as tf

    from tfcook.recipes.overfitting import fold

    pool = tf.data.Dataset.range(size)
    held = []
    for i in range(folds):
        training, held_out = fold(pool, size, folds, i)
        train_ids, held_ids = list(training.as_numpy_iterator()), list(held_out.as_numpy_iterator())
        assert not set(train_ids) & set(held_ids)
        assert sorted(train_ids + held_ids) == list(range(size))
        assert held_ids == list(range(held_ids[0], held_ids[0] + len(held_ids)))  # a contiguous block
        held += held_ids
    assert sorted(held) == list(range(size))


def test_reset_repeats_the_same_training_run():
    import keras
    import tensorflow as tf

    from tfcook.recipes.overfitting import Config, build_model, compile_model, dense_weights, optimizer_state, reset

    keras.utils.set_random_seed(0)
    config = Config(hidden=(16,), batch_size=10)
    x = np.random.default_rng(0).random((40, 28, 28, 1), dtype=np.float32)
    y = np.arange(40) % 10
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(10)
    model = build_model(config, l2=1e-3)
    compile_model(model, config, steps_per_epoch=4, augment=False)
    initial, state = dense_weights(model), optimizer_state(model)
    losses = []
    for _ in range(2):
        reset(model, initial, state)
        losses.append(model.fit(data, epochs=3, shuffle=False, verbose=0).history["loss"])
        after = dense_weights(model)
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    assert not np.allclose(after[0], initial[0])
    reset(model, initial, state)
    assert all(np.array_equal(a, b) for a, b in zip(dense_weights(model), initial))
    assert int(model.optimizer.iterations.numpy()) == 0


def test_every_variant_accepts_the_same_initial_weights():
    from tfcook.recipes.overfitting import Config, build_model, dense_weights, set_dense_weights

    config = Config(hidden=(8, 8))
    initial = dense_weights(build_model(config))
    model = build_model(config, l2=1e-4, dropout=0.5, augment=True)
    set_dense_weights(model, initial)
    assert all(np.array_equal(a, b) for a, b in zip(dense_weights(model), initial))


@pytest.mark.parametrize("bad", [{"folds": 1}, {"variants": ("plain", "mixup")}, {"l2_grid": ()}, {"l2_grid": (0.0,)},
                                 {"dropout": 1.0}, {"test_examples": 1500}, {"train_examples": 40}, {"hidden": ()}])
def test_impossible_settings_are_refused(bad):
    from tfcook.recipes.overfitting import Config

    with pytest.raises(ValueError):
        Config(**bad)
