"""mnist: the catalog bar on real MNIST, and the pieces the recipe adds to the document."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


@pytest.mark.realdata
def test_default_config_reaches_98_percent_and_reloads_identically(run_recipe):
    result = run_recipe("mnist")
    metrics, config = result["metrics"], result["config"]
    assert config["epochs"] == 5 and metrics["params"] == 784 * 128 + 128 + 128 * 10 + 10  # same 784-128-10 network
    assert metrics["test_accuracy"] >= 0.980, metrics
    assert metrics["reloaded_test_accuracy"] == metrics["test_accuracy"]
    out = Path(result["out"])
    assert (out / "mnist.keras").is_file()
    assert list((out / "tensorboard").rglob("events.out.tfevents.*")), "no TensorBoard logs written"


@pytest.mark.realdata
def test_on_jax_the_default_config_reaches_98_percent_and_two_devices_match_one(run_recipe):
    """The same file on the JAX backend, on one CPU device and under Keras's DataParallel over two faked
    ones (how it would spread over TPU chips): both meet the bar, within 0.5 pt of each other."""
    one = run_recipe("mnist", "--backend=jax")
    two = run_recipe("mnist", "--backend=jax", env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    assert one["backend"]["name"] == two["backend"]["name"] == "jax"
    assert (one["device"]["replicas"], two["device"]["strategy"], two["device"]["replicas"]) == (1, "DataParallel", 2)
    assert one["metrics"]["test_accuracy"] >= 0.980, one["metrics"]
    assert one["metrics"]["reloaded_test_accuracy"] == one["metrics"]["test_accuracy"]
    assert abs(two["metrics"]["test_accuracy"] - one["metrics"]["test_accuracy"]) <= 0.005, (one["metrics"], two["metrics"])


def test_deskew_makes_a_slanted_stroke_upright():
    import tensorflow as tf

    from tfcook.recipes.mnist import deskew

    image = np.zeros((28, 28), np.float32)
    for row in range(6, 22):  # a stroke leaning right: one column per two rows
        col = 10 + (row - 6) // 2
        image[row, col : col + 2] = 1.0
    out = deskew(tf.constant(image[None, ..., None]))[0, ..., 0].numpy()

    def slant(img):
        rows, cols = np.nonzero(img > 0.3)
        return np.polyfit(rows, cols, 1)[0]  # columns moved per row

    assert slant(image) == pytest.approx(0.5, abs=0.05)
    assert abs(slant(out)) < 0.05
    # The stroke's centre of mass lands in the middle of the image.
    rows, cols = np.nonzero(out > 0.3)
    assert abs(rows.mean() - 13.5) < 1.0 and abs(cols.mean() - 13.5) < 1.0
