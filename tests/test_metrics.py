"""metrics: every Keras value equals the NumPy reference (and scikit-learn) on the same predictions, streaming
equals one-shot, and the NumPy AUC reproduces Keras's thresholded computation, edge cases included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.mark.realdata
def test_keras_metrics_equal_numpy_and_scikit_learn_on_mnist_predictions(run_recipe):
    """Default config: 784-128-10 on 50,000 images, 5 epochs (~50 CPU-seconds)."""
    skm = pytest.importorskip("sklearn.metrics")
    result = run_recipe("metrics")
    metrics = result["metrics"]
    assert set(metrics["keras_vs_numpy_by_family"]) == {"precision", "recall", "f1", "roc_auc", "pr_auc", "confusion"}
    assert metrics["keras_vs_numpy_max_abs_diff"] <= 1e-6, metrics["keras_vs_numpy_by_family"]
    assert metrics["streaming_vs_one_shot_max_abs_diff"] <= 1e-6, metrics["streaming_vs_one_shot_by_family"]

    # A third, independent implementation on the saved predictions: scikit-learn.
    saved = np.load(metrics["predictions_file"])
    labels, probs = saved["labels"], saved["probabilities"]
    predicted = probs.argmax(1)
    assert len(labels) == 10_000 and metrics["test_accuracy"] == pytest.approx(np.mean(predicted == labels))
    np.testing.assert_array_equal(metrics["confusion_matrix"], skm.confusion_matrix(labels, predicted))
    rows = {row["class"]: row for row in metrics["per_class"]}
    p, r, f, support = skm.precision_recall_fscore_support(labels, predicted)
    for c in range(10):
        row = rows[str(c)]
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((p[c], r[c], f[c]), abs=1e-6)
        assert row["support"] == support[c]
        positive = labels == c
        assert row["roc_auc_exact"] == pytest.approx(skm.roc_auc_score(positive, probs[:, c]), abs=1e-9)
        assert row["average_precision_exact"] == pytest.approx(skm.average_precision_score(positive, probs[:, c]), abs=1e-9)
        # Keras's 200-bucket AUC is close to the exact area, not equal to it.
        assert abs(row["roc_auc"] - row["roc_auc_exact"]) < 0.01 and abs(row["pr_auc"] - row["average_precision_exact"]) < 0.01
    for average in ("macro", "micro", "weighted"):
        p, r, f, _ = skm.precision_recall_fscore_support(labels, predicted, average=average)
        assert (rows[average]["precision"], rows[average]["recall"], rows[average]["f1"]) == pytest.approx((p, r, f), abs=1e-6)

    splits = {row["split"]: row for row in metrics["splits"]}
    assert [splits[s]["examples"] for s in ("train", "validation", "test")] == [50_000, 10_000, 10_000]
    assert splits["test"]["accuracy"] >= 0.96
    assert splits["train"]["loss"] < splits["validation"]["loss"]  # the generalization gap the recipe reports
    for key in ("confusion_png", "pr_curves_png", "roc_curves_png"):
        assert Path(metrics[key]).is_file()
    assert list((Path(result["out"]) / "tensorboard").rglob("events.out.tfevents.*"))


def synthetic_predictions(n=3000, seed=0):
    """Softmax outputs of a noisy classifier, with saturated scores (exact 0 and 1) and scores on bucket edges."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    logits = rng.normal(size=(n, 10)) + 3.0 * np.eye(10)[labels]
    logits[:50] += 200 * np.eye(10)[labels[:50]]  # float32 softmax gives exactly 1.0 and 0.0
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs = (probs / probs.sum(1, keepdims=True)).astype(np.float32)
    edges = (np.arange(1, 199) / np.float32(199)).astype(np.float32)
    probs[50:250, 0] = rng.choice(edges, 200)  # exactly on thresholds i / 199 (rows no longer sum to 1: fine)
    return labels, probs


