"""A recipe file as a Colab/Jupyter notebook, the way keras-io turns its example scripts into notebooks.

    tfcook notebook NAME... | --all [--out DIR] [--tiny]

Cells: the docstring as Markdown; a cell that detects a TPU runtime and there sets KERAS_BACKEND=jax
(or, for a TensorFlow-only recipe, says in one sentence to pick a GPU runtime); an install cell
(tagged "install"); the recipe's code split at its top-level definitions; a cell that prints the
backend and the devices it sees (and says so when a TPU is attached that JAX can't use);
`result = run(Config())` (tagged "run"); and a cell that shows the PNGs the run wrote.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

# Where release notebooks are published (the README's "Open in Colab" links point here).
REPOSITORY = "tfcook/tfcook"
NOTEBOOK_FOLDER = "notebooks"
# The documentation site (`make site`), as GitHub Pages serves it for REPOSITORY.
SITE_URL = "https://{}.github.io/{}/".format(*REPOSITORY.split("/"))

# Colab's TPU runtime (a v5e-1, Python 3.13) ships JAX and Keras 3 and no TensorFlow, and no
# tensorflow-tpu build works with its JAX (googlecolab/colabtools#5164, #5174, #5419). So on a TPU the
# notebook runs Keras on the JAX backend: the first cell sets KERAS_BACKEND before anything imports
# Keras, and the install cell adds tfcook with TensorFlow as a CPU library (tf.data, TFDS).
PIP_SOURCE = f"tfcook @ git+https://github.com/{REPOSITORY}"  # not on PyPI yet: install from the repository

# What installing tfcook replaces in Colab's images (colab/constraints-*.txt, checked in CI by
# tests/test_colab.py), and why; the install cell holds every other package to the image's version.
REPLACES = {
    "attrs": "dp-accounting pins attrs < 24",
    "tensorflow-metadata": "1.21 needs protobuf >= 6.31.1 without saying so, tensorflow/metadata#68",
}

RUNTIME = """\
import glob, os, pathlib

# TensorFlow's C++ notes below errors stay out of the cells, as `tfcook run` keeps them out of a terminal.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def tpu_attached():
    \"\"\"True on a TPU runtime: Google's PCI vendor id with a TPU device id (v2/v3 .. v6e), read the
    way JAX does, so it works before anything is installed. TFCOOK_ASSUME_TPU=1 forces it (tests).\"\"\"
    if os.environ.get("TFCOOK_ASSUME_TPU") == "1":
        return True
    tpu_ids = {"0x0027", "0x005e", "0x0062", "0x0063", "0x006f"}
    for vendor in glob.glob("/sys/bus/pci/devices/*/vendor"):
        device = pathlib.Path(vendor).with_name("device")
        if pathlib.Path(vendor).read_text().strip() == "0x1ae0" and device.read_text().strip() in tpu_ids:
            return True
    return False


"""

# The rest of the first cell, by what the recipe's header says it runs on.
ON_TPU_PORTABLE = """\
if tpu_attached():
    os.environ["KERAS_BACKEND"] = "jax"  # before any Keras import: JAX is how Keras reaches this TPU
"""

ON_TPU_TENSORFLOW_ONLY = """\
if tpu_attached():
    raise SystemExit("{name} needs the TensorFlow backend, which has no working TPU build on Colab: "
                     "pick a GPU runtime (Runtime > Change runtime type).")
"""

INSTALL = """\
# Install tfcook beside what this runtime ships: every package it has is held to its version except
# the few that tfcook's dependencies replace (REPLACES says why), and the cell checks afterwards that
# nothing else changed. Then TensorFlow starts, its start-up notes held back.
import importlib.metadata, re, subprocess, sys

SOURCE = "{source}"
REPLACES = {replaces}
# tfcook's bounds on Python and on packages a runtime may already have.
NEEDS = {needs}


try:
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version
except ImportError:  # pip carries its own copy
    from pip._vendor.packaging.specifiers import SpecifierSet
    from pip._vendor.packaging.version import InvalidVersion, Version


def installed():
    dists = importlib.metadata.distributions()
    return {{re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower(): d.version for d in dists}}


def pinnable(version):
    try:
        Version(version)
    except InvalidVersion:
        return False
    return True


def outside_bounds(have):
    have = {{**have, "python": ".".join(map(str, sys.version_info[:3]))}}
    return [f"{{n}} {{need}} (this runtime has {{have[n]}})" for n, need in NEEDS.items()
            if n in have and n not in REPLACES and not SpecifierSet(need).contains(have[n], prereleases=True)]


