"""A run survives a lost runtime: killed with SIGKILL at a random moment inside its second epoch
(or stage) and started again with the same command, it ends with the metrics of an uninterrupted
run. Also: checkpoints cut off mid-write, folders holding a finished run or another run's
settings, and the runner's checks of settings every recipe shares."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import data_missing, tfcook
from tfcook import resume, results

TIMINGS = ("train_time_s", "time_s", "seconds", "ms", "time_ratio", "latency", "faster_x")
# Recipes killed in the test suite and what they run: a short config of at least two epochs or
# stages, and how many epochs or stages are saved before the kill (it lands inside the next one).
# They run in Colab's CPU/GPU image (tests/test_colab.py: the uninterrupted run is their tiny run
# there) and mnist's on JAX here, at the newest versions too.
RESUMED = {
    "mnist": (("--tiny", "--epochs=2", "--train_examples=16384", "--batch_size=32"), 1),
    "cnn": (("--tiny", "--epochs=2", "--train_examples=8192"), 1),
    # gan: the judge's epoch, then the GAN's first.
    "gan": (("--tiny", "--epochs=2", "--train_examples=2048"), 2),
    "transformer": (("--tiny", "--epochs=2", "--train_examples=8192"), 1),
    "dp_sgd": (("--tiny", "--epochs=2", "--train_examples=8192"), 1),
    "transfer_learning": (("--tiny", "--labels_per_class=3,10"), 1),  # pretraining, then one stage per N
    "optimizers": (("--tiny",), 1),  # one stage per optimizer's sweep
}
# Metrics a resumed run changes on purpose: DP-SGD charges the interrupted run's noisy steps too.
CHARGED = ("epsilon", "epsilon_rdp", "steps_charged")


def progress(out: Path) -> list[dict]:
    path = out / resume.FOLDER / resume.PROGRESS
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return []


def finish(proc: subprocess.Popen, timeout: float = 900) -> str:
    output = proc.communicate(timeout=timeout)[0]
    if proc.returncode == 2 and "TFDS_DATA_DIR" in output:
        data_missing(output.strip())
    assert proc.returncode == 0, output[-3000:]
    return output


def kill_inside(launch, out: Path, saved: int, unit_s: float) -> None:
    """Start the run and SIGKILL it at a random moment inside the epoch or stage after the first
    `saved` ones: after those were saved and before the next is (checked from what was saved)."""
    proc = launch(out)
    while len(progress(out)) < saved and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before saving what the kill should follow"
    time.sleep(random.uniform(0.05, 0.3) * unit_s)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(progress(out)) == saved, f"the kill landed after the next unit was saved: {progress(out)}"


def numbers(metrics, prefix: str = "") -> dict[str, float]:
    """Every number in nested metrics by its path, timings and charged privacy left out."""
    found = {}
    items = metrics.items() if isinstance(metrics, dict) else enumerate(metrics) if isinstance(metrics, list) else []
    for key, value in items:
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, (dict, list)):
            found.update(numbers(value, path))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and not any(t in str(key) for t in TIMINGS + CHARGED):
            found[path] = value
    return found


def killed_and_resumed(launch, whole: Path, cut: Path, saved: int) -> tuple[dict, str]:
    """Given an uninterrupted run in `whole`: kill the same run inside its next unit in `cut`,
    start it again, and assert it ends with the uninterrupted run's numbers. Returns its result
    and what the resumed run printed."""
    times = [p["time"] for p in progress(whole)]
    assert len(times) > saved, f"the run saves {len(times)} epochs or stages, not more than {saved}"
    kill_inside(launch, cut, saved, times[saved] - times[saved - 1])
    output = finish(launch(cut))
    assert "(resuming the unfinished run there)" in output, output[:2000]
    first = json.loads((whole / "result.json").read_text())
    second = json.loads((cut / "result.json").read_text())
    assert numbers(second["metrics"]) == numbers(first["metrics"])
    if "steps_charged" in first["metrics"] and first["metrics"]["epsilon"] is not None:
        # Every noisy step counts: the killed run's steps after its last checkpoint, charged in advance.
        assert second["metrics"]["steps_charged"] > first["metrics"]["steps_charged"] == first["metrics"]["steps"]
        assert second["metrics"]["epsilon"] > first["metrics"]["epsilon"]
    return second, output


def launcher(name: str, *args: str):
    def launch(out: Path) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "tfcook", "run", name, "--out", str(out), *args],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    return launch


@pytest.mark.realdata  # MNIST
def test_on_jax_mnist_killed_in_its_second_epoch_ends_as_if_never_interrupted(tmp_path):
    args, saved = RESUMED["mnist"]
    launch = launcher("mnist", *args, "--backend=jax")
    finish(launch(tmp_path / "uninterrupted"))
    _, output = killed_and_resumed(launch, tmp_path / "uninterrupted", tmp_path / "killed", saved)
    assert "resuming fit after epoch 1 of 2" in output


# --- the run folder ------------------------------------------------------------------------------


def test_a_folder_with_a_finished_run_is_never_written_over(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "result.json").write_text('{"recipe": "regression"}')
    proc = tfcook("run", "regression", "--tiny", "--out", str(out))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (f"tfcook: error: {out} holds a finished run (result.json), which a new run would "
                                   "overwrite: give another --out, or delete that folder to run again")
    assert (out / "result.json").read_text() == '{"recipe": "regression"}'


def test_an_unfinished_run_with_other_settings_is_refused_naming_them(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / resume.RUN_FILE).write_text(json.dumps({"recipe": "regression", "settings": {"seed": 0, "epochs": 3}}))
    with pytest.raises(Exception, match=r"holds an unfinished regression run with other settings \(epochs=3 there, "
                                        r"None now; seed=0 there, 1 now\)"):
        resume.claim(out, "regression", {"seed": 1})
    with pytest.raises(Exception, match="holds an unfinished run of regression, not mnist"):
        resume.claim(out, "mnist", {"seed": 0, "epochs": 3})
    assert resume.claim(out, "regression", {"seed": 0, "epochs": 3}) is True


def test_a_checkpoint_cut_off_mid_write_is_set_aside_for_the_one_before(tmp_path, capsys):
    import keras

    results.use(tmp_path)
    resume.claim(tmp_path, "regression", {"seed": 0})  # a run's folder, as the runner makes it
    weights = [keras.Variable(np.zeros(3)), keras.Variable(np.zeros((2, 2)))]
    for epoch in (1, 2):
        for w in weights:
            w.assign(np.full(w.shape, float(epoch)))
        resume.save("fit", weights, epoch=epoch)
    latest = tmp_path / resume.FOLDER / "fit.npz"
    latest.write_bytes(latest.read_bytes()[: latest.stat().st_size // 2])  # a lost disk's half file
    for w in weights:
        w.assign(np.zeros(w.shape))
    assert resume.load("fit", weights) == {"epoch": 1}
    assert all(np.all(w.numpy() == 1.0) for w in weights)
    assert "is damaged or from another model; using the one before it" in capsys.readouterr().out


def test_outside_a_claimed_folder_nothing_is_read_back(tmp_path):
    """`run()` called twice in one session (no runner, no run_in) trains twice: the second call
    must not continue the first's checkpoints or skip its stages."""
    import keras

    results.use(tmp_path)
    weights = [keras.Variable(np.ones(3))]
    resume.save("fit", weights, epoch=1)
    assert resume.stage("sweep", lambda: 1) == 1
    resume.remember("charged", 5)
    assert resume.load("fit", weights) is None
    assert resume.stage("sweep", lambda: 2) == 2 and resume.recall("charged", 0) == 0
    resume.claim(tmp_path, "regression", {"seed": 0})
    assert resume.load("fit", weights) == {"epoch": 1} and resume.stage("sweep", lambda: 3) == 2
    assert resume.load("fit", [keras.Variable(np.ones(4))]) is None  # another model's shapes


def test_writes_are_whole_or_absent(tmp_path):
    target = tmp_path / "result.json"
    results.write(target, {"metrics": {"a": 1}})
    with pytest.raises(ValueError):
        results.write(target, {"metrics": {"a": float("nan")}})  # fails while serializing: nothing written
    assert json.loads(target.read_text()) == {"metrics": {"a": 1}}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no temporary left behind
