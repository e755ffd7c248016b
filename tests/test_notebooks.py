"""`tfcook notebook`: every recipe becomes a valid notebook, and a few of them run end to end."""

from __future__ import annotations

import json
import os
import re
import sys
import types

import nbformat
import pytest

from conftest import RECIPES, REPO, data_missing, tfcook
from tfcook import notebook

# Here at the newest versions: quantize's (tf_keras and tfmot in a notebook). tests/test_colab.py runs
# cnn's (TensorFlow) and mnist's (JAX) in Colab's images.
EXECUTED = ["quantize"]


@pytest.mark.parametrize("name", RECIPES)
def test_every_recipe_makes_a_valid_notebook(name):
    nb = notebook.notebook_for(REPO / "recipes" / f"{name}.py")
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    tags = [cell.metadata.get("tags", []) for cell in nb.cells]
    assert tags.count(["install"]) == 1 and tags.count(["run"]) == 1
    code = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    assert "def run(" in code and "class Config" in code
    assert "__main__" not in code and "def main(" not in code
    compile(code.replace("from __future__ import annotations\n", ""), name, "exec")  # every cell is Python


TUTORIAL = '''"""Title

Summary: what it shows
"""

import os

LIMIT = 3  # a constant

# --- data ---------------------------------------------------------------------


"""## Load the data

Why it is loaded this way.
"""


# the comment above load
def load():
    return LIMIT


def main():
    return 0


if __name__ == "__main__":
    main()
'''


def test_prose_blocks_and_section_banners_become_markdown_cells_between_the_code():
    import ast

    cells = notebook.cell_sources(TUTORIAL, ast.parse(TUTORIAL))
    assert cells == [
        ("code", "import os"),
        ("code", "LIMIT = 3  # a constant"),
        ("markdown", "## Data"),
        ("markdown", "## Load the data\n\nWhy it is loaded this way."),
        ("code", "# the comment above load\ndef load():\n    return LIMIT"),
    ]


def test_a_closing_notes_block_comes_after_the_run_and_its_figures(tmp_path):
    recipe = tmp_path / "example.py"
    recipe.write_text(TUTORIAL.replace("def main():", '"""## Notes\n\nVariants tried."""\n\n\ndef main():'))
    nb = notebook.notebook_for(recipe)
    assert nb.cells[-1].cell_type == "markdown" and nb.cells[-1].source == "## Notes\n\nVariants tried."
    assert [c.metadata.get("tags") for c in nb.cells].index(["run"]) < len(nb.cells) - 1


@pytest.mark.parametrize("name", RECIPES)
def test_the_committed_notebook_is_the_generated_one(name, tmp_path):
    """notebooks/ is committed (the README's Colab links open it on GitHub) and must follow the recipe."""
    committed = REPO / "notebooks" / f"{name}.ipynb"
    assert committed.exists(), f"notebooks/{name}.ipynb is missing: run `make notebooks` and commit it"
    generated = notebook.write(name, REPO / "recipes" / f"{name}.py", tmp_path)
    assert committed.read_text() == generated.read_text(), f"notebooks/{name}.ipynb differs from its recipe: run `make notebooks`"
    assert not any(cell.get("outputs") for cell in json.loads(committed.read_text())["cells"])  # committed without outputs


