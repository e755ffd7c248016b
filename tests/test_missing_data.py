"""missing_data: the catalog bar on real penguins and spoken digits, and each piece against NumPy."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import data_missing
from conftest import tfcook as tfcook_cli


def prepared_penguins() -> Path:
    """The prepared penguins.csv in TFCOOK_DATA_DIR (the tests copy and tamper with it)."""
    path = Path(os.environ.get("TFCOOK_DATA_DIR", "/nonexistent"), "penguins.csv")
    if not path.is_file():
        data_missing(f"{path} is not there; set TFCOOK_DATA_DIR")
    return path


@pytest.mark.realdata
def test_strategies_reported_indicators_beat_deletion_under_mnar_and_interpolation_beats_zero_fill(run_recipe):
    from tfcook.recipes.missing_data import REPAIRS, STRATEGIES

    result = run_recipe("missing_data")
    metrics, config = result["metrics"], result["config"]
    assert metrics["penguins"] == 344 and metrics["real_missing_cells"] == 2 * 4 + 11
    # Every strategy has an accuracy under every condition: the real NAs, and MCAR/MNAR at each rate.
    conditions = [("none", 0.0)] + [(m, r) for m in ("MCAR", "MNAR") for r in config["rates"]]
    assert [(row["mechanism"], row["rate"]) for row in metrics["accuracy_table"]] == conditions
    for row in metrics["accuracy_table"]:
        assert all(0.0 <= row[s] <= 1.0 for s in STRATEGIES), row
    # With only the real NAs every strategy works: the two incomplete birds barely matter.
    assert min(metrics["accuracy_table"][0][s] for s in STRATEGIES) >= 0.95, metrics["accuracy_table"][0]
    # The bar: at 30 % MNAR fill + indicators is at least as accurate as deleting rows, on the
    # average over the paired splits, by more than the noise of that average.
    diff = metrics["indicator_minus_drop_mnar_0.3"]
    assert diff["splits"] == config["repeats"] >= 10
    assert diff["mean_pt"] >= 0 and diff["mean_pt"] > 2 * diff["sem_pt"], diff
    # Deletion breaks as the rate grows: it can score fewer and fewer test rows.
    drop = {(d["mechanism"], d["rate"]): d for d in metrics["strategies"] if d["strategy"] == "drop"}
    assert drop[("MCAR", 0.4)]["scored"] < drop[("MCAR", 0.1)]["scored"] < drop[("none", 0.0)]["scored"]

    # Sequences: interpolation beats zero-fill in SNR for short gaps (up to 1 ms, 8 samples);
    # over longer ones a straight line is a worse guess than silence, as the recipe's Notes report.
    rows = metrics["gap_repairs"]
    assert any(gap <= 1.0 for gap in config["gap_ms"])
    for gap in config["gap_ms"]:
        snr = {r["repair"]: r["snr_db"] for r in rows if r["longest_gap_ms"] == gap}
        assert set(snr) == set(REPAIRS)
        if gap <= 1.0:
            assert snr["interpolate"] > snr["zero_fill"], (gap, snr)
        assert snr["delete"] < min(snr["interpolate"], snr["zero_fill"]), (gap, snr)
    assert metrics["digits_clean_accuracy"] >= 0.9
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in rows)
    for png in ("mcar_png", "mnar_png", "gap_png"):
        assert Path(metrics[png]).is_file()
    assert list((Path(result["out"]) / "tensorboard").rglob("events.out.tfevents.*"))


def test_a_tampered_or_missing_penguins_file_is_one_clear_data_error(tmp_path, monkeypatch):
    import tfcook
    import tfcook.data
    from tfcook.recipes.missing_data import PENGUINS_SHA256, load_penguins

    source = prepared_penguins()
    monkeypatch.setenv("HOME", str(tmp_path))  # no Keras cache to fall back on
    monkeypatch.setattr(tfcook.data, "_can_download", lambda *args, **kwargs: False)
    tampered = tmp_path / "data"
    tampered.mkdir()
    (tampered / "penguins.csv").write_bytes(source.read_bytes().replace(b"Adelie,Torgersen,39.1", b"Adelie,Torgersen,93.1"))
    monkeypatch.setenv("TFCOOK_DATA_DIR", str(tampered))
    with pytest.raises(tfcook.DataError, match=r"SHA-256 .* not the expected"):
        load_penguins()
    (tampered / "penguins.csv").unlink()
    with pytest.raises(tfcook.DataError, match="penguins.csv is not in TFCOOK_DATA_DIR"):
        load_penguins()
    # The untouched file loads, and a wrong expected hash is refused the same way.
    shutil.copy(source, tampered / "penguins.csv")
    x, y = load_penguins()
    assert x.shape == (344, 8) and np.bincount(y).tolist() == [152, 68, 124]
    with pytest.raises(tfcook.DataError):
        load_penguins(sha256="0" * 64)
    assert load_penguins(PENGUINS_SHA256)[0].shape == (344, 8)


def test_the_cli_turns_a_tampered_file_into_one_sentence_and_exit_2(tmp_path):
    source = prepared_penguins()
    (tmp_path / "penguins.csv").write_bytes(source.read_bytes()[:-100])
    env = {**os.environ, "TFCOOK_DATA_DIR": str(tmp_path), "HOME": str(tmp_path)}
    proc = tfcook_cli("run", "missing_data", "--tiny", "--out", str(tmp_path / "out"), env=env)
    assert proc.returncode == 2, proc.stderr[-2000:]
    message = [line for line in proc.stderr.splitlines() if line.startswith("tfcook: error:")]
    assert len(message) == 1 and "SHA-256" in message[0] and "Traceback" not in proc.stderr


def test_imputer_layer_matches_numpy_nan_statistics_per_stack():
    from tfcook.recipes.missing_data import MissingValueImputer

    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 41, 5)).astype(np.float32)
    x[rng.random(x.shape) < 0.3] = np.nan
    x[1, :, 2] = np.nan  # a column never observed in one stack: filled with 0
    for statistic, reference in (("mean", np.nanmean), ("median", np.nanmedian)):
        layer = MissingValueImputer(statistic)
        layer.adapt(x)
        with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
            expected = np.nan_to_num(reference(x, axis=1, keepdims=True))
        np.testing.assert_allclose(layer.fill.numpy(), expected, atol=1e-6)
        filled = np.asarray(layer(x))
        assert not np.isnan(filled).any()
        np.testing.assert_array_equal(filled[~np.isnan(x)], x[~np.isnan(x)])
    flagging = MissingValueImputer("mean", indicators=True)
    flagging.adapt(x)
    flagged = np.asarray(flagging(x))
    assert flagged.shape == (3, 41, 10)
    np.testing.assert_array_equal(flagged[..., 5:], np.isnan(x).astype(np.float32))


def test_injected_missingness_hits_the_rate_and_mnar_takes_the_large_values():
    from tfcook.recipes.missing_data import MEASUREMENTS, inject_missing

    rng = np.random.default_rng(1)
    x = rng.normal(size=(4000, 8)).astype(np.float32)
    for mechanism in ("MCAR", "MNAR"):
        for rate in (0.1, 0.4):
            out = inject_missing(x, mechanism, rate, np.random.default_rng(2))
            removed = np.isnan(out)
            assert not removed[:, len(MEASUREMENTS):].any(), "only the measurements lose values"
            assert abs(removed[:, : len(MEASUREMENTS)].mean() - rate) < 0.02
            lost, kept = x[removed], x[:, : len(MEASUREMENTS)][~removed[:, : len(MEASUREMENTS)]]
            if mechanism == "MCAR":
                assert abs(lost.mean() - kept.mean()) < 0.1
            else:
                assert lost.mean() > kept.mean() + 0.3
    assert np.array_equal(np.isnan(inject_missing(x, "MNAR", 0.3, np.random.default_rng(5))),
                          np.isnan(inject_missing(x, "MNAR", 0.3, np.random.default_rng(5)))), "seeded"


def test_stratified_split_keeps_the_class_proportions():
    from tfcook.recipes.missing_data import stratified_test_mask

    y = np.array([0] * 152 + [1] * 68 + [2] * 124)
    test = stratified_test_mask(y, 0.25, np.random.default_rng(0))
    assert np.bincount(y[test]).tolist() == [38, 17, 31]


def test_learned_imputation_recovers_a_linear_relation_from_training_rows_only():
    from tfcook.recipes.missing_data import learned_imputation

    rng = np.random.default_rng(0)
    a = rng.normal(size=400)
    x = np.stack([a, 3 * a + 1000, rng.normal(size=400)], axis=1).astype(np.float32)  # column 1 depends on column 0
    truth = x.copy()
    missing = rng.random(400) < 0.3
    x[missing, 1] = np.nan
    train = np.arange(400) < 300
    x[~train, 1] = np.where(missing[~train], np.nan, 5000.0)  # test rows' observed values are nonsense: must not be learned
    out = learned_imputation(x[None], train[None], rounds=3)[0]
    gap = missing & train
    np.testing.assert_allclose(out[gap, 1], truth[gap, 1], atol=0.05)
    np.testing.assert_allclose(out[missing & ~train, 1], truth[missing & ~train, 1], atol=0.05)
    np.testing.assert_array_equal(out[~missing, 0], x[~missing, 0])


def test_stacked_softmax_regressions_fit_like_separate_ones():
    """Two copies of a dataset, one with its labels permuted, trained in one stack: the first
    learns its labels, and its predictions equal a fit of that model alone."""
    import keras

    from tfcook.recipes.missing_data import Config, train_classifiers

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    features = (np.eye(3)[y] * 2 + rng.normal(size=(300, 3))).astype(np.float32)
    stack = np.stack([features, features[rng.permutation(300)]])
    weights = np.stack([np.arange(300) < 200, np.arange(300) < 100]).astype(np.float32)
    config = Config(steps=200)
    both = train_classifiers(stack, y, weights, config)
    alone = train_classifiers(stack[:1], y, weights[:1], config)
    assert np.mean(both[0, 200:] == y[200:]) > 0.75  # chance 1/3; the Bayes rate of these classes ~0.85
    np.testing.assert_array_equal(both[0], alone[0])


def test_interpolation_and_deletion_match_numpy():
    import tensorflow as tf

    from tfcook.recipes.missing_data import delete_gaps, interpolate_gaps, make_gaps, snr_db

    rng = np.random.default_rng(0)
    waves = rng.normal(size=(4, 200)).astype(np.float32)
    missing = rng.random((4, 200)) < 0.4
    missing[0, :5] = True  # a leading gap: holds the first observed value
    missing[1, -7:] = True  # a trailing gap: holds the last one
    out = interpolate_gaps(waves, missing).numpy()
    for row in range(4):
        kept = np.flatnonzero(~missing[row])
        np.testing.assert_allclose(out[row], np.interp(np.arange(200), kept, waves[row, kept]), atol=1e-6)
    closed = delete_gaps(tf.constant(waves), tf.constant(missing)).numpy()
    for row in range(4):
        kept = waves[row, ~missing[row]]
        np.testing.assert_array_equal(closed[row, : len(kept)], kept)
        assert np.all(closed[row, len(kept) :] == 0)
    # Gaps stay inside each clip's speech and remove about the asked-for fraction.
    lengths = np.array([150, 200, 80, 120])
    gaps = make_gaps(lengths, 200, 0.2, 8, np.random.default_rng(0))
    for row, n in enumerate(lengths):
        assert not gaps[row, n:].any() and 0.2 <= gaps[row, :n].mean() < 0.3
    # SNR: 10 log10(energy / error energy); a perfect repair is very high, zeros give 0 dB.
    assert snr_db(waves, np.zeros_like(waves), np.full(4, 200)) == pytest.approx(0.0, abs=1e-6)
    assert snr_db(waves, waves * 0.9, np.full(4, 200)) == pytest.approx(20.0, abs=1e-4)


@pytest.mark.parametrize(
    "overrides, message",
    [({"rates": (0.6,)}, "rates"), ({"gap_rate": 1.0}, "gap_rate"), ({"gap_ms": (0.01,)}, "gap_ms"), ({"repeats": 0}, "repeats")],
)
def test_config_rejects_impossible_values(overrides, message):
    from tfcook.recipes.missing_data import Config

    with pytest.raises(ValueError, match=message):
        Config(**overrides)
