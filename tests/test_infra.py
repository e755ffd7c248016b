"""Shared machinery recipes lean on: plain-file downloads checked by hash, the run folder,
divergence reporting, the CPU record, the PNG helpers and the text standardizer."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import tfcook
from test_cli import assert_user_error
from tfcook import data, devices, plot
from tfcook.errors import DataError

# --- tfcook.data.fetch -------------------------------------------------------------------------

URL = "https://example.org/files/table.csv"


@pytest.fixture
def prepared(tmp_path, monkeypatch):
    """A TFCOOK_DATA_DIR holding table.csv, an empty Keras cache, and no network."""
    folder = tmp_path / "prepared"
    folder.mkdir()
    (folder / "table.csv").write_text("a,b\n1,2\n")
    monkeypatch.setenv("TFCOOK_DATA_DIR", str(folder))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(data, "_can_download", lambda **kwargs: False)
    return folder


def test_fetch_returns_a_prepared_copy_whose_hash_matches(prepared):
    digest = hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert data.fetch("table.csv", URL, digest) == prepared / "table.csv"


def test_fetch_refuses_a_copy_whose_hash_differs(prepared):
    with pytest.raises(DataError, match=r"table.csv has SHA-256 .* not the expected 000000000000"):
        data.fetch("table.csv", URL, "0" * 64)


def test_fetch_offline_without_a_copy_says_what_to_set(prepared):
    with pytest.raises(DataError) as err:
        data.fetch("other.csv", URL, "0" * 64)
    message = str(err.value)
    assert "other.csv is not in TFCOOK_DATA_DIR" in message and URL in message and "set TFCOOK_DATA_DIR" in message


# --- the runner: run folder, divergence, CPU record --------------------------------------------

FAKE_RECIPE = '''
"""Fake recipe whose metrics come out as the --value setting says."""
import dataclasses, sys
import tfcook

@dataclasses.dataclass
class Config:
    value: str = "1.0"  # the loss this fake run reports
    @classmethod
    def tiny(cls):
        return cls()

def run(config):
    (tfcook.out_dir() / "partial.txt").write_text("written before the end")
    return {"runs": [{"loss": 0.5}, {"loss": float(config.value)}], "steps": 3}

if __name__ == "__main__":
    sys.exit(tfcook.run_main(sys.modules[__name__]))
'''


def run_fake(tmp_path, *args):
    (tmp_path / "fake.py").write_text(textwrap.dedent(FAKE_RECIPE))
    return subprocess.run([sys.executable, "fake.py", *args], cwd=tmp_path, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_a_diverged_run_names_the_metric_exits_1_and_keeps_its_folder(tmp_path, value):
    proc = run_fake(tmp_path, f"--value={value}", "--out", "out")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    (line,) = [line for line in proc.stderr.splitlines() if line.startswith("tfcook: error:")]
    assert f"metric runs[1].loss is {value}" in line
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["status"] == "diverged" and result["metrics"]["runs"][1]["loss"] == value
    assert (tmp_path / "out" / "partial.txt").is_file()


def test_result_json_records_the_cpu_model_and_features(tmp_path):
    proc = run_fake(tmp_path, "--out", "out")
    assert proc.returncode == 0, proc.stderr
    cpu = json.loads((tmp_path / "out" / "result.json").read_text())["device"]["cpu"]
    assert cpu == json.loads(json.dumps(devices.cpu()))
    assert cpu["model"] and cpu["cores"] >= 1 and set(cpu["features"]) <= set(devices.CPU_FEATURES)


def test_an_out_folder_that_cannot_be_created_exits_2(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert_user_error(tfcook("run", "mnist", "--tiny", "--out", str(blocker / "run")), f"--out {blocker / 'run'} can't be used as the run folder")


@pytest.mark.parametrize("args, fragment", [(["--tiny=maybe"], "--tiny expects true or false"), (["--out="], "--out needs a folder name")])
def test_bad_runner_flag_values_exit_2(args, fragment):
    assert_user_error(tfcook("run", "mnist", *args), fragment)


# --- tfcook.plot ---------------------------------------------------------------------------------


def is_png(path) -> bool:
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_every_plot_helper_writes_a_png(tmp_path):
    rng = np.random.default_rng(0)
    paths = [
        plot.image_grid(rng.random((12, 28, 28, 1)), tmp_path / "grid.png", titles=[str(i) for i in range(12)], cols=5),
        plot.heatmap(rng.integers(0, 50, (10, 10)), tmp_path / "cm.png", x_labels="0123456789", y_labels="0123456789", annotate=True),
        plot.curves({"a": [3, 2, 1], "a (val)": ([0, 1, 2], [3, 2.5, 2])}, tmp_path / "curves.png", logy=True),
        plot.scatter(rng.random((20, 2)), rng.integers(0, 2, 20), tmp_path / "scatter.png", names=["x", "y"]),
        plot.timeline([{"lane": "/cpu:0", "start": 0, "end": 1, "label": "j1"}, {"lane": "/cpu:1", "start": 0.5, "end": 2, "label": "j2", "failed": True}], tmp_path / "gantt.png"),
    ]
    assert all(is_png(p) for p in paths)


# --- tfcook.text ---------------------------------------------------------------------------------


def test_hyphenated_words_are_split_and_a_saved_vectorizer_keeps_doing_it(tmp_path):
    import keras
    import tensorflow as tf

    from tfcook.text import lower_and_split_hyphens

    texts = tf.constant(["A Sticky-Sweet , wince-inducing film -- really", "blue-light-special 11-year-old"])
    assert lower_and_split_hyphens(texts).numpy().tolist() == [
        b"a sticky - sweet , wince - inducing film -- really",  # "--" is SST-2's dash token: kept
        b"blue - light - special 11-year - old",  # a digit before the hyphen: not split there
    ]
    vectorizer = keras.layers.TextVectorization(standardize=lower_and_split_hyphens, split="whitespace")
    vectorizer.adapt(tf.constant(["sticky sweet - film"]))
    inputs = keras.Input(shape=(), dtype="string")
    keras.Model(inputs, vectorizer(inputs)).save(tmp_path / "v.keras")
    reloaded = keras.models.load_model(tmp_path / "v.keras")
    ids = reloaded(tf.constant(["Sticky-Sweet film"])).numpy()[0]
    assert (ids > 1).all() and len(ids) == 4, ids  # four known tokens, none OOV (1)
