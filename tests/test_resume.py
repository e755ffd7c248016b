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

from conftest import data_missing, last_lines, tfcook
from tfcook import resume, results

TIMINGS = ("train_time_s", "time_s", "seconds", "ms")


def start(name: str, out: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tfcook", "run", name, "--out", str(out), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(proc: subprocess.Popen, timeout: float = 900) -> str:
    output = proc.communicate(timeout=timeout)[0]
    if proc.returncode == 2 and "TFDS_DATA_DIR" in output:
        data_missing(output.strip())
    assert proc.returncode == 0, output[-3000:]
    return output


def progress(out: Path) -> list[dict]:
    path = out / resume.FOLDER / resume.PROGRESS
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return []


def kill_inside_the_second_unit(name: str, out: Path, args: tuple[str, ...], second_unit_s: float) -> None:
    """Start the run and SIGKILL it at a random moment inside its second epoch or stage: after the
    first was saved, before the second is (checked afterwards from what was saved)."""
    proc = start(name, out, *args)
    while len(progress(out)) < 1 and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before saving its first epoch"
    time.sleep(random.uniform(0.05, 0.5) * second_unit_s)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(progress(out)) == 1, f"the kill landed after the second unit was saved: {progress(out)}"


def numbers(metrics, prefix: str = "") -> dict[str, float]:
    """Every number in nested metrics by its path, timings left out."""
    found = {}
    items = metrics.items() if isinstance(metrics, dict) else enumerate(metrics) if isinstance(metrics, list) else []
    for key, value in items:
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, (dict, list)):
            found.update(numbers(value, path))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and not any(t in str(key) for t in TIMINGS):
            found[path] = value
    return found


def resumed_against_uninterrupted(name: str, tmp_path: Path, *args: str) -> tuple[dict, dict, str]:
    whole, cut = tmp_path / "uninterrupted", tmp_path / "killed"
    finish(start(name, whole, *args))
    saved = progress(whole)
    assert len(saved) >= 2, saved
    kill_inside_the_second_unit(name, cut, args, saved[1]["time"] - saved[0]["time"])
    output = finish(start(name, cut, *args))
    first = json.loads((whole / "result.json").read_text())["metrics"]
    second = json.loads((cut / "result.json").read_text())["metrics"]
    return numbers(first), numbers(second), output


RESUMED = {
    # recipe: settings (a short run of at least two epochs or stages)
    "mnist": ("--tiny", "--epochs=2", "--train_examples=0"),
    "cnn": ("--tiny", "--epochs=2", "--train_examples=16384"),
}


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
@pytest.mark.parametrize("name", RESUMED)
def test_killed_in_the_second_epoch_and_run_again_it_ends_as_if_never_interrupted(name, backend, tmp_path):
    if backend == "jax" and name != "mnist":
        pytest.skip("JAX: mnist")
    first, second, output = resumed_against_uninterrupted(name, tmp_path, *RESUMED[name], f"--backend={backend}")
    assert "(resuming the unfinished run there)" in output and "resuming fit after epoch 1 of" in output, output[:2000]
    assert first == second


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


def test_writes_are_whole_or_absent(tmp_path):
    target = tmp_path / "result.json"
    results.write(target, {"metrics": {"a": 1}})
    with pytest.raises(ValueError):
        results.write(target, {"metrics": {"a": float("nan")}})  # fails while serializing: nothing written
    assert json.loads(target.read_text()) == {"metrics": {"a": 1}}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no temporary left behind
