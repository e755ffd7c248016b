"""data_privacy: the encrypted round trip, refusals through the CLI, pseudonyms that join, Laplace noise and its budget."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import tfcook


def refusal(proc) -> str:
    """The run's one error line (TensorFlow's own start-up chatter aside), asserting there is exactly one."""
    lines = [line for line in proc.stderr.splitlines() if line.startswith("tfcook: error:")]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.mark.realdata
def test_round_trip_is_exact_and_bad_keys_and_tampered_shards_are_refused(run_recipe, tmp_path):
    result = run_recipe("data_privacy")
    m = result["metrics"]
    assert m["examples"] == 60_000 and m["shards"] == 8
    assert m["round_trip_identical"] is True
    # Pseudonyms: the second table joins row for row under the key, not at all under another; no raw ID was written.
    assert m["join_matched"] == result["config"]["join_rows"] and m["join_correct"] is True
    assert m["join_matched_other_key"] == 0 and m["raw_ids_written"] == 0
    # Laplace: the measured noise scale is sensitivity/epsilon within 5 %, and the budget refused the over-spend.
    for audit in m["noise_audit"]:
        assert audit["releases"] >= 20_000 and audit["relative_error"] <= 0.05, audit
    assert m["epsilon_spent"] <= result["config"]["epsilon_budget"] and "only 0.25 of the budget" in m["refused_query"]
    assert Path(m["noise_png"]).is_file()

    shards = Path(m["shard_dir"])
    names = sorted(p.name for p in shards.iterdir())
    wrong = tmp_path / "wrong.key"
    wrong.write_text(os.urandom(32).hex())
    wrong.chmod(0o600)
    line = refusal(tfcook("run", "data_privacy", f"--read_dir={shards}", f"--key_file={wrong}", "--out", str(tmp_path / "r1")))
    assert re.search(r"shard (\S+) failed authentication", line)[1] in names, line

    victim = shards / names[3]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit
    victim.write_bytes(bytes(data))
    line = refusal(tfcook("run", "data_privacy", f"--read_dir={shards}", f"--key_file={m['key_source']}", "--out", str(tmp_path / "r2")))
    assert f"shard {names[3]} failed authentication" in line, line
    assert not (tmp_path / "r2" / "result.json").exists()


# --- the pieces, on small synthetic data ---------------------------------------------------


@pytest.fixture
def shards(tmp_path):
    from tfcook.recipes import data_privacy as dp

    key = os.urandom(32)
    images = np.random.default_rng(0).integers(0, 256, (50, 28, 28, 1), dtype=np.uint8)
    labels = np.arange(50) % 10
    ids = dp.pseudonymize([f"user-{i}" for i in range(50)], key)
    paths = dp.write_shards(dp.serialize(images, labels, ids), tmp_path / "enc", key, 3, plain_folder=tmp_path / "plain")
    return dp, key, paths, images, labels, ids


def test_shards_decrypt_to_the_exact_tfrecord_files_and_data(shards, tmp_path):
    import tensorflow as tf

    dp, key, paths, images, labels, ids = shards
    for path in paths:  # the decrypted bytes are a valid TFRecord file, byte for byte the plain one
        assert dp.decrypt_shard(path, key) == (tmp_path / "plain" / path.name.removesuffix(".enc")).read_bytes()
    plain = [str(tmp_path / "plain" / p.name.removesuffix(".enc")) for p in paths]
    from_tf = [r.numpy() for r in tf.data.TFRecordDataset(plain)]  # TF checks the CRCs the ram:// writer made
    assert from_tf == [r for p in paths for r in dp.split_records(dp.decrypt_shard(p, key))]
    data = dp.read_all(dp.encrypted_dataset(dp.find_shards(tmp_path / "enc"), key, batch_size=7))
    assert np.array_equal(data["image"], images) and np.array_equal(data["label"], labels) and list(data["id"]) == ids


def test_wrong_key_tampering_and_swapped_names_are_refused_naming_the_shard(shards):
    import tfcook

    dp, key, paths, *_ = shards
    with pytest.raises(tfcook.DataError, match=f"shard {paths[0].name} failed authentication"):
        dp.decrypt_shard(paths[0], os.urandom(32))
    # Swap two shards' names: each is intact, but its name is authenticated with it.
    a, b = paths[0], paths[1]
    a_bytes, b_bytes = a.read_bytes(), b.read_bytes()
    a.write_bytes(b_bytes)
    b.write_bytes(a_bytes)
    with pytest.raises(tfcook.DataError, match="failed authentication"):
        dp.read_all(dp.encrypted_dataset(paths, key))
    a.write_bytes(a_bytes)
    b.write_bytes(b_bytes)
    paths[2].write_bytes(paths[2].read_bytes()[:-1])  # truncated
    with pytest.raises(tfcook.DataError, match=f"shard {paths[2].name} failed authentication"):
        dp.read_all(dp.encrypted_dataset(paths, key))
    paths[1].unlink()
    with pytest.raises(tfcook.DataError, match=f"shard {paths[1].name} is missing"):
        dp.find_shards(paths[0].parent)


def test_nonces_are_fresh_for_every_shard(shards):
    dp, key, paths, *_ = shards
    one = dp.encrypt_shard(b"same bytes", "x", key)
    two = dp.encrypt_shard(b"same bytes", "x", key)
    assert one != two and one[8:20] != two[8:20]


def test_key_files_readable_by_others_or_malformed_are_refused(tmp_path, monkeypatch):
    import tfcook
    from tfcook.recipes import data_privacy as dp

    path = tmp_path / "k"
    key = os.urandom(32)
    path.write_text(key.hex() + "\n")
    path.chmod(0o640)
    with pytest.raises(tfcook.DataError, match="accessible by group or others.*chmod 600"):
        dp.load_key(str(path))
    path.chmod(0o600)
    assert dp.load_key(str(path)) == key
    path.write_text("not a key")
    with pytest.raises(tfcook.DataError, match="64 hex characters"):
        dp.load_key(str(path))
    monkeypatch.setenv(dp.KEY_ENV, key.hex())
    assert dp.load_key("") == key
    new = dp.save_new_key(tmp_path / "new.key")
    assert (tmp_path / "new.key").stat().st_mode & 0o777 == 0o600 and dp.load_key(str(tmp_path / "new.key")) == new
    assert dp.derive_key(key, "encryption") != dp.derive_key(key, "pseudonyms")


def test_pseudonyms_are_keyed_hmacs_that_still_join():
    import tensorflow as tf

    from tfcook.recipes import data_privacy as dp

    key = os.urandom(32)
    ids = [f"patient-{i}" for i in range(20)]
    pseudo = dp.pseudonymize(ids, key)
    assert pseudo[3] == hmac.new(key, b"patient-3", hashlib.sha256).hexdigest()[:32].encode()
    assert len(set(pseudo)) == 20 and not any(i.encode() in p for i, p in zip(ids, pseudo))
    assert dp.pseudonymize(ids, os.urandom(32))[3] != pseudo[3]
    joined = dp.join_by_pseudonym(tf.constant(pseudo), dp.pseudonymize(ids[5:8], key), np.array([50, 60, 70])).numpy()
    assert joined.tolist() == [-1] * 5 + [50, 60, 70] + [-1] * 12


def test_budget_refuses_the_query_that_would_overspend_and_releases_nothing():
    from tfcook.recipes import data_privacy as dp

    budget, rng = dp.PrivacyBudget(1.0), np.random.default_rng(0)
    dp.release(10.0, 1.0, 0.6, budget, "a", rng)
    with pytest.raises(dp.BudgetExhausted, match="query 'b' needs epsilon 0.5 but only 0.4"):
        dp.release(10.0, 1.0, 0.5, budget, "b", rng)
    assert budget.spent == pytest.approx(0.6) and [e["query"] for e in budget.ledger] == ["a"]
    dp.release(10.0, 1.0, 0.4, budget, "c", rng)  # exactly the rest is allowed
    with pytest.raises(dp.BudgetExhausted):
        dp.release(10.0, 1.0, 1e-6, budget, "d", rng)


def test_laplace_noise_scale_and_the_mean_sensitivity():
    from tfcook.recipes import data_privacy as dp

    audit = dp.audit_noise_scale(2.0, 0.5, 50_000, np.random.default_rng(1))
    assert audit["expected_scale"] == 4.0 and audit["relative_error"] < 0.03
    assert np.std(audit["noise"]) == pytest.approx(np.sqrt(2) * 4.0, rel=0.03)  # Laplace, not Gaussian: std = sqrt(2) b
    # Replacing one image by its extreme opposite moves the mean by at most 1/n.
    images = np.zeros((100, 28, 28, 1), np.uint8)
    changed = images.copy()
    changed[0] = 255
    assert abs(dp.mean_ink(changed) - dp.mean_ink(images)) == pytest.approx(1 / 100)


def test_impossible_configs_are_rejected():
    from tfcook.recipes.data_privacy import Config

    for bad in ({"shards": 0}, {"examples": 3, "shards": 8}, {"mean_epsilon": 0.0}, {"audit_releases": 1}):
        with pytest.raises(ValueError):
            Config(**bad)
