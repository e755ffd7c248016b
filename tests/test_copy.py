"""A recipe copied alone into another project runs there, with only tfcook installed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from conftest import REPO, data_missing, last_lines


def test_mnist_copied_into_an_empty_folder_runs_and_restarts_itself_on_the_asked_backend(tmp_path):
    """The script imports Keras (on TensorFlow) before it reads `--backend jax`: it runs again on JAX."""
    shutil.copy(REPO / "recipes" / "mnist.py", tmp_path / "mnist.py")
    proc = subprocess.run(
        [sys.executable, "mnist.py", "--tiny", "--epochs=1", "--batch_size=64", "--out", "out", "--backend", "jax"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    if proc.returncode == 2 and "TFDS_DATA_DIR" in proc.stderr:
        data_missing(proc.stderr.strip())
    assert proc.returncode == 0, last_lines(proc)
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["recipe"] == "mnist" and result["config"]["batch_size"] == 64
    assert result["backend"]["name"] == "jax" and result["argv"][-2:] == ["--backend", "jax"]
    assert (tmp_path / "out" / "mnist.keras").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mnist.py", "out"]