if "tfcook" not in installed():
    before = installed()
    if outside_bounds(before):
        raise SystemExit(f"tfcook needs {{'; '.join(outside_bounds(before))}}: pick another runtime version "
                         "(Runtime > Change runtime type), or install tfcook in a runtime that has these")
    held = "".join(f"{{n}}=={{v}}\\n" for n, v in before.items() if n not in REPLACES and pinnable(v))
    with open("runtime-packages.txt", "w") as pins:
        pins.write(held)
    if subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-c", pins.name, SOURCE]).returncode:
        raise SystemExit("pip could not install tfcook beside this runtime's packages (its message is above)")
    after = installed()
    changed = {{n: f"{{v}} -> {{after.get(n, 'removed')}}" for n, v in before.items() if after.get(n) != v}}
    unexpected = {{n: change for n, change in changed.items() if n not in REPLACES}}
    if unexpected:
        raise SystemExit(f"installing tfcook replaced {{unexpected}}, which it should not have: restart the runtime "
                         "(Runtime > Disconnect and delete runtime) and report it")
    print("tfcook installed;", "; ".join(f"{{n}} {{c}} ({{REPLACES[n]}})" for n, c in changed.items()) or "nothing replaced")

from tfcook import startup

with startup.quiet():
    try:
        import tensorflow
    except Exception as err:
        raise SystemExit(f"TensorFlow does not import in this runtime ({{err}}): please report it") from None
    startup.list_devices()
