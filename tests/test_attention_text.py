"""attention_text: the SST-2 bar, the padding mask on the trained model, the heat-maps, and the mask itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.mark.realdata
def test_default_config_reaches_82_percent_and_padding_changes_nothing(run_recipe):
    result = run_recipe("attention_text")
    metrics, config = result["metrics"], result["config"]
    assert config["train_examples"] == 0  # all 67,349 training phrases
    # The catalog's bar, on the default seed: 82.22 % measured, one sentence above it (717 of 872; runs
    # are deterministic at a fixed seed here, with one thread or two). Seeds 0-5: 81.88-83.14 %, mean
    # 82.47 % (the recipe's Notes).
    assert metrics["val_accuracy"] >= 0.82, metrics
    # The trained model, every validation sentence padded two ways: the same probabilities.
    assert metrics["padding_max_abs_diff"] <= 1e-5
    pngs = metrics["attention_pngs"]
    assert len(pngs) == config["heatmap_sentences"] and all(Path(p).stat().st_size > 5000 for p in pngs)
    assert list((Path(result["out"]) / "tensorboard").rglob("events.out.tfevents.*")), "no TensorBoard logs written"


def small_models(**changes):
    import keras

    from tfcook.recipes.attention_text import Config, build_models

    keras.utils.set_random_seed(0)
    return build_models(Config(vocab_size=50, max_length=16, model_dim=8, heads=2, ff_dim=16, layers=2, **changes))


@pytest.mark.parametrize("pooling", ["mean", "mean_max"])
def test_appended_padding_leaves_the_prediction_unchanged(pooling):
    classifier, _ = small_models(pooling=pooling)
    ids = np.array([[5, 9, 3, 17, 2, 8]], dtype="int64")
    padded = np.pad(ids, [(0, 0), (0, 10)])
    short, long = classifier.predict(ids, verbose=0), classifier.predict(padded, verbose=0)
    np.testing.assert_allclose(short, long, atol=1e-5)
    # A real token in the same place does change it: the comparison can fail.
    other = padded.copy()
    other[0, 6] = 7
    assert abs(classifier.predict(other, verbose=0)[0, 0] - short[0, 0]) > 1e-5


def test_no_query_attends_to_padding():
    _, attention = small_models()
    ids = np.array([[5, 9, 3, 0, 0, 0], [4, 4, 4, 4, 4, 4]], dtype="int64")
    scores = attention.predict(ids, verbose=0)  # [B, heads, query, key]
    assert scores.shape == (2, 2, 6, 6)
    np.testing.assert_allclose(scores.sum(axis=-1), 1.0, atol=1e-5)  # softmax over keys
    assert np.abs(scores[0, :, :, 3:]).max() < 1e-6  # padding keys get no weight, from any query
    assert scores[1].min() > 0.01  # without padding every key is attended to


def test_a_heatmap_sentence_padded_to_max_length_keeps_its_real_scores():
    """JAX draws the heat-maps from sentences padded to max_length (one compile): the same picture."""
    _, attention = small_models()
    ids = np.array([[5, 9, 3, 17]], dtype="int64")
    short = attention.predict(ids, verbose=0)[0]
    padded = attention.predict(np.pad(ids, [(0, 0), (0, 12)]), verbose=0)[0]
    np.testing.assert_allclose(padded[:, :4, :4], short, atol=1e-6)


def test_one_bucket_and_static_shapes_give_one_batch_shape():
    import dataclasses

    import tensorflow as tf

    from tfcook.recipes.attention_text import Config, make_train_dataset

    ids = tf.ragged.constant([[4] * n for n in range(1, 41)] * 8, dtype=tf.int64)
    labels = np.arange(ids.nrows()) % 2
    config = Config(batch_size=16, word_dropout=0.0, max_length=40, static_shapes=True, buckets=())
    assert {tuple(x.shape) for x, _ in make_train_dataset(ids, labels, config)} == {(16, 40)}
    bucketed = {tuple(x.shape) for x, _ in make_train_dataset(ids, labels, dataclasses.replace(config, static_shapes=False, buckets=Config.buckets))}
    assert len(bucketed) > 6  # TensorFlow's default: each batch padded to its own longest


def test_tensorflow_keeps_per_batch_padding_by_default():
    from tfcook.recipes.attention_text import Config

    assert Config().static_shapes is False and Config.tiny().buckets == Config().buckets  # JAX: True and ()


def test_word_dropout_replaces_only_real_tokens_at_the_given_rate():
    import tensorflow as tf

    from tfcook.recipes.attention_text import OOV, drop_words

    tf.random.set_seed(0)
    ids = np.tile(np.array([[4, 5, 6, 7, 8, 0, 0, 0]], dtype="int64"), (5000, 1))
    out = drop_words(tf.constant(ids), 0.2).numpy()
    assert (out[:, 5:] == 0).all()
    changed = out[:, :5] != ids[:, :5]
    assert (out[:, :5][changed] == OOV).all()
    assert changed.mean() == pytest.approx(0.2, abs=0.01)


@pytest.mark.parametrize(
    "bad",
    [
        {"model_dim": 30, "heads": 4},
        {"dropout": 1.0},
        {"layers": 0},
        {"train_examples": 10},
        {"pooling": "sum"},
        {"ema_momentum": 1.0},
        {"buckets": (16, 16)},
    ],
)
def test_config_rejects_impossible_values(bad):
    from tfcook.recipes.attention_text import Config

    with pytest.raises(ValueError):
        Config(**bad)
