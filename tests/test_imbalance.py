"""imbalance: the catalog bar on the default config, and the pieces it rests on (the imbalanced set, the
stratified split, undersampling, class weights, the logit-adjusted loss, the scores against scikit-learn)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.mark.realdata
def test_every_treatment_raises_rare_digit_recall_and_the_best_by_10_points(run_recipe):
    result = run_recipe("imbalance")
    metrics = result["metrics"]
    rows = {row["treatment"]: row for row in metrics["treatments"]}
    assert list(rows) == ["none", "class_weight", "oversample", "undersample", "logit_adjusted"]
    counts = metrics["train_counts"]
    assert all(45 <= counts[d] <= 62 for d in (3, 5, 8)) and min(counts[d] for d in (0, 1, 2, 4, 6, 7, 9)) > 5000
    assert all(metrics["validation_counts"][d] >= 1 for d in range(10))  # stratified: rare digits in validation too

    none = rows["none"]
    for name, row in rows.items():
        if name != "none":
            assert row["minority_recall"] > none["minority_recall"], (name, row, none)
    # The best treatment: >= 10 pt more rare-digit recall, overall test accuracy down <= 1 pt.
    assert any(row["minority_recall_gain_pt"] >= 10 and row["accuracy_change_pt"] >= -1 for row in rows.values()), rows
    best = rows[metrics["best_treatment"]]
    assert best["minority_recall_gain_pt"] == metrics["best_minority_recall_gain_pt"] >= 10
    for row in rows.values():
        assert row["balanced_accuracy"] == pytest.approx(np.mean(row["recall"]), abs=1e-4)
        assert row["minority_recall"] == pytest.approx(np.mean([row["recall"][d] for d in (3, 5, 8)]), abs=1e-4)
    assert Path(metrics["recall_png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {p.name for p in (Path(result["out"]) / "tensorboard").iterdir()} == set(rows)


def test_imbalanced_set_keeps_the_fraction_of_the_minority_digits():
    from tfcook.recipes.imbalance import make_imbalanced

    labels = np.repeat(np.arange(10), 1000)
    kept = make_imbalanced(labels, (3, 5), 0.01, np.random.default_rng(0))
    counts = np.bincount(labels[kept], minlength=10)
    assert counts[3] == counts[5] == 10 and all(counts[d] == 1000 for d in range(10) if d not in (3, 5))
    assert len(set(kept)) == len(kept)


def test_stratified_split_keeps_each_class_share():
    from tfcook.recipes.imbalance import stratified_split

    labels = np.r_[np.zeros(1000, int), np.ones(20, int), np.full(3, 2)]
    train, validation = stratified_split(labels, 0.1, np.random.default_rng(0))
    assert not set(train) & set(validation) and len(train) + len(validation) == len(labels)
    assert np.bincount(labels[validation]).tolist() == [100, 2, 1]


def test_undersampling_and_class_weights_balance_the_classes():
    from tfcook.recipes.imbalance import balanced_weights, undersample

    labels = np.r_[np.repeat(np.arange(10), 100), np.full(900, 4)]
    keep = undersample(labels, np.random.default_rng(0))
    assert np.bincount(labels[keep]).tolist() == [100] * 10
    weights = balanced_weights(labels)
    counts = np.bincount(labels)
    # Every class carries the same total weight, and the weights average 1 over the examples.
    totals = [weights[d] * counts[d] for d in range(10)]
    assert np.allclose(totals, totals[0]) and np.dot([weights[d] for d in labels], np.ones(len(labels))) / len(labels) == pytest.approx(1)


def test_oversampled_batches_are_balanced():
    from tfcook.recipes.imbalance import oversampled

    y = np.r_[np.zeros(990, np.int64), np.arange(1, 10).repeat(1)]
    x = np.zeros((len(y), 28, 28, 1), np.float32)
    labels = np.concatenate([b.numpy() for _, b in oversampled(x, y, 100, seed=0).take(50)])
    shares = np.bincount(labels, minlength=10) / len(labels)
    assert np.all(np.abs(shares - 0.1) < 0.02), shares


def test_logit_adjusted_loss_equals_cross_entropy_of_shifted_logits():
    import keras

    from tfcook.recipes.imbalance import logit_adjusted_loss

    prior = np.array([0.7, 0.2, 0.1])
    logits = np.array([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0]], np.float32)
    labels = np.array([2, 0])
    shifted = logits + np.log(prior)
    expected = -(shifted[[0, 1], labels] - np.log(np.exp(shifted).sum(axis=1)))
    got = keras.ops.convert_to_numpy(logit_adjusted_loss(prior)(labels, logits))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_scores_match_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    from tfcook.recipes.imbalance import scores

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 2000)
    predicted = np.where(rng.random(2000) < 0.7, labels, rng.integers(0, 10, 2000))
    got = scores(labels, predicted, (3, 5))
    assert got["balanced_accuracy"] == pytest.approx(metrics.balanced_accuracy_score(labels, predicted))
    assert got["macro_f1"] == pytest.approx(metrics.f1_score(labels, predicted, average="macro"))
    assert got["accuracy"] == pytest.approx(metrics.accuracy_score(labels, predicted))
    recall = metrics.recall_score(labels, predicted, average=None)
    assert got["minority_recall"] == pytest.approx(recall[[3, 5]].mean())


@pytest.mark.parametrize("bad", [{"minority": ()}, {"minority": (10,)}, {"minority": tuple(range(10))}, {"keep": 1.0},
                                 {"treatments": ("class_weight",)}, {"treatments": ("none", "smote")}, {"validation_fraction": 0.6}])
def test_impossible_settings_are_refused(bad):
    from tfcook.recipes.imbalance import Config

    with pytest.raises(ValueError):
        Config(**bad)
