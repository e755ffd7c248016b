"""`tfcook notebook`: every recipe becomes a valid notebook, and a few of them run end to end."""

from __future__ import annotations

import os
import re

import nbformat
import pytest

from conftest import RECIPES, REPO, data_missing, tfcook
from tfcook import notebook

EXECUTED = ["mnist", "quantize", "speech_rnn"]  # the issue asks for these two and one text or speech recipe


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


def test_the_cli_writes_notebooks_and_rejects_unknown_recipes(tmp_path):
    proc = tfcook("notebook", "mnist", "matmul", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["matmul.ipynb", "mnist.ipynb"]
    bad = tfcook("notebook", "mnsit", "--out", str(tmp_path))
    assert bad.returncode == 2 and "unknown recipe 'mnsit'; did you mean 'mnist'?" in bad.stderr


@pytest.mark.parametrize("tpu", [True, False])
def test_the_install_cell_picks_the_build_for_the_runtime(tpu, monkeypatch):
    """Run the install cell with pip recorded instead of run: on a TPU, tensorflow-tpu, then tfcook
    and tf-keras without dependencies, then tfcook's other requirements, never the CPU `tensorflow`."""
    import subprocess

    calls = []
    monkeypatch.setattr(subprocess, "run", lambda args, **kwargs: calls.append(args[args.index("-q") + 1 :]))
    exec(notebook.INSTALL, {"tpu_attached": lambda: tpu})
    if not tpu:
        assert calls == [["tfcook"]]
        return
    assert calls[0] == ["tensorflow-tpu==2.20.0"]
    assert calls[1] == ["--no-deps", "tfcook", "tf-keras==2.20.1"]
    rest = calls[2]
    names = {re.split(r"[ <>=!~;\[]", r, maxsplit=1)[0].lower() for r in rest}
    assert {"tensorflow-datasets", "tensorflow-model-optimization", "ai-edge-litert", "nbformat"} <= names
    assert not names & {"tensorflow", "tf-keras", "pytest"}  # no CPU TensorFlow, no test extras


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
    devices = [cell for cell in nb.cells if "list_physical_devices" in cell.source][0]
    assert "TensorFlow" in devices.outputs[0]["text"] and "CPU" in devices.outputs[0]["text"]