@pytest.mark.parametrize("curve", ["ROC", "PR"])
@pytest.mark.parametrize("num_thresholds", [200, 7])
def test_numpy_auc_reproduces_keras_thresholded_auc(curve, num_thresholds):
    import keras

    from tfcook.recipes import metrics

    labels, probs = synthetic_predictions()
    ours = metrics.roc_auc_thresholded if curve == "ROC" else metrics.pr_auc_thresholded
    for c in (0, 3):
        positive = labels == c
        auc = keras.metrics.AUC(num_thresholds=num_thresholds, curve=curve)
        auc.update_state(positive, probs[:, c])
        assert ours(positive, probs[:, c], num_thresholds) == pytest.approx(float(auc.result()), abs=1e-6)
        tp, fp, fn, tn = metrics.thresholded_counts(positive, probs[:, c], num_thresholds)
        np.testing.assert_array_equal(tp, np.asarray(auc.true_positives))
        np.testing.assert_array_equal(fp, np.asarray(auc.false_positives))
        np.testing.assert_array_equal(fn, np.asarray(auc.false_negatives))
        np.testing.assert_array_equal(tn, np.asarray(auc.true_negatives))


def test_all_keras_values_equal_numpy_and_streaming_equals_one_shot():
    from tfcook.recipes import metrics

    labels, probs = synthetic_predictions(seed=1)
    probs[50:250, 0] = 0.0  # restore a proper distribution for the arg-max metrics
    keras_values = metrics.compute_with_keras(labels, probs, 200)
    reference = metrics.compute_with_numpy(labels, probs, 200)
    assert set(keras_values) == set(reference)
    differences = metrics.max_differences(keras_values, reference)
    assert max(differences.values()) <= 1e-6, differences
    for batch in (1000, 701):
        streamed = metrics.compute_with_keras(labels, probs, 200, batch=batch)
        assert max(metrics.max_differences(streamed, keras_values).values()) <= 1e-6
    # Macro AUC (multi_label=True) is the mean of the per-class AUCs.
    assert keras_values["roc_auc/macro"] == pytest.approx(keras_values["roc_auc/per_class"].mean(), abs=1e-6)


def test_exact_auc_and_average_precision_match_scikit_learn_with_ties():
    skm = pytest.importorskip("sklearn.metrics")
    from tfcook.recipes import metrics

    rng = np.random.default_rng(2)
    positive = rng.random(2000) < 0.3
    scores = np.round(rng.random(2000) * 0.6 + 0.4 * positive, 2)  # rounded: many ties
    assert metrics.exact_roc_auc(positive, scores) == pytest.approx(skm.roc_auc_score(positive, scores), abs=1e-12)
    assert metrics.average_precision(positive, scores) == pytest.approx(skm.average_precision_score(positive, scores), abs=1e-12)


def test_precision_needs_top_k_for_multiclass_predictions():
    """Without top_k, Keras's Precision thresholds each probability at 0.5: an arg-max of 0.4 is not a prediction."""
    import keras

    onehot = np.eye(3, dtype=np.float32)[[0, 0, 1]]
    probs = np.array([[0.4, 0.3, 0.3], [0.9, 0.05, 0.05], [0.45, 0.5, 0.05]], np.float32)
    thresholded, top1 = keras.metrics.Recall(class_id=0), keras.metrics.Recall(top_k=1, class_id=0)
    thresholded.update_state(onehot, probs)
    top1.update_state(onehot, probs)
    assert float(thresholded.result()) == pytest.approx(0.5) and float(top1.result()) == pytest.approx(1.0)


def test_config_rejects_impossible_values():
    from tfcook.recipes.metrics import Config

    for bad in ({"validation_examples": 0}, {"train_examples": 55_000}, {"num_thresholds": 2}, {"epochs": 0}, {"learning_rate": -1.0}):
        with pytest.raises(ValueError):
            Config(**bad)
