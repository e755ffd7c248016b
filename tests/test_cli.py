"""The runner as a user meets it: `tfcook list/show/run`, its errors and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import pytest

from conftest import REPO, RECIPES, tfcook
from tfcook import data
from tfcook.cli import CATEGORIES, HEADER_KEYS, README_END, README_START, splice_readme
from tfcook.errors import DataError


def assert_user_error(proc, *fragments):
    """Exit 2 and one sentence on stderr, without a traceback."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("tfcook: error:")]
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in errors[0]


def test_list_groups_every_recipe_by_category_with_summary_and_accelerator():
    proc = tfcook("list")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    groups = [line[:-1] for line in lines if line and not line.startswith(" ")]
    assert groups and set(groups) <= set(CATEGORIES) and groups == sorted(groups, key=CATEGORIES.index)
    assert lines[1].split() == ["recipe", "accelerator", "backends", "summary"]
    for name in RECIPES:
        (row,) = [line for line in lines if line.split() and line.split()[0] == name]
        assert "CPU" in row and "tensorflow" in row and len(row.split()) > 4
    assert sum("tensorflow, jax" in line for line in lines) >= 15  # the portable recipes


def test_list_json_has_every_header_field_of_every_recipe():
    proc = tfcook("list", "--json")
    assert proc.returncode == 0, proc.stderr
    entries = {entry["name"]: entry for entry in json.loads(proc.stdout)}
    assert sorted(entries) == RECIPES
    assert all(set(HEADER_KEYS) <= set(entry) for entry in entries.values())


def test_readme_recipe_tables_are_the_generated_ones():
    """The README's recipe tables come from the headers (`make readme`); a hand edit fails here."""
    readme = (REPO / "README.md").read_text()
    assert README_START in readme and README_END in readme
    assert splice_readme(readme) == readme, "the README's recipe tables differ from the headers: run `make readme`"


def test_show_lists_every_setting_with_type_default_and_comment():
    proc = tfcook("show", "mnist")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    (origin,) = [line for line in out.splitlines() if line.strip().startswith("origin: ")]
    assert "write a simple NN training program" in origin and "(catalog `mnist`)" in origin
    (epochs,) = [line.split(None, 3) for line in out.splitlines() if line.strip().startswith("epochs ")]
    assert epochs[1:3] == ["int", "5"] and "passes over the training set" in epochs[3]
    assert "--tiny (a smoke-test run): epochs=1" in out
    # Every setting of the recipe appears with a non-empty comment.
    rows = out.split("settings (")[1].split("--tiny")[0].splitlines()[3:]
    assert all(len(row.split(None, 3)) == 4 for row in rows if row.strip()), rows


def test_no_arguments_prints_usage():
    proc = tfcook()
    assert proc.returncode == 0 and "tfcook run NAME" in proc.stdout


USER_ERRORS = [
        (["run", "mnsit"], ["unknown recipe 'mnsit'; did you mean 'mnist'?"]),
        (["show", "nope"], ["unknown recipe 'nope'"]),
        (["frobnicate"], ["expected `list [--markdown|--json]`, `show NAME`, `run NAME [settings]` or `notebook NAME...`"]),
        (["list", "--html"], ["expected `list [--markdown|--json]`"]),
        (["run", "mnist", "--epoch=1"], ["unknown setting --epoch; did you mean --epochs?"]),
        (["run", "mnist", "--epochs=one"], ["--epochs expects an integer, got 'one'"]),
        (["run", "mnist", "--dropout=1.5"], ["--dropout must be at least 0 and below 1, got 1.5"]),
        # Settings many recipes share are checked by the runner, the same way for each.
        (["run", "mnist", "--seed=-1"], ["--seed must be between 0 and 4294967295 (a seed NumPy accepts), got -1"]),
        (["run", "kmeans", "--seed=4294967296"], ["--seed must be between 0 and 4294967295"]),
        (["run", "mnist", "--train_examples=100"], ["train_examples (100) must be 0 or at least batch_size (256)"]),
        (["run", "mnist", "--deskew=maybe"], ["--deskew expects true or false"]),
        (["run", "mnist", "--device=quantum"], ["--device must be one of auto, cpu, gpu, tpu"]),
        (["run", "mnist", "--device=tpu"], ["--device tpu: TensorFlow sees no TPU"]),
        (["run", "mnist", "stray"], ["unexpected argument 'stray'"]),
        (["run", "mnist", "--backend=torch"], ["--backend must be one of tensorflow, jax, got 'torch'"]),
        (["run", "mnist", "--backend"], ["--backend needs a value"]),
        (["run", "matmul", "--backend", "jax"], ["matmul is TensorFlow-only (the recipe is about tf.function", "can't run with --backend jax"]),
        (["run", "prune", "--backend=jax"], ["prune is TensorFlow-only (tfmot works with Keras 2"]),
        (["run", "mnist", "--backend=jax", "--device=tpu"], ["--device tpu: JAX sees no TPU"]),
        # Each value valid, together nothing to train on: caught by the runner, not the recipe (three ways it shows).
        (["run", "mnist", "--tiny", "--train_examples=0", "--batch_size=70000"],
         ["mnist has nothing to train on with --tiny --train_examples=0 --batch_size=70000", "a learning-rate schedule got 0 steps"]),
        (["run", "training_speed", "--tiny", "--batch_size=1000000"],
         ["training_speed has nothing to train on with --tiny --batch_size=1000000", "a metric saw no batch"]),
        (["run", "mixed_precision", "--tiny", "--train_examples=0", "--batch_size=100000"],
         ["mixed_precision has nothing to train on", "a training loop ran no step"]),
]
# Cases without a backend flag run one after another in one process (`tfcook.cli.main` called for
# each): every case started in a process of its own paid TensorFlow's start-up 20 times over.
BATCHED = [args for args, _ in USER_ERRORS if not any(a.startswith("--backend") for a in args)]
BATCH = """
import contextlib, io, json, sys
from tfcook import cli
cases, found = json.loads(sys.argv[1]), []
for argv in cases:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except BaseException as exc:  # a bug: the test shows it
            code, err = 1, io.StringIO(f"Traceback: {exc!r}")
    found.append({"returncode": code, "stdout": "", "stderr": err.getvalue()})
open(sys.argv[2], "w").write(json.dumps(found))
"""


