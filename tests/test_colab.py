"""Colab as it ships (`make colab-check`): each runtime image simulated from its package list
(colab/constraints-*.txt; see tests/colab_image.py), tfcook installed into it by the notebooks'
own first and install cells, then every tiny config and one notebook run there.

- CPU and GPU image (TensorFlow 2.20, Keras 3.13, JAX 0.7): every recipe's tiny config on
  TensorFlow, and the cnn notebook. (Its JAX stack is the TPU image's, which runs JAX below.)
- TPU image (JAX 0.7 and Keras 3.13, no TensorFlow): every portable recipe's tiny config with the
  backend the notebook's first cell picks on a TPU (its detection forced by TFCOOK_ASSUME_TPU=1),
  and the mnist notebook.

In the CPU/GPU image the recipes of test_resume.RESUMED are also killed inside their second epoch
or stage and started again, and must end as if never interrupted (their uninterrupted run is
their tiny run there).

Asserted: exit 0, finite metrics, the image's own versions in result.json, nothing of the image
replaced but what the install cell documents (notebook.REPLACES), and not a line of TensorFlow's,
absl's, protobuf's or CUDA's start-up notes before the recipe's own output. These are the suite's
tiny runs; the newest versions (the suite's own venv) run the real-data bars.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import zipfile
from pathlib import Path

import nbformat
import pytest

import colab_image as image
import test_resume as resumable
from conftest import PORTABLE, RECIPES, data_missing
from tfcook import notebook
from tfcook.results import finite_numbers

# On the CPU/GPU image the recipes that test_resume.RESUMED kills have their tiny run in that test.
RUNS = [("cpu-gpu", "tensorflow", name) for name in RECIPES if name not in resumable.RESUMED]
# The JAX stack is the same in both images (JAX 0.7.2, Keras 3.13.2, TensorFlow 2.20 for tf.data;
# the CPU/GPU image adds only the CUDA plugin, which a CPU can't load): it runs on the TPU image.
RUNS += [("tpu", "picked by the first cell", name) for name in PORTABLE]
NOTEBOOKS = {"cpu-gpu": "cnn", "tpu": "mnist"}
# What the image ships that a tiny run's result.json must name, per image.
STACK = ("keras", "jax", "numpy", "tensorflow-datasets")
# The stack's start-up notes: TensorFlow's C++ (CUDA probes, oneDNN, CPU features) and protobuf's.
START_UP = re.compile(r"cuInit|cudart_stub|cpu_feature_guard|oneDNN custom operations|Protobuf gencode version")
EXECUTE = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=900, kernel_name="python3").execute()
nbformat.write(nb, sys.argv[1])
"""


