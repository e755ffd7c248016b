"""Shared test helpers. Recipes run in their own process: Keras 3 and tf_keras (tfmot) recipes
can't share one, and a fresh process is what a user's `tfcook run` gets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tfcook.cli import backends_of, header_of

REPO = Path(__file__).resolve().parents[1]

# pytest-xdist runs one test per core here (two workers on two cores). A TensorFlow process sizes its
# intra-op pool to every core, so two of them oversubscribe the machine: measured on a cnn + speech_rnn
# pair, one thread each cut their summed test time 315 -> 281 s. Recipes run by a test inherit this.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    _threads = max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(_threads))
RECIPES = sorted(p.stem for p in (REPO / "recipes").glob("*.py") if not p.stem.startswith("_"))
# The recipes whose header says they run on the JAX backend too.
PORTABLE = [name for name in RECIPES if "jax" in backends_of(header_of(REPO / "recipes" / f"{name}.py"))[0]]


def tfcook(*args: str, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    """`python -m tfcook ARGS` in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "tfcook", *args], capture_output=True, text=True, timeout=timeout, **kwargs
    )


def data_missing(reason: str) -> None:
    """Skip a test whose dataset is absent, unless CI demands real data."""
    if os.environ.get("TFCOOK_REQUIRE_DATA"):
        pytest.fail(f"TFCOOK_REQUIRE_DATA is set but the data is missing: {reason}")
    pytest.skip(f"data missing ({reason})")


def last_lines(proc: subprocess.CompletedProcess, n: int = 40) -> str:
    return "\n".join((proc.stdout + proc.stderr).splitlines()[-n:])


@pytest.fixture(autouse=True)
def keras_backend_is_left_alone():
    """A test that sets KERAS_BACKEND in this process (a notebook cell run with exec) must undo it:
    every recipe started after it would inherit the backend (CI once ran the TF-only tiny runs on JAX)."""
    before = os.environ.get("KERAS_BACKEND")
    yield
    assert os.environ.get("KERAS_BACKEND") == before, "the test left KERAS_BACKEND changed for the tests after it"


@pytest.fixture
def run_recipe(tmp_path):
    """Run a recipe through the CLI and return its result.json (skips if its data is absent)."""

    def run(name: str, *args: str, timeout: float = 1200, env: dict[str, str] | None = None) -> dict:
        out = tmp_path / f"{name}-{len(list(tmp_path.iterdir()))}"
        proc = tfcook("run", name, "--out", str(out), *args, timeout=timeout, env={**os.environ, **(env or {})})
        if proc.returncode == 2 and "TFDS_DATA_DIR" in proc.stderr:
            data_missing(proc.stderr.strip())
        assert proc.returncode == 0, last_lines(proc)
        result = json.loads((out / "result.json").read_text())
        result["out"] = str(out)
        result["stderr"] = proc.stderr
        return result

    return run


def pytest_collection_modifyitems(items):
    """The Colab images' installs first (each builds an image, one per worker), then the real-data
    bars (1-7 minutes each), then the tiny runs in Colab's images, then the rest, each group in file
    order.

    With two workers fed one test at a time (`--dist=load --maxschedchunk=1` in pyproject.toml),
    the long tests start early and the short ones fill in around them; a long test that starts
    last keeps one core busy alone for minutes.
    """

    def group(item) -> int:
        if item.originalname == "test_the_install_cell_adds_tfcook_and_replaces_only_what_it_documents":
            return 0
        if item.get_closest_marker("realdata"):
            return 2 if item.module.__name__ == "test_colab" else 1
        return 3

    items.sort(key=group)
