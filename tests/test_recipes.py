"""Every recipe has the shape DEVELOPERS.md describes, checked from its source and in a fresh process."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from conftest import RECIPES, REPO
from tfcook.cli import CATEGORIES, HEADER_KEYS, RUNNER_FLAGS, header_of

ALLOWED_IMPORTS = {"keras", "tf_keras", "jax", "numpy", "tensorflow", "tensorflow_datasets", "tensorflow_model_optimization",
                   "ai_edge_litert", "dp_accounting", "cryptography", "tfcook"}


def source(name: str) -> ast.Module:
    return ast.parse((REPO / "recipes" / f"{name}.py").read_text())


def test_recipes_are_discovered():
    assert "mnist" in RECIPES


@pytest.mark.parametrize("name", RECIPES)
def test_header_has_every_field(name):
    header = header_of(REPO / "recipes" / f"{name}.py")
    missing = [key for key in ("title", *HEADER_KEYS) if not header.get(key)]
    assert not missing, f"{name}: header lacks {missing}"
    assert f"catalog `{name}`" in header["origin"]  # traceable to ../shared/CATALOG.md
    assert header["category"] in CATEGORIES, f"{name}: Category must be one of {CATEGORIES}"
    assert f"NAME={name}" in header["run"]


@pytest.mark.parametrize("name", RECIPES)
def test_imports_are_stdlib_numpy_tensorflow_ecosystem_or_tfcook(name):
    stdlib = sys.stdlib_module_names
    for node in ast.walk(source(name)):
        if isinstance(node, ast.Import):
            roots = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            roots = [node.module.split(".")[0]]
        else:
            continue
        for root in roots:
            assert root in stdlib or root in ALLOWED_IMPORTS, f"{name} imports {root}"


# One fresh process imports every recipe in turn (TensorFlow's start-up is the cost: one process per
# recipe took ~6 s each). Each import is checked on its own: the runtime state, seeding calls and
# files are read before and after it, so a recipe that starts the runtime or seeds is the one named.
IMPORT_SCRIPT = """
import dataclasses, importlib, json, os, random, sys, traceback
import numpy as np, tensorflow as tf
from tensorflow.python.eager import context
from tfcook.config import field_docs, describe_type, field_types
seeded = []
def record(what):
    return lambda *args, **kwargs: seeded.append(what)
random.seed, np.random.seed, tf.random.set_seed = record("random"), record("numpy"), record("tensorflow")
report = {}
for name in sys.argv[1:]:
    seeded.clear()
    started, files = context.context()._context_handle is not None, set(os.listdir("."))
    try:
        r = importlib.import_module("tfcook.recipes." + name)
        imported = {"runtime_started": not started and context.context()._context_handle is not None,
                    "seeded": list(seeded), "files": sorted(set(os.listdir(".")) - files)}
        docs = [dataclasses.asdict(d) for d in field_docs(r.Config)]
        for tp in field_types(r.Config).values():
            describe_type(tp)  # raises for types the runner can't parse
        report[name] = {"imported": imported, "docs": docs, "tiny_differs": r.Config.tiny() != r.Config(),
                        "has": [hasattr(r, a) for a in ("run", "main")]}
    except Exception:
        report[name] = {"error": traceback.format_exc()}
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def import_report(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("imports")
    proc = subprocess.run([sys.executable, "-c", IMPORT_SCRIPT, *RECIPES], capture_output=True, text=True, cwd=folder,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.mark.parametrize("name", RECIPES)
def test_importing_does_nothing_and_config_fields_are_typed_commented_with_a_tiny_variant(name, import_report):
    """Importing the recipe does no training, seeding, downloads, files or TF runtime start-up;
    then its Config is checked."""
    info = import_report[name]
    assert "error" not in info, info.get("error")
    assert info["imported"] == {"runtime_started": False, "seeded": [], "files": []}
    uncommented = [d["name"] for d in info["docs"] if not d["comment"]]
    assert not uncommented, f"{name}: fields without a comment: {uncommented}"
    assert not {d["name"] for d in info["docs"]} & set(RUNNER_FLAGS), "Config fields shadow runner flags"
    assert info["tiny_differs"], "Config.tiny() should shrink the run"
    assert info["has"] == [True, True], "a recipe defines run(config) and main()"


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_reads_as_a_tutorial(name):
    """A short introduction after the header, then prose opening the sections (keras-io style), and an
    Origin a reader outside this project can follow (the catalog name stays, for traceability)."""
    import inspect

    from tfcook import notebook

    text = (REPO / "recipes" / f"{name}.py").read_text()
    tree = ast.parse(text)
    lines = inspect.cleandoc(ast.get_docstring(tree)).splitlines()
    after_header = [line for line in lines[next(i for i, line in enumerate(lines) if line.startswith("Run: ")) + 1 :] if line.strip()]
    assert len(after_header) <= 15, f"{name}: the introduction runs {len(after_header)} lines; move the rest into the sections"
    prose = [body for kind, body in notebook.cell_sources(text, tree) if kind == "markdown"]
    assert len(prose) >= 3 and all(body.startswith("## ") for body in prose), prose
    assert "doc 00" not in header_of(REPO / "recipes" / f"{name}.py")["origin"], "say where the question comes from in plain words"
