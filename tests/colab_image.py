"""Colab's runtime images, simulated on this machine: a Python venv holding, at the image's versions
(colab/constraints-*.txt), every package of the image that installing tfcook leads to, then tfcook
installed into a copy of it by the notebooks' own first and install cells.

The pristine venv of an image is cached between runs in TFCOOK_COLAB_CACHE (default
~/.cache/tfcook/colab), keyed by the constraint file, tfcook's requirements, the Python and how it is built; a run of
the suite installs tfcook into one copy per image, shared by its test workers.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tfcook import notebook

REPO = Path(__file__).resolve().parents[1]
IMAGES = ("cpu-gpu", "tpu")
CACHE = Path(os.environ.get("TFCOOK_COLAB_CACHE") or Path.home() / ".cache" / "tfcook" / "colab")
# What a notebook needs to run in the image besides tfcook (Colab's image has them).
KERNEL = ("ipykernel", "nbclient", "jax", "keras")
# This machine's pip configuration names local indexes that don't exist; Colab's has none.
LOCAL_PIP_NOTE = re.compile(r"^WARNING: Location '.*' is ignored: it is neither a file nor a directory\.$")


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def constraints(image: str) -> Path:
    return REPO / "colab" / f"constraints-{image}.txt"


def header(image: str, key: str) -> str:
    """A field of the constraint file's header: source, date or python."""
    match = re.search(rf"^# {key}: (.*)$", constraints(image).read_text(), re.M)
    assert match, f"{constraints(image)} has no '# {key}:' line"
    return match[1]


def pins(image: str) -> dict[str, str]:
    """The image's packages: normalized name -> version."""
    lines = constraints(image).read_text().splitlines()
    return {normal(n): v for n, _, v in (line.partition("==") for line in lines if "==" in line)}


def python(version: str) -> str | None:
    """An interpreter of this Python version, from pyenv or PATH."""
    candidates = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}*/bin/python{version}")))
    candidates.append(shutil.which(f"python{version}") or "")
    ok = (c for c in candidates if c and subprocess.run([c, "--version"], capture_output=True).returncode == 0)
    return next(ok, None)


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, f"{' '.join(map(str, args))[:300]}\n" + (proc.stdout + proc.stderr)[-4000:]
    return proc


@contextlib.contextmanager
def locked(path: Path):
    """One process at a time (pytest-xdist's workers are processes) past this point."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def wheel(folder: Path) -> Path:
    """tfcook's wheel, built once into `folder`."""
    with locked(folder / ".lock"):
        built = sorted(folder.glob("tfcook-*.whl"))
        if not built:
            run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", folder, REPO)
            built = sorted(folder.glob("tfcook-*.whl"))
        return built[0]


def requirements(whl: Path) -> list[str]:
    with zipfile.ZipFile(whl) as archive:
        meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(meta).decode()
    return sorted(line.strip() for line in text.splitlines() if line.startswith("Requires-"))


def freeze(venv: Path) -> dict[str, str]:
    code = "import importlib.metadata as m, json; print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    return {normal(n): v for n, v in json.loads(run(venv / "bin" / "python", "-c", code).stdout).items()}


def pristine(image: str, whl: Path) -> Path:
    """A venv of the image's packages that installing tfcook (and running a notebook) touches, cached."""
    version = header(image, "python")
    interpreter = python(version)
    assert interpreter, f"Colab's Python {version} is needed to simulate its {image} image (pyenv install {version})"
    how = inspect.getsource(build)  # a change to how the venv is built makes a new one
    key = hashlib.sha256("\n".join([constraints(image).read_text(), *requirements(whl), version, how]).encode())
    venv = CACHE / f"{image}-{key.hexdigest()[:16]}"
    with locked(CACHE / f"{venv.name}.lock"):
        if not (venv / ".complete").exists():
            shutil.rmtree(venv, ignore_errors=True)
            build(image, interpreter, whl, venv)
            (venv / ".complete").write_text(json.dumps(freeze(venv), indent=1, sort_keys=True))
            for stale in CACHE.glob(f"{image}-*"):  # one venv per image: they take gigabytes
                if stale.is_dir() and stale != venv:
                    shutil.rmtree(stale, ignore_errors=True)
    return venv


def build(image: str, interpreter: str, whl: Path, venv: Path) -> None:
    """Install the image's own versions of the packages that installing tfcook (and running a
    notebook) resolves: the closure of their requirements in this venv, as far as the image has them."""
    run(interpreter, "-m", "venv", venv)
    image_pins = pins(image)
    wanted = closure(requirements(whl), header(image, "python")) | set(KERNEL) | {"pip", "setuptools", "wheel"}
    seed = sorted(n for n in wanted if n in image_pins)
    # uv installs the image (10 s against pip's 60-90 for the CPU/GPU one); the install cell that the
    # tests then run in a copy of it uses pip, as Colab does. Compiled to bytecode, as Colab's image
    # is: without it (uv's default, and PYTHONDONTWRITEBYTECODE may be set) every process of every
    # test compiles TensorFlow's Python again, 15 s where an import from .pyc files takes 4.
    run(shutil.which("uv") or Path(sys.executable).with_name("uv"), "pip", "install", "-q", "--compile-bytecode",
        "--python", venv / "bin" / "python", "-c", constraints(image), *seed, timeout=1800)


def closure(requires: list[str], python: str) -> set[str]:
    """The names of every distribution these requirement lines lead to (through what this venv has
    installed), with environment markers evaluated for `python` and no extras."""
    from importlib import metadata

    from packaging.requirements import Requirement

    env = {"python_version": python, "python_full_version": f"{python}.0", "extra": ""}
    found, todo = set(), [r.split(":", 1)[-1].strip() for r in requires if r.startswith("Requires-Dist")]
    while todo:
        req = Requirement(todo.pop())
        name = normal(req.name)
        if name in found or (req.marker and not req.marker.evaluate(env)):
            continue
        found.add(name)
        try:
            todo += metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:
            pass  # not installed here (a dependency of another platform's): the image decides
    return found


def clone(source: Path, target: Path) -> Path:
    """A copy of a venv that shares its files' storage (pip replaces files, never edits them)."""
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    run("cp", "-al", source, target)
    (target / ".complete").unlink(missing_ok=True)
    return target


def first_cell(recipe: str) -> str:
    """The notebook's first cell: TensorFlow's log level, and the backend on a TPU."""
    return notebook.notebook_for(REPO / "recipes" / f"{recipe}.py").cells[1].source


def install_cell(recipe: str, whl: Path) -> str:
    """The notebook's install cell as written, installing `whl` instead of the repository."""
    nb = notebook.notebook_for(REPO / "recipes" / f"{recipe}.py")
    (install,) = [cell for cell in nb.cells if "install" in cell.metadata.get("tags", [])]
    assert install.source == notebook.install_cell() and notebook.PIP_SOURCE in install.source
    return install.source.replace(notebook.PIP_SOURCE, str(whl))


def env(image: str) -> dict[str, str]:
    """The environment of a process in the image: no checkout, backend or venv of this suite."""
    keep = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "PYTHONPATH", "VIRTUAL_ENV")
            and not k.startswith(("PYTEST", "TFCOOK_ASSUME"))}
    return {**keep, **({"TFCOOK_ASSUME_TPU": "1"} if image == "tpu" else {})}


def without_local_pip_notes(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not LOCAL_PIP_NOTE.match(line.strip()))
