"""A recipe file as a Colab/Jupyter notebook, the way keras-io turns its example scripts into notebooks.

    tfcook notebook NAME... | --all [--out DIR] [--tiny]

Cells: the docstring as Markdown; an install cell that picks the TensorFlow build for the runtime
(tagged "install"); the recipe's code split at its top-level definitions; a cell that prints the
TensorFlow version and the devices it sees (and says so when a TPU is attached that TensorFlow
can't use); `result = run(Config())` (tagged "run"); and a cell that shows the PNGs the run wrote.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

# Where release notebooks are published (the README's "Open in Colab" links point here).
REPOSITORY = "tfcook/tfcook"
NOTEBOOK_FOLDER = "notebooks"

# Colab's TPU runtime has no TensorFlow (colabtools#5164) and tensorflow-tpu stops at 2.20.0, whose
# tf-keras twin requires the plain `tensorflow` package: so on a TPU the cell installs
# tensorflow-tpu, then tfcook and tf-keras without dependencies, then tfcook's other requirements.
RUNTIME = '''\
import glob, pathlib


def tpu_attached():
    """True on a TPU runtime: Google's PCI vendor id with a TPU device id (v2/v3 .. v6e), read the
    way JAX does, so it works before TensorFlow is installed."""
    tpu_ids = {"0x0027", "0x005e", "0x0062", "0x0063", "0x006f"}
    for vendor in glob.glob("/sys/bus/pci/devices/*/vendor"):
        device = pathlib.Path(vendor).with_name("device")
        if pathlib.Path(vendor).read_text().strip() == "0x1ae0" and device.read_text().strip() in tpu_ids:
            return True
    return False
'''

INSTALL = '''\
# Install tfcook and the TensorFlow build for this runtime (skip this cell if tfcook is installed).
import importlib.metadata, re, subprocess, sys


def pip(*args):
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *args], check=True)


if tpu_attached():
    if sys.version_info >= (3, 14):
        raise SystemExit("tensorflow-tpu 2.20 has wheels for Python 3.10-3.13 only; use a GPU or CPU runtime")
    pip("tensorflow-tpu==2.20.0")  # the last TensorFlow TPU build; pulls libtpu from PyPI
    pip("--no-deps", "tfcook", "tf-keras==2.20.1")  # both would pull the CPU `tensorflow` package
    skip = {"tensorflow", "tf-keras"}
    requirements = [r for r in importlib.metadata.requires("tfcook") or []
                    if "extra ==" not in r and re.split(r"[ <>=!~;\\[]", r, maxsplit=1)[0].lower() not in skip]
    pip(*requirements)
else:
    pip("tfcook")  # GPU and CPU runtimes: Colab's GPU image already has TensorFlow 2.20 and tf-keras
'''

DEVICES = '''\
import tensorflow as tf

print("TensorFlow", tf.__version__, "| devices:", [d.name for d in tf.config.list_physical_devices()])
if tpu_attached() and not tf.config.list_physical_devices("TPU"):
    print("A TPU is attached but this TensorFlow can't see it, so the recipe will run on the CPU.")
'''


def notebook_for(path: Path | str, tiny: bool = False):
    """An nbformat v4 notebook of the recipe at `path`."""
    import nbformat.v4 as nbf

    source = Path(path).read_text()
    tree = ast.parse(source)
    cells = [nbf.new_markdown_cell(_markdown(ast.get_docstring(tree) or Path(path).stem))]
    cells.append(nbf.new_code_cell(RUNTIME))
    cells.append(nbf.new_code_cell(INSTALL, metadata={"tags": ["install"]}))
    cells += [nbf.new_code_cell(chunk) for chunk in code_chunks(source, tree)]
    cells.append(nbf.new_code_cell(DEVICES))
    run_line = "result = run(Config.tiny())  # the full run: run(Config())" if tiny else "result = run(Config())  # a quick check: run(Config.tiny())"
    cells.append(nbf.new_code_cell(f"{run_line}\nprint(tfcook.results.format_metrics(result))", metadata={"tags": ["run"]}))
    cells.append(nbf.new_code_cell(
        "from IPython.display import Image, display\n\n"
        "for png in sorted(tfcook.out_dir().rglob(\"*.png\")):\n"
        "    print(png.name)\n"
        "    display(Image(filename=str(png)))"
    ))
    notebook = nbf.new_notebook(cells=cells)
    notebook.metadata.update(
        kernelspec={"name": "python3", "display_name": "Python 3", "language": "python"},
        language_info={"name": "python"},
        accelerator="TPU" if "TPU" in _header_line(source, "Accelerator") else "GPU",
        colab={"provenance": [], "name": f"{Path(path).stem}.ipynb"},
    )
    return notebook


def code_chunks(source: str, tree: ast.Module) -> list[str]:
    """The module's code after its docstring, one chunk per top-level definition (with the comments
    and constants just above it); `main()` and the `if __name__ == "__main__"` block are dropped."""
    lines = source.splitlines()
    body = [node for node in tree.body if not (_is_docstring(node) or _is_main_guard(node) or _is_main(node))]
    chunks, start = [], None
    for node in body:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
        if start is None:
            start = first
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            chunks.append("\n".join(lines[start : node.end_lineno]).strip("\n"))
            start = None
        elif node is body[-1] or _is_import(node) and not _is_import(body[body.index(node) + 1]):
            chunks.append("\n".join(lines[start : node.end_lineno]).strip("\n"))  # imports, then constants
            start = None
    return [c for c in chunks if c.strip()]


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