@pytest.fixture(scope="module")
def batched(tmp_path_factory):
    folder = tmp_path_factory.mktemp("user-errors")
    cases = [args + (["--out", str(folder / str(i))] if args[0] == "run" else []) for i, args in enumerate(BATCHED)]
    proc = subprocess.run([sys.executable, "-c", BATCH, json.dumps(cases), str(folder / "found.json")],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [types.SimpleNamespace(**found) for found in json.loads((folder / "found.json").read_text())]


@pytest.mark.parametrize("args, fragments", USER_ERRORS)
def test_user_errors_exit_2_with_one_sentence(args, fragments, tmp_path, batched):
    if args in BATCHED:
        proc = batched[BATCHED.index(args)]
    else:
        proc = tfcook(*args, "--out", str(tmp_path)) if args[0] == "run" else tfcook(*args)
    assert_user_error(proc, *fragments)


def test_asking_for_a_missing_gpu_is_an_error(tmp_path):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    assert_user_error(tfcook("run", "mnist", "--tiny", "--device=gpu", "--out", str(tmp_path)), "--device gpu: TensorFlow sees no GPU")


def test_missing_dataset_names_tfds_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(data, "_can_download", lambda: False)
    with pytest.raises(DataError) as err:
        data.load("mnist", "train")
    assert f"'mnist' is not in {tmp_path}" in str(err.value)
    assert "set TFDS_DATA_DIR" in str(err.value)


def test_missing_dataset_exits_2_from_the_cli(tmp_path):
    if data._can_download():
        pytest.skip("this machine can download MNIST, so it is never missing")
    env = {**__import__("os").environ, "TFDS_DATA_DIR": str(tmp_path / "empty")}
    proc = tfcook("run", "mnist", "--tiny", "--out", str(tmp_path / "out"), env=env)
    assert_user_error(proc, "dataset 'mnist' is not in", "set TFDS_DATA_DIR")


def test_unknown_dataset_is_a_data_error():
    with pytest.raises(DataError, match="no dataset named 'not_a_dataset'"):
        data.load("not_a_dataset", "train")


def test_keras_backend_from_the_environment_is_honoured_and_checked(tmp_path):
    import os

    env = {**os.environ, "KERAS_BACKEND": "jax"}
    assert_user_error(tfcook("run", "distributed", "--out", str(tmp_path), env=env), "distributed is TensorFlow-only", "KERAS_BACKEND=jax")


def test_every_recipe_header_names_its_backends():
    from tfcook.cli import backends_of, header_of

    for name in RECIPES:
        supported, note = backends_of(header_of(REPO / "recipes" / f"{name}.py"))
        assert supported in (["tensorflow"], ["tensorflow", "jax"]), (name, supported)
        if supported == ["tensorflow"]:
            assert note, f"{name}: a TensorFlow-only recipe says why"


def test_ctrl_c_during_a_run_exits_130_in_one_line_naming_what_was_written(tmp_path):
    """SIGINT mid-training: exit 130 (as a shell reports a process stopped by Ctrl-C), one line, no traceback."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tfcook", "run", "mnist", "--epochs=50", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    # TensorBoard's first event file exists once fit() has started: Ctrl-C lands mid-training.
    deadline = time.time() + 300
    while not list(out.glob("tensorboard/**/events.out.tfevents.*")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.5)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    if proc.returncode == 2 and "TFDS_DATA_DIR" in stderr:
        pytest.skip("MNIST missing")
    assert proc.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr[-2000:]
    lines = [line for line in stderr.splitlines() if line.startswith("tfcook:")]
    assert lines == [f"tfcook: interrupted: mnist stopped by Ctrl-C; what it wrote so far is in {out}, "
                     f"and the same command with --out {out} resumes it"], stderr[-2000:]
    assert not (out / "result.json").exists()