def test_the_cli_writes_notebooks_and_rejects_unknown_recipes(tmp_path):
    proc = tfcook("notebook", "mnist", "matmul", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["matmul.ipynb", "mnist.ipynb"]
    bad = tfcook("notebook", "mnsit", "--out", str(tmp_path))
    assert bad.returncode == 2 and "unknown recipe 'mnsit'; did you mean 'mnist'?" in bad.stderr


def dists(versions: dict[str, str]) -> list:
    """Stand-ins for importlib.metadata.distributions(): name and version."""
    return [types.SimpleNamespace(metadata={"Name": name}, version=version) for name, version in versions.items()]


IMAGE = {"numpy": "2.1.3", "keras": "3.13.2", "tensorflow": "2.20.0", "attrs": "26.1.0", "tensorflow_metadata": "1.21.0",
         "libtpu": "0.0.21.1", "odd": "not a version"}


def run_install_cell(monkeypatch, tmp_path, before: dict, after: dict | None = None) -> list[list[str]]:
    """The install cell on a runtime with the packages `before`, pip recorded instead of run (leaving `after`)."""
    import importlib.metadata
    import subprocess

    calls, states, real_run = [], [dists(before), dists(after or before)], subprocess.run

    def fake_pip(args, **kwargs):
        if args[1:3] != ["-m", "pip"]:  # importing TensorFlow runs commands of its own
            return real_run(args, **kwargs)
        calls.append([str(a) for a in args[args.index("-q") + 1 :]])
        states.pop(0)
        return types.SimpleNamespace(returncode=0)

    monkeypatch.setattr(importlib.metadata, "distributions", lambda: states[0])
    monkeypatch.setattr(subprocess, "run", fake_pip)
    monkeypatch.chdir(tmp_path)
    exec(notebook.install_cell(), {})
    return calls


def test_the_install_cell_holds_every_package_of_the_runtime_but_the_documented_ones(monkeypatch, tmp_path, capsys):
    after = {**IMAGE, "attrs": "23.2.0", "tensorflow_metadata": "1.17.3", "tfcook": "0.1.0"}
    calls = run_install_cell(monkeypatch, tmp_path, IMAGE, after)
    assert notebook.PIP_SOURCE == f"tfcook @ git+https://github.com/{notebook.REPOSITORY}"  # tfcook is not on PyPI
    assert calls == [["-c", "runtime-packages.txt", notebook.PIP_SOURCE]]
    held = (tmp_path / "runtime-packages.txt").read_text().split()
    assert held == ["numpy==2.1.3", "keras==3.13.2", "tensorflow==2.20.0", "libtpu==0.0.21.1"]  # no attrs, metadata, odd
    said = capsys.readouterr().out
    assert said.startswith("tfcook installed; attrs 26.1.0 -> 23.2.0 (dp-accounting pins attrs < 24)"), said
    assert "tensorflow-metadata 1.21.0 -> 1.17.3" in said


def test_the_install_cell_stops_in_one_sentence_when_pip_replaced_anything_else(monkeypatch, tmp_path):
    with pytest.raises(SystemExit, match=r"installing tfcook replaced \{'numpy': '2.1.3 -> 2.0.0'\}, which it should not"):
        run_install_cell(monkeypatch, tmp_path, IMAGE, {**IMAGE, "numpy": "2.0.0", "tfcook": "0.1.0"})


def test_on_a_runtime_older_than_tfcooks_bounds_the_install_cell_stops_before_pip(monkeypatch, tmp_path):
    # Colab's 2026-08-14 image (Python 3.12) ships NumPy 2.0.2; an older one TensorFlow 2.19.
    older = {**IMAGE, "numpy": "2.0.2", "tensorflow": "2.19.0"}
    with pytest.raises(SystemExit) as stop:
        assert run_install_cell(monkeypatch, tmp_path, older) == []
    assert str(stop.value) == (
        "tfcook needs tensorflow <2.22,>=2.20 (this runtime has 2.19.0); numpy >=2.1 (this runtime has 2.0.2): "
        "pick another runtime version (Runtime > Change runtime type), or install tfcook in a runtime that has these"
    )


def test_with_tfcook_installed_the_install_cell_only_starts_tensorflow(monkeypatch, tmp_path):
    assert run_install_cell(monkeypatch, tmp_path, {**IMAGE, "tfcook": "0.1.0"}) == []
    assert "tensorflow" in sys.modules


@pytest.mark.parametrize("name, portable", [("mnist", True), ("matmul", False)])
def test_on_a_tpu_the_first_cell_picks_jax_or_says_to_use_a_gpu_runtime(name, portable, monkeypatch):
    monkeypatch.setenv("TFCOOK_ASSUME_TPU", "1")
    # setenv first, so that monkeypatch restores the variable the cell sets (delenv of an unset one records nothing)
    monkeypatch.setenv("KERAS_BACKEND", "unset")
    monkeypatch.delenv("KERAS_BACKEND")
    nb = notebook.notebook_for(REPO / "recipes" / f"{name}.py")
    first = nb.cells[1].source
    if portable:
        exec(first, {})
        assert __import__("os").environ["KERAS_BACKEND"] == "jax"
        assert nb.metadata.accelerator == "TPU"
    else:
        with pytest.raises(SystemExit, match="matmul needs the TensorFlow backend, which has no working TPU build on Colab: pick a GPU runtime"):
            exec(first, {})
        assert nb.metadata.accelerator == "GPU"


def test_tpu_detection_reads_the_pci_ids(tmp_path, monkeypatch):
    import glob

    namespace = {}
    exec(notebook.RUNTIME, namespace)
    for i, (vendor, device) in enumerate([("0x8086", "0x0063"), ("0x1ae0", "0x0063")]):
        folder = tmp_path / str(i)
        folder.mkdir()
        (folder / "vendor").write_text(vendor + "\n")
        (folder / "device").write_text(device + "\n")
    monkeypatch.setattr(glob, "glob", lambda pattern: [str(tmp_path / "0" / "vendor")])
    assert namespace["tpu_attached"]() is False  # an Intel device with a TPU-like id
    monkeypatch.setattr(glob, "glob", lambda pattern: [str(tmp_path / "0" / "vendor"), str(tmp_path / "1" / "vendor")])
    assert namespace["tpu_attached"]() is True  # Google's vendor id with the v5e id


@pytest.mark.parametrize("name", EXECUTED)
def test_generated_notebook_runs_the_tiny_config(name, tmp_path):
    from nbclient import NotebookClient

    if not os.environ.get("TFDS_DATA_DIR"):
        data_missing("TFDS_DATA_DIR is not set")
    nb = notebook.notebook_for(REPO / "recipes" / f"{name}.py", tiny=True)
    nb.cells = [cell for cell in nb.cells if "install" not in cell.metadata.get("tags", [])]  # tfcook is installed
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    (run_cell,) = [cell for cell in nb.cells if "run" in cell.metadata.get("tags", [])]
    assert "Config.tiny()" in run_cell.source
    printed = "".join(output.get("text", "") for output in run_cell.outputs)
    assert "test_accuracy" in printed or "accuracy" in printed, printed[-2000:]
    devices = [cell for cell in nb.cells if "| devices:" in cell.source][0]
    assert "on TensorFlow" in devices.outputs[0]["text"] and "CPU" in devices.outputs[0]["text"]
