"""cnn: the 99.4 % bar on real MNIST, a clean reloadable model, the artifacts, and the pieces that make it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.mark.realdata
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_default_config_reaches_99_4_percent_with_a_clean_reloadable_model(backend, run_recipe):
    import keras

    result = run_recipe("cnn", f"--backend={backend}")
    assert result["backend"]["name"] == backend
    metrics, config, out = result["metrics"], result["config"], Path(result["out"])
    assert config["epochs"] == 3 and config["augment_in"] == "data"
    assert metrics["test_accuracy"] >= 0.994, metrics
    assert metrics["reloaded_test_accuracy"] == metrics["test_accuracy"]
    assert metrics["test_errors"] == round((1 - metrics["test_accuracy"]) * 10_000)

    # The saved model is the inference net alone: no augmentation layers, probabilities out.
    model = keras.models.load_model(out / "cnn.keras")
    kinds = {type(layer).__name__ for layer in model._flatten_layers()}
    assert not {k for k in kinds if k.startswith("Random")}, kinds
    probs = model.predict(np.zeros((2, 28, 28, 1), np.float32), verbose=0)
    assert probs.shape == (2, 10) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)

    for key in ("confusion_png", "misclassified_png"):
        assert Path(metrics[key]).is_file() and Path(metrics[key]).parent == out
    confused = metrics["most_confused"]
    assert confused and all(row["true"] != row["predicted"] for row in confused)
    assert sum(row["count"] for row in confused) <= metrics["test_errors"]
    assert list((out / "tensorboard").rglob("events.out.tfevents.*")), "no TensorBoard logs written"


def test_augmentation_is_random_in_training_and_the_identity_at_inference():
    import keras

    from tfcook.recipes.cnn import Config, build_augmenter

    keras.utils.set_random_seed(0)
    images = np.zeros((8, 28, 28, 1), np.float32)
    images[:, 8:20, 12:16] = 1.0  # a vertical bar
    augmenter = build_augmenter(Config(rotation_degrees=15, shift=0.1, zoom=0.1))
    assert np.array_equal(np.asarray(augmenter(images, training=False)), images)
    moved = np.asarray(augmenter(images, training=True))
    assert moved.shape == images.shape
    assert not np.allclose(moved, images)
    # Different images get different transforms, and the zero fill adds no ink at the borders.
    assert not np.allclose(moved[0], moved[1])
    assert np.all(moved[:, 0, :] < 1e-3) and np.all(moved[:, :, 0] < 1e-3)
    assert build_augmenter(Config(rotation_degrees=0, shift=0, zoom=0)) is None


def test_model_is_the_documented_net():
    from tfcook.recipes.cnn import build_model

    model = build_model((32, 48, 96), hidden=128)
    assert model.output_shape == (None, 10)
    shapes = [tuple(layer.output.shape[1:]) for layer in model.layers if type(layer).__name__ in ("ReLU", "MaxPooling2D")]
    assert shapes == [(14, 14, 32), (12, 12, 48), (6, 6, 48), (4, 4, 96), (128,)]
    convs = 5 * 5 * 32 + 3 * 3 * 32 * 48 + 3 * 3 * 48 * 96  # no conv bias: BatchNorm's beta takes its place
    batchnorm = 4 * (32 + 48 + 96)
    head = 4 * 4 * 96 * 128 + 4 * 128 + 128 * 10 + 10  # Dense without bias, its BatchNorm, the softmax layer
    assert model.count_params() == convs + batchnorm + head
    assert build_model((32, 48, 96), hidden=0).count_params() == convs + batchnorm + 4 * 4 * 96 * 10 + 10


def test_one_cycle_warms_up_to_the_peak_then_decays_to_zero():
    from tfcook.recipes.cnn import Config, one_cycle

    schedule = one_cycle(Config(learning_rate=1e-2, warmup_fraction=0.2), total_steps=1000)
    assert float(schedule(0)) == pytest.approx(5e-4)
    assert float(schedule(100)) == pytest.approx((5e-4 + 1e-2) / 2, rel=1e-3)
    assert float(schedule(200)) == pytest.approx(1e-2)
    assert float(schedule(600)) == pytest.approx(5e-3, rel=1e-3)  # half-way down the cosine
    assert float(schedule(1000)) == pytest.approx(0, abs=1e-9)


def test_confusion_pairs_and_titles_match_a_numpy_count():
    from tfcook.recipes.cnn import confusion_matrix, misclassified_titles, most_confused

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 500)
    predicted = np.where(rng.random(500) < 0.2, rng.integers(0, 10, 500), labels)
    confusion = confusion_matrix(labels, predicted)
    expected = np.zeros((10, 10), int)
    np.add.at(expected, (labels, predicted), 1)
    assert np.array_equal(confusion, expected)

    top = most_confused(confusion, 3)
    off = expected - np.diag(np.diag(expected))
    assert [row["count"] for row in top] == sorted(off.ravel(), reverse=True)[:3]
    assert all(off[row["true"], row["predicted"]] == row["count"] for row in top)
    assert most_confused(np.eye(10, dtype=int) * 7) == []  # nothing confused, nothing listed

    wrong, titles = misclassified_titles(labels, predicted)
    assert np.array_equal(wrong, np.flatnonzero(labels != predicted))
    assert titles[0] == f"{labels[wrong[0]]}->{predicted[wrong[0]]}"


@pytest.mark.parametrize(
    "bad",
    [dict(epochs=0), dict(filters=(32, 48)), dict(filters=(32, 0, 96)), dict(learning_rate=0.0), dict(label_smoothing=1.0),
     dict(shift=1.0), dict(rotation_degrees=-5.0), dict(train_examples=64, batch_size=128), dict(warmup_fraction=1.0), dict(hidden=-1)],
)
def test_config_rejects_impossible_values(bad):
    from tfcook.recipes.cnn import Config

    with pytest.raises(ValueError):
        Config(**bad)