def shared_folder(tmp_path_factory) -> Path:
    """A folder all of this run's test workers share."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def colab(tmp_path_factory):
    """image -> (venv with tfcook installed by the notebook's cells, what the install printed)."""
    shared = shared_folder(tmp_path_factory)
    if image.python(image.header("cpu-gpu", "python")) is None and not os.environ.get("TFCOOK_REQUIRE_DATA"):
        pytest.skip(f"no Python {image.header('cpu-gpu', 'python')} here (Colab's): pyenv install it")
    done: dict[str, tuple[Path, dict]] = {}

    def get(name: str) -> tuple[Path, dict]:
        if name not in done:
            done[name] = installed(name, shared)
        return done[name]

    return get


def installed(name: str, shared: Path) -> tuple[Path, dict]:
    venv = shared / f"colab-{name}"
    with image.locked(shared / f"colab-{name}.lock"):
        record = venv / "install.json"
        if not record.exists():
            whl = image.wheel(shared / "wheel")
            pristine = image.pristine(name, whl)
            image.clone(pristine, venv)
            work = shared / f"content-{name}"  # Colab's working folder: not the checkout
            work.mkdir(exist_ok=True)
            code = image.first_cell("mnist") + "\n" + image.install_cell("mnist", whl)
            proc = subprocess.run([venv / "bin" / "python", "-c", code], cwd=work, env=image.env(name),
                                        capture_output=True, text=True, timeout=1800)
            result = {"returncode": proc.returncode, "stdout": proc.stdout,
                      "stderr": image.without_local_pip_notes(proc.stderr),
                      "before": json.loads((pristine / ".complete").read_text()), "after": image.freeze(venv)}
            record.write_text(json.dumps(result))
    return venv, json.loads(record.read_text())


@pytest.mark.parametrize("name", image.IMAGES)
def test_the_install_cell_adds_tfcook_and_replaces_only_what_it_documents(name, colab):
    venv, install = colab(name)
    assert install["returncode"] == 0, install["stdout"] + install["stderr"]
    before, after = install["before"], install["after"]
    image_pins = image.pins(name)
    assert {n: v for n, v in before.items() if n in image_pins} == {n: image_pins[n] for n in before if n in image_pins}
    replaced = {n for n in before if after.get(n) != before[n]}
    assert replaced <= set(notebook.REPLACES), {n: (before[n], after.get(n)) for n in replaced}
    # Whatever pip added must be new to the image too, or this simulation left out part of the image.
    added = set(after) - set(before)
    assert not added & set(image_pins), f"the simulated image lacks {sorted(added & set(image_pins))}, which Colab ships"
    assert "tensorflow" in added or name == "cpu-gpu"  # the TPU image has none: it comes as tf.data's library
    said = install["stdout"].strip().splitlines()[-1]
    assert said.startswith("tfcook installed;") and all(f"{n} {before[n]} -> {after[n]}" in said for n in replaced)
    assert not install["stderr"].strip(), install["stderr"]  # TensorFlow's start-up notes held back, pip content
    # The wheel carries the license, which a user who copies a recipe out of it needs.
    with zipfile.ZipFile(image.wheel(venv.parent / "wheel")) as wheel:
        names = wheel.namelist()
        assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names


def launcher(name: str, venv: Path, recipe: str, *args: str):
    """Starts `tfcook run RECIPE --tiny ARGS` in the image the way a notebook runs it: its first cell
    (TensorFlow's log level; on the TPU image the backend), then the runner."""
    def launch(out: Path) -> subprocess.Popen:
        argv = ["run", recipe, "--tiny", "--device=cpu", f"--out={out}", *args]
        code = image.first_cell(recipe) + f"\nimport sys\nfrom tfcook.cli import main\nsys.exit(main({argv!r}))"
        return subprocess.Popen([venv / "bin" / "python", "-c", code], env=image.env(name), cwd=out.parent,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    return launch


def check_tiny_run(name: str, backend: str, recipe: str, output: str, out: Path) -> None:
    """Clean output, finite metrics, and the image's own versions in result.json."""
    before_output = output.split(f"tfcook: {recipe} on cpu")[0]
    assert not before_output.strip(), before_output  # the recipe's output comes first
    assert not START_UP.findall(output), START_UP.findall(output)  # nor later (TFDS loads late)
    result = json.loads((out / "result.json").read_text())
    assert result["recipe"] == recipe and result["wall_time_s"] > 0
    assert result["metrics"] and finite_numbers(result["metrics"]), result["metrics"]
    assert result["device"]["requested"] == "cpu" and result["device"]["kind"] == "cpu"
    expected = "jax" if name == "tpu" else backend
    assert result["backend"]["name"] == expected
    ships = image.pins(name)
    versions = {image.normal(k): v for k, v in result["versions"].items()}
    for package in STACK + (("tensorflow",) if name == "cpu-gpu" else ()):
        if package in versions or package in ships:
            assert versions.get(package) == ships[package], (package, versions.get(package), ships[package])
    assert result["backend"]["version"] == versions[expected]
    assert result["versions"]["python"].rsplit(".", 1)[0] == image.header(name, "python")


def ready(name: str, colab) -> Path:
    if not os.environ.get("TFDS_DATA_DIR"):
        data_missing("TFDS_DATA_DIR is not set")
    venv, install = colab(name)
    assert install["returncode"] == 0, "the install cell failed: see test_the_install_cell_..."
    return venv


@pytest.mark.realdata  # reads MNIST and SST-2
@pytest.mark.parametrize("name, backend, recipe", RUNS, ids=[f"{i}-{b.split()[0]}-{r}" for i, b, r in RUNS])
def test_tiny_run_in_colabs_image(name, backend, recipe, colab, tmp_path):
    launch = launcher(name, ready(name, colab), recipe, *([] if name == "tpu" else [f"--backend={backend}"]))
    out = tmp_path / "out"
    check_tiny_run(name, backend, recipe, resumable.finish(launch(out)), out)


@pytest.mark.realdata
@pytest.mark.parametrize("recipe", resumable.RESUMED)
def test_killed_in_its_second_epoch_or_stage_a_run_in_colabs_image_ends_as_if_never_interrupted(recipe, colab, tmp_path):
    """A lost Colab runtime, in Colab's CPU/GPU image: the run killed with SIGKILL at a random moment
    inside its second epoch or stage, then the same command again, ends with the uninterrupted
    run's metrics (which also stands as the recipe's tiny run here)."""
    args, saved = resumable.RESUMED[recipe]
    launch = launcher("cpu-gpu", ready("cpu-gpu", colab), recipe, *args[1:], "--backend=tensorflow")
    whole, cut = tmp_path / "uninterrupted", tmp_path / "killed"
    check_tiny_run("cpu-gpu", "tensorflow", recipe, resumable.finish(launch(whole)), whole)
    resumable.killed_and_resumed(launch, whole, cut, saved)


@pytest.mark.realdata
@pytest.mark.parametrize("name", image.IMAGES)
def test_a_notebook_runs_end_to_end_in_colabs_image_with_clean_cells(name, colab, tmp_path):
    if not os.environ.get("TFDS_DATA_DIR"):
        data_missing("TFDS_DATA_DIR is not set")
    venv, install = colab(name)
    assert install["returncode"] == 0, "the install cell failed: see test_the_install_cell_..."
    recipe = NOTEBOOKS[name]
    nb = notebook.notebook_for(image.REPO / "recipes" / f"{recipe}.py", tiny=True)
    path = tmp_path / f"{recipe}.ipynb"  # run in a folder of its own, as /content is on Colab
    nbformat.write(nb, str(path))
    image.run(venv / "bin" / "python", "-c", EXECUTE, path, cwd=tmp_path, env=image.env(name), timeout=1500)

    ran = nbformat.read(str(path), as_version=4)
    printed = ["".join(o.get("text", "") + str(o.get("evalue", "")) for o in cell.get("outputs", [])) for cell in ran.cells]
    everything = "\n".join(printed)
    assert not START_UP.findall(everything), START_UP.findall(everything)
    assert "absl::InitializeLog" not in everything, everything[-3000:]
    assert "Warning" not in everything.split("| devices:")[0], everything[:3000]
    devices = next(text for cell, text in zip(ran.cells, printed) if "| devices:" in cell.source)
    ships = image.pins(name)
    backend = "JAX " + ships["jax"] if name == "tpu" else "TensorFlow " + ships["tensorflow"]
    assert f"Keras {ships['keras']} on {backend}" in devices, devices
    run_cell = next(text for cell, text in zip(ran.cells, printed) if "run" in cell.metadata.get("tags", []))
    assert "test_accuracy" in run_cell, run_cell[-2000:]
    files = Path(re.search(r"^Files: (.*)$", run_cell, re.M)[1])  # runs/RECIPE-<settings>: the same cells resume it
    assert files.parent == tmp_path / "runs" and files.name.startswith(f"{recipe}-"), files
    assert (files / f"{recipe}.keras").exists() and any((files / "tensorboard").rglob("events.*")), files
    assert float(run_cell.split("test_accuracy")[1].split()[0]) > 0.2  # tiny configs: one short epoch
