"""distribution_shift: the bar on real MNIST, the shifts against references, the MMD test's calibration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

GEOMETRIC = ("rotate", "translate", "scale")
SHIFTS = ("rotate", "translate", "scale", "noise", "blur", "invert")


@pytest.mark.realdata
def test_augmentation_fine_tuning_and_detector_meet_the_bar(run_recipe):
    result = run_recipe("distribution_shift")
    metrics, out = result["metrics"], Path(result["out"])
    rows = {row["set"]: row for row in metrics["accuracy"]}
    assert list(rows) == ["clean", *SHIFTS]
    assert rows["clean"]["plain"] >= 0.98, rows["clean"]  # a sound model before any shift

    # (b) augmentation beats plain training on every geometric shift.
    for shift in GEOMETRIC:
        assert rows[shift]["augmented"] > rows[shift]["plain"], rows[shift]
    # (c) fine-tuning wins back at least half of the clean-vs-shifted gap on the set it was tuned on.
    tuned_on = rows[metrics["finetune_on"]]
    gap = rows["clean"]["plain"] - tuned_on["plain"]
    assert gap > 0.01, (rows["clean"], tuned_on)
    assert tuned_on["fine_tuned"] - tuned_on["plain"] >= 0.5 * gap, tuned_on
    assert metrics["finetune_recovered"] == pytest.approx((tuned_on["fine_tuned"] - tuned_on["plain"]) / gap)

    # The detector flags every shifted set and passes the held-out clean one.
    detector = {row["set"]: row for row in metrics["detector"]}
    assert not detector["clean"]["flagged"], detector["clean"]
    for shift in SHIFTS:
        assert detector[shift]["flagged"], detector[shift]
        assert detector[shift]["mmd2"] > detector["clean"]["mmd2"]

    assert Path(metrics["examples_png"]).is_file()
    for run in ("plain", "augmented", "finetune"):
        assert list((out / "tensorboard" / run).rglob("events.out.tfevents.*")), f"no TensorBoard logs for {run}"


def centre_of_mass(image: np.ndarray) -> np.ndarray:
    rows, cols = np.indices(image.shape)
    return np.array([np.sum(cols * image), np.sum(rows * image)]) / np.sum(image)  # (x, y)


def test_affine_maps_move_rotate_and_scale_about_the_centre():
    import tensorflow as tf

    from tfcook.recipes.distribution_shift import affine_about_centre, transform

    image = np.zeros((1, 28, 28, 1), np.float32)
    image[0, 12:16, 6:22] = 1.0  # a horizontal bar through the centre
    flat = image[0, ..., 0]

    def apply(linear, offset):
        rows = affine_about_centre(tf.constant(linear, tf.float32)[None], tf.constant(offset, tf.float32)[None])
        return transform(tf.constant(image), rows).numpy()[0, ..., 0]

    moved = apply(np.eye(2), [3.0, -2.0])
    assert centre_of_mass(moved) - centre_of_mass(flat) == pytest.approx([3.0, -2.0], abs=1e-3)
    turned = apply([[0.0, 1.0], [-1.0, 0.0]], [0.0, 0.0])  # a quarter turn: the bar stands up
    assert np.allclose(turned, flat.T, atol=1e-5)
    half = apply(np.eye(2) / 0.5, [0.0, 0.0])  # the digit at half size, same centre
    assert np.sum(half) == pytest.approx(np.sum(flat) / 4, rel=0.05)
    assert centre_of_mass(half) == pytest.approx(centre_of_mass(flat), abs=0.05)


def test_blur_matches_scipy_and_shifts_are_seeded():
    import tensorflow as tf
    from scipy import ndimage

    from tfcook.recipes.distribution_shift import Config, gaussian_blur, shift_images

    rng = np.random.default_rng(0)
    images = rng.random((4, 28, 28, 1)).astype(np.float32)
    blurred = gaussian_blur(tf.constant(images), 1.5).numpy()
    expected = ndimage.gaussian_filter(images, sigma=(0, 1.5, 1.5, 0), mode="constant", truncate=3.0)
    assert np.allclose(blurred, expected, atol=1e-5)

    config = Config()
    batch = tf.constant(images)
    for shift in SHIFTS:
        first = shift_images(batch, shift, config, (0, 1)).numpy()
        assert first.shape == images.shape and 0 <= first.min() and first.max() <= 1 + 1e-6, shift
        assert np.array_equal(first, shift_images(batch, shift, config, (0, 1)).numpy()), f"{shift} is not seeded"
        if shift in ("rotate", "translate", "scale", "noise"):
            assert not np.allclose(first, shift_images(batch, shift, config, (0, 2)).numpy()), f"{shift} ignores its seed"
    assert np.allclose(shift_images(batch, "invert", config, (0, 1)).numpy(), 1 - images)
    with pytest.raises(ValueError):
        shift_images(batch, "sepia", config, (0, 1))


def test_mmd_statistic_matches_numpy_and_the_test_is_calibrated():
    from tfcook.recipes.distribution_shift import mmd_permutation_test

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 5)), rng.normal(size=(40, 5))
    mmd2, _ = mmd_permutation_test(x, y, permutations=10, seed=0)
    pooled = np.concatenate([x, y])
    squared = ((pooled[:, None] - pooled[None]) ** 2).sum(-1)
    kernel = np.exp(-squared / np.median(squared[~np.eye(100, dtype=bool)]))
    expected = kernel[:60, :60].mean() + kernel[60:, 60:].mean() - 2 * kernel[:60, 60:].mean()
    assert mmd2 == pytest.approx(expected, rel=1e-6)

    # Same distribution: p-values spread over (0, 1], rarely below 0.05; a shifted mean: the smallest p.
    p_values = [mmd_permutation_test(rng.normal(size=(50, 4)), rng.normal(size=(50, 4)), 200, seed)[1] for seed in range(20)]
    assert sum(p < 0.05 for p in p_values) <= 3 and max(p_values) > 0.5
    _, p_shifted = mmd_permutation_test(rng.normal(size=(50, 4)), rng.normal(0.8, 1, size=(50, 4)), 200, 0)
    assert p_shifted == pytest.approx(1 / 201)


def test_augmenter_covers_the_geometric_shifts_and_is_inactive_at_inference():
    import keras

    from tfcook.recipes.distribution_shift import Config, build_augmenter

    config = Config(scale_range=(0.5, 1.25))
    rotation, translation, zoom = build_augmenter(config).layers
    assert rotation.factor == pytest.approx((-30 / 360, 30 / 360))
    assert translation.height_factor == pytest.approx(5 / 28) and translation.width_factor == pytest.approx(5 / 28)
    assert zoom.height_factor == pytest.approx((1 / 1.25 - 1, 1 / 0.5 - 1))  # digit sizes 1.25x down to 0.5x
    keras.utils.set_random_seed(0)
    images = np.random.default_rng(0).random((4, 28, 28, 1)).astype(np.float32)
    assert np.array_equal(np.asarray(build_augmenter(config)(images, training=False)), images)


def test_sgdr_cycles_double():
    from tfcook.recipes.distribution_shift import sgdr_epochs

    assert sgdr_epochs(2, 14) == [2, 4, 8]
    assert sgdr_epochs(2, 5) == [2, 3]
    assert sgdr_epochs(1, 1) == [1]


@pytest.mark.parametrize(
    "bad",
    [dict(epochs=0), dict(scale_range=(1.2, 0.8)), dict(scale_range=(1.0,)), dict(eval_examples=6000),
     dict(detector_samples=600, eval_examples=500), dict(alpha=0.0), dict(noise_std=0.0), dict(finetune_examples=0),
     dict(translate_pixels=14.0), dict(finetune_on="sepia")],
)
def test_config_rejects_impossible_values(bad):
    from tfcook.recipes.distribution_shift import Config

    with pytest.raises(ValueError):
        Config(**bad)
