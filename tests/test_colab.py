"""A Colab TPU runtime minus the TPU, built from scratch: Colab's Python (3.13) in a fresh venv outside
the checkout, JAX and Keras installed first as the runtime ships them, then the generated mnist
notebook executed as a user runs it: its first cell (the TPU branch forced with TFCOOK_ASSUME_TPU=1),
its install cell exactly as written except that it installs the wheel built from this checkout instead
of the repository URL, and the recipe's tiny config. This is also the test that tfcook's wheel installs
and runs away from the checkout."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import REPO, data_missing
from tfcook import notebook

COLAB_PYTHON = "3.13"
JAX_STACK = ("jax", "jaxlib", "ml_dtypes", "numpy", "keras")
VERSIONS = "import importlib.metadata as m, json, sys; print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
EXECUTE = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=900, kernel_name="python3").execute()
nbformat.write(nb, sys.argv[1])
"""


def colab_python() -> str:
    """Python 3.13 from pyenv's versions, else from PATH (a pyenv shim there fails unless that version is active)."""
    candidates = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{COLAB_PYTHON}*/bin/python{COLAB_PYTHON}")))
    candidates += [shutil.which(f"python{COLAB_PYTHON}") or ""]
    found = next((c for c in candidates if c and subprocess.run([c, "--version"], capture_output=True).returncode == 0), None)
    if not found:
        if os.environ.get("TFCOOK_REQUIRE_DATA"):
            pytest.fail(f"CI needs Python {COLAB_PYTHON} (Colab's) for the simulated TPU runtime")
        pytest.skip(f"no Python {COLAB_PYTHON} here")
    return found


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return proc


def versions(python: Path, names) -> dict:
    return json.loads(run(python, "-c", VERSIONS, *names).stdout)


def cell_text(cell) -> str:
    return "".join(out.get("text", "") + str(out.get("evalue", "")) for out in cell.outputs)


@pytest.mark.realdata  # trains on MNIST, and with its installs takes ~3 minutes: scheduled early
def test_the_mnist_notebook_on_a_simulated_colab_tpu_runtime_installs_beside_jax_and_trains_on_it(tmp_path):
    if not os.environ.get("TFDS_DATA_DIR"):
        data_missing("TFDS_DATA_DIR is not set")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path / "wheel", REPO)
    (wheel,) = (tmp_path / "wheel").glob("tfcook-*.whl")
    venv = tmp_path / "colab"
    run(colab_python(), "-m", "venv", venv)
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", "jax", "keras", "ipykernel", "nbclient")  # what the runtime has
    before = versions(python, JAX_STACK)

    nb = notebook.notebook_for(REPO / "recipes" / "mnist.py", tiny=True)
    (install,) = [cell for cell in nb.cells if "install" in cell.metadata.get("tags", [])]
    assert notebook.PIP_SOURCE in install.source
    install.source = install.source.replace(notebook.PIP_SOURCE, str(wheel))
    work = tmp_path / "content"  # Colab's working folder: not the checkout
    work.mkdir()
    path = work / "mnist.ipynb"
    nbformat.write(nb, str(path))
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "PYTHONPATH", "VIRTUAL_ENV")}
    run(python, "-c", EXECUTE, path, cwd=work, env={**env, "TFCOOK_ASSUME_TPU": "1"}, timeout=1500)

    ran = nbformat.read(str(path), as_version=4)
    devices = cell_text(next(cell for cell in ran.cells if "| devices:" in cell.source))
    assert f"Keras {before['keras']} on JAX {before['jax']}" in devices, devices
    printed = cell_text(next(cell for cell in ran.cells if "run" in cell.metadata.get("tags", [])))
    assert "test_accuracy" in printed, printed[-2000:]
    accuracy = float(printed.split("test_accuracy")[1].split()[0])
    assert 0.5 < accuracy <= 1.0, printed  # the tiny config: one epoch on 2,048 images
    assert versions(python, JAX_STACK) == before, "installing tfcook replaced part of the runtime's JAX stack"
    where = run(python, "-c", "import tfcook, tensorflow; print(tfcook.__file__)", cwd=work).stdout
    assert str(venv) in where and str(REPO) not in where  # the wheel's copy, not the checkout
    assert "mnist" in run(venv / "bin" / "tfcook", "list", cwd=work).stdout