"""


RUN = """\
# Runs are kept on Google Drive when it is mounted, where they outlive the runtime (to mount it:
# from google.colab import drive; drive.mount("/content/drive")). After a lost runtime, run the
# cells again: the run resumes after its last finished epoch.
drive = pathlib.Path("/content/drive/MyDrive")
runs = drive / "tfcook-runs" if drive.is_dir() else pathlib.Path("runs")
config = {config}
result = tfcook.resume.run_in(runs, {name!r}, run, config)
print(tfcook.results.format_metrics(result))
"""


def install_cell(source: str = PIP_SOURCE) -> str:
    """The install cell, installing tfcook from `source` (the repository; tests use a wheel)."""
    return INSTALL.format(source=source, replaces=_literal(REPLACES), needs=_literal(_needs()))


def _needs() -> dict[str, str]:
    """tfcook's own version bounds, from its installed metadata: Python and every dependency that has one."""
    from importlib import metadata

    found = {"python": metadata.metadata("tfcook")["Requires-Python"]}
    for requirement in metadata.requires("tfcook") or []:
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^]]*\])?\s*([<>=!~][^;]*)$", requirement.strip())
        if match:  # no environment marker: not an extra
            found[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[2].replace(" ", "")
    return found


def _literal(mapping: dict[str, str]) -> str:
    lines = "".join(f"    {key!r}: {value!r},\n" for key, value in mapping.items())
    return "{\n" + lines + "}"


DEVICES = '''\
import keras

if keras.backend.backend() == "jax":
    import jax

    print("Keras", keras.__version__, "on JAX", jax.__version__, "| devices:", jax.devices())
    if tpu_attached() and jax.default_backend() != "tpu":
        print("A TPU is attached but JAX can't see it, so the recipe will run on the CPU.")
else:
    import tensorflow as tf

    print("Keras", keras.__version__, "on TensorFlow", tf.__version__, "| devices:", [d.name for d in tf.config.list_physical_devices()])
'''


def notebook_for(path: Path | str, tiny: bool = False):
    """An nbformat v4 notebook of the recipe at `path`."""
    import nbformat.v4 as nbf

    source = Path(path).read_text()
    tree = ast.parse(source)
    name = Path(path).stem
    cells = [nbf.new_markdown_cell(_markdown(ast.get_docstring(tree) or name))]
    portable = "jax" in _header_line(source, "Backends").partition("(")[0]
    cells.append(nbf.new_code_cell(RUNTIME + (ON_TPU_PORTABLE if portable else ON_TPU_TENSORFLOW_ONLY.format(name=name))))
    cells.append(nbf.new_code_cell(install_cell(), metadata={"tags": ["install"]}))
    sections, notes = split_notes(cell_sources(source, tree))
    notes = [notes] if notes else []
    cells += [nbf.new_markdown_cell(text) if kind == "markdown" else nbf.new_code_cell(text) for kind, text in sections]
    cells.append(nbf.new_code_cell(DEVICES))
    config = ("Config.tiny()  # the full run: Config()" if tiny
              else "Config()  # a quick check: Config.tiny()")
    run = RUN.format(name=name, config=config)
    cells.append(nbf.new_code_cell(run, metadata={"tags": ["run"]}))
    cells.append(nbf.new_code_cell(
        "from IPython.display import Image, display\n\n"
        "for png in sorted(tfcook.out_dir().rglob(\"*.png\")):\n"
        "    print(png.name)\n"
        "    display(Image(filename=str(png)))"
    ))
    cells += [nbf.new_markdown_cell(text) for text in notes]
    for i, cell in enumerate(cells):
        cell.id = f"{name}-{i}"  # stable ids (nbformat draws random ones): the committed notebooks are regenerated and compared
    notebook = nbf.new_notebook(cells=cells)
    notebook.metadata.update(
        kernelspec={"name": "python3", "display_name": "Python 3", "language": "python"},
        language_info={"name": "python"},
        accelerator="TPU" if portable and "TPU" in _header_line(source, "Accelerator") else "GPU",
        colab={"provenance": [], "name": f"{name}.ipynb"},
    )
    return notebook


BANNER = re.compile(r"#\s*-{3,}\s*(.*?)\s*-{3,}\s*$")  # "# --- data ------": a section heading


def cell_sources(source: str, tree: ast.Module) -> list[tuple[str, str]]:
    """The module after its docstring as ("markdown" | "code", text) cells, keras-io style: a bare string
    between definitions (`\"\"\"## Build the model ...\"\"\"`) and a `# --- section ---` banner become
    Markdown; the code is one cell per top-level definition, with the comments and constants just
    above it. `main()` and the `if __name__ == "__main__"` block are dropped."""
    lines = source.splitlines()
    documented = bool(tree.body) and _is_docstring(tree.body[0])
    body = [node for node in tree.body[documented:] if not (_is_main_guard(node) or _is_main(node))]
    cells: list[tuple[str, str]] = []
    pending: list[str] = []  # code lines not yet in a cell: comments and constants above the next definition
    previous_end = tree.body[0].end_lineno if documented else 0

    def take(text_lines: list[str]) -> None:
        for line in text_lines:
            banner = BANNER.match(line.strip())
            if banner:
                flush()
                cells.append(("markdown", f"## {banner[1][:1].upper()}{banner[1][1:]}"))
            else:
                pending.append(line)

    def flush() -> None:
        text = "\n".join(pending).strip("\n")
        if text.strip():
            cells.append(("code", text))
        pending.clear()

    for i, node in enumerate(body):
        following = body[i + 1] if i + 1 < len(body) else None
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
        take(lines[previous_end:first])  # the comments (and blank lines) between the previous statement and this one
        if _is_docstring(node):
            flush()
            cells.append(("markdown", inspect.cleandoc(node.value.value)))
        else:
            pending.extend(lines[first : node.end_lineno])
            ends_cell = (
                isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                or following is None
                or _is_docstring(following)
                or _is_import(node) and not _is_import(following)
            )
            if ends_cell:
                flush()
        previous_end = node.end_lineno
    flush()
    return cells


def split_notes(sections: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], str]:
    """The cells without a closing "## Notes" block (lab notes: variants tried, per-seed tables), and that
    block's text ("" if none): the notebook and the site put it after the run and its figures."""
    if sections and sections[-1][0] == "markdown" and sections[-1][1].startswith("## Notes"):
        return sections[:-1], sections[-1][1]
    return sections, ""


def _markdown(doc: str) -> str:
    title, _, rest = inspect.cleandoc(doc).partition("\n")
    # Header lines become a bullet list ("**Summary:** ..."), wrapped values joined.
    rest = re.sub(r"\n    (?=\S)", " ", rest)
    rest = re.sub(r"^([A-Z][a-z]+): ", r"- **\1:** ", rest.strip(), count=0, flags=re.M)
    return f"# {title.strip()}\n\n{rest}"


def _header_line(source: str, key: str) -> str:
    match = re.search(rf"^{key}: (.*)$", ast.get_docstring(ast.parse(source)) or "", re.M)
    return match[1] if match else ""


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _is_main_guard(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)


def _is_main(node: ast.stmt) -> bool:
    return isinstance(node, ast.FunctionDef) and node.name == "main"


def _is_import(node: ast.stmt) -> bool:
    return isinstance(node, (ast.Import, ast.ImportFrom))


def colab_url(name: str) -> str:
    return f"https://colab.research.google.com/github/{REPOSITORY}/blob/main/{NOTEBOOK_FOLDER}/{name}.ipynb"


def write(name: str, path: Path, out: Path, tiny: bool = False) -> Path:
    import nbformat

    notebook = notebook_for(path, tiny=tiny)
    nbformat.validate(notebook)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{name}.ipynb"
    nbformat.write(notebook, str(target))
    return target
