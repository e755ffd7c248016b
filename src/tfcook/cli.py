"""The `tfcook` command: list, show and run recipes.

    tfcook list [--markdown | --json]
    tfcook show NAME
    tfcook run NAME [--tiny] [--backend tensorflow|jax] [--device auto|cpu|gpu|tpu] [--out DIR] [--SETTING=VALUE ...]
    tfcook notebook NAME... | --all [--out DIR] [--tiny]

A recipe run as a script (`python mnist.py --epochs=1`) goes through `run_main` too.
User mistakes print one sentence on stderr and exit with status 2.
"""

from __future__ import annotations

import _thread
import ast
import dataclasses
import difflib
import importlib
import inspect
import itertools
import json
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from tfcook import config as cfg
from tfcook import devices, empty_run, results, resume, startup
from tfcook.errors import ConfigError, DataError, UserError

USAGE = __doc__.split("\n\n")[1]
HEADER_KEYS = ("summary", "category", "origin", "accelerator", "backends", "bar", "results", "peer", "run")
# `tfcook list` and the README group recipes by their header's Category, in this order.
CATEGORIES = (
    "basics",
    "training practice",
    "vision",
    "text and speech",
    "graphs",
    "compression",
    "performance and distribution",
    "privacy and systems",
)
RUNNER_FLAGS = ("tiny", "backend", "device", "out")  # reserved: no Config field may use these names
VALUE_FLAGS = ("backend", "device", "out")


_interrupted = threading.Event()


def _on_ctrl_c(signum, frame):
    _interrupted.set()
    raise KeyboardInterrupt


def _on_unraisable(unraisable) -> None:
    """Ctrl-C that lands in a garbage-collection callback (JAX registers one) is swallowed there and
    printed as "Exception ignored": deliver it to the main thread again instead."""
    if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
        _thread.interrupt_main()
        return
    sys.__unraisablehook__(unraisable)


INTERRUPTED = 130  # the shell's exit status for a process stopped by SIGINT (128 + 2)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # TensorFlow's C++ start-up chatter (CUDA probes, CPU features) buries the recipe's output.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        return _dispatch(argv)
    except UserError as err:
        print(f"tfcook: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before a run started (importing TensorFlow, say); run_main handles one mid-run
        print("tfcook: interrupted (Ctrl-C)", file=sys.stderr)
        return INTERRUPTED


def _dispatch(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if command in ("help", "-h", "--help"):
        print(USAGE)
        return 0
    if command == "list" and rest in ([], ["--markdown"], ["--json"]):
        print({"--markdown": markdown_table, "--json": list_json}.get(rest[0] if rest else "", list_text)())
        return 0
    if command == "show" and len(rest) == 1:
        print(show_text(rest[0]))
        return 0
    if command == "notebook" and rest:
        return notebooks(rest)
    if command == "run" and rest:
        name = rest[0]
        if name in recipe_files():  # an unknown name gets load_recipe's suggestion instead
            choose_backend(name, header_of(recipe_files()[name]), rest[1:])
        with startup.quiet():  # importing the recipe loads TensorFlow
            module = load_recipe(name)
            startup.list_devices()
        return run_main(module, rest[1:], name=name)
    raise ConfigError(
        f"expected `list [--markdown|--json]`, `show NAME`, `run NAME [settings]` or `notebook NAME...`, got {' '.join(argv)!r}"
    )


def notebooks(argv: list[str]) -> int:
    """`tfcook notebook NAME... | --all [--out DIR] [--tiny]`: write NAME.ipynb for each recipe."""
    from tfcook import notebook

    names, out, tiny = [], Path(notebook.NOTEBOOK_FOLDER), False
    tokens = iter(argv)
    for token in tokens:
        if token == "--all":
            names += list(recipe_files())
        elif token == "--tiny":
            tiny = True
        elif token == "--out" or token.startswith("--out="):
            out = Path(token.partition("=")[2] or next(tokens, ""))
            if not str(out).strip():
                raise ConfigError("--out needs a folder name")
        elif token.startswith("--"):
            raise ConfigError(f"unknown notebook option {token!r} (expected --all, --out DIR or --tiny)")
        else:
            load_path = recipe_files().get(token)
            if load_path is None:
                load_recipe(token)  # raises the unknown-recipe error with its suggestion
            names.append(token)
    if not names:
        raise ConfigError("name the recipes to write notebooks for, or pass --all")
    for name in names:
        print(notebook.write(name, recipe_files()[name], out, tiny=tiny))
    return 0


# --- discovery: the folder is the registry ----------------------------------------------


def recipe_files() -> dict[str, Path]:
    """Recipe name -> source file, for every module in tfcook.recipes not starting with "_"."""
    import tfcook.recipes

    folder = Path(tfcook.recipes.__file__).parent
    return {p.stem: p for p in sorted(folder.glob("*.py")) if not p.stem.startswith("_")}


def load_recipe(name: str) -> ModuleType:
    files = recipe_files()
    if name not in files:
        close = difflib.get_close_matches(name, list(files), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown recipe {name!r}{hint} (`tfcook list` shows all {len(files)})")
    return importlib.import_module(f"tfcook.recipes.{name}")


def parse_header(doc: str | None) -> dict[str, str]:
    """Title (first line) and the `Key: value` lines that follow it (values may wrap, indented)."""
    lines = inspect.cleandoc(doc or "").splitlines()
    header = {"title": lines[0].strip() if lines else ""}
    key = None
    for line in lines[1:]:
        match = re.match(r"([A-Z][a-z]+): (.*)", line)
        if match and match[1].lower() in HEADER_KEYS:
            key = match[1].lower()
            header[key] = match[2].strip()
        elif key and line.startswith(" ") and line.strip():
            header[key] += " " + line.strip()
        elif line.strip() or key:
            break
    return header


def header_of(path: Path) -> dict[str, str]:
    """A recipe's header, read from its source without importing it (no TensorFlow start-up)."""
    return parse_header(ast.get_docstring(ast.parse(path.read_text())))


def headers() -> list[dict[str, str]]:
    """Every recipe's header (with its name), grouped by category in CATEGORIES order."""
    rows = [{"name": name, **header_of(path)} for name, path in recipe_files().items()]
    order = {category: i for i, category in enumerate(CATEGORIES)}
    return sorted(rows, key=lambda h: (order.get(h.get("category", ""), len(order)), h["name"]))


def list_text() -> str:
    lines = []
    for category, group in itertools.groupby(headers(), key=lambda h: h.get("category", "")):
        rows = []
        for header in group:
            # Just the device and backend names here; `show` prints the parenthesized details.
            rows.append({"recipe": header["name"], "accelerator": without_parentheses(header.get("accelerator", "")),
                         "backends": ", ".join(backends_of(header)[0]), "summary": header.get("summary", "")})
        lines += ["" if lines else None, f"{category or 'uncategorized'}:", *("  " + line for line in results.table(rows))]
    return "\n".join(line for line in lines if line is not None)


def without_parentheses(text: str) -> str:
    """`text` without its (possibly nested) parenthesized parts and the spaces before them."""
    out, depth = [], 0
    for char in text:
        depth += char == "("
        if not depth:
            out.append(char)
        depth -= char == ")" and depth > 0
    return re.sub(r"\s+([;,.])", r"\1", re.sub(r"\s{2,}", " ", "".join(out))).strip()


def list_json() -> str:
    return json.dumps(headers(), indent=2, ensure_ascii=False)


def markdown_table(page: Any = None, heading: str = "###") -> str:
    """The README's index, one table per category, generated from the headers: each recipe's name
    linked to its page (`page(name)`: on the published site by default), what it shows, its headline
    result and its Colab notebook. The site's home page is the same table with relative links."""
    from tfcook import notebook

    page = page or (lambda name: f"{notebook.SITE_URL}recipes/{name}/")
    out = []
    for category, group in itertools.groupby(headers(), key=lambda h: h.get("category", "")):
        out += [f"{heading} {category.capitalize()}", "", "| recipe | what it shows | headline result (recorded run) | |", "|---|---|---|---|"]
        for h in group:
            cells = [f"[{h['name']}]({page(h['name'])})", h.get("summary", ""), h.get("results", ""),
                     f"[Colab]({notebook.colab_url(h['name'])})"]
            out.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
        out.append("")
    out.append(recorded_on())
    return "\n".join(out).rstrip() + "\n"


def recorded_on() -> str:
    """Which machines and dates the headlines' records come from (docs/results/*/result.json)."""
    from tfcook import reference

    stamps: dict[str, set[str]] = {}
    for name in recipe_files():
        try:
            ref = reference.load(name)["reference"]
        except FileNotFoundError:
            continue
        stamps.setdefault(ref["machine"], set()).add(ref["date"])
    where = "; ".join(f"{machine} ({', '.join(sorted(dates))})" for machine, dates in sorted(stamps.items()))
    return f"Recorded on: {where or 'no records yet'}. A benchmark's ratios compare contenders run back to back on the same machine."


README_START = "<!-- recipes:start (generated by `make readme`) -->\n"
README_END = "<!-- recipes:end -->"


def splice_readme(readme: str) -> str:
    """The README with the text between its recipe markers replaced by `markdown_table()`."""
    head, rest = readme.split(README_START, 1)
    return head + README_START + "\n" + markdown_table() + "\n" + README_END + rest.split(README_END, 1)[1]


def show_text(name: str) -> str:
    module = load_recipe(name)
    head = parse_header(module.__doc__)
    lines = [f"{name}: {head['title']}", ""]
    lines += [f"  {key}: {head[key]}" for key in HEADER_KEYS if key in head]
    lines += ["", f"settings (tfcook run {name} --name=value):"]
    lines += ["  " + line for line in results.table([dataclasses.asdict(d) for d in cfg.field_docs(module.Config)])]
    tiny = _changed(module.Config.tiny(), module.Config())
    lines += ["", "--tiny (a smoke-test run): " + ", ".join(f"{k}={v!r}" for k, v in tiny.items())]
    lines += ["runner flags: --backend tensorflow|jax (default KERAS_BACKEND, else tensorflow), "
              "--device auto|cpu|gpu|tpu (default auto), --out DIR (default runs/<recipe>/<time>)"]
    return "\n".join(lines)


def _changed(config: Any, default: Any) -> dict[str, Any]:
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if getattr(config, f.name) != getattr(default, f.name)}


# --- backends -----------------------------------------------------------------------------


def backends_of(header: dict[str, str]) -> tuple[list[str], str]:
    """The Keras backends a header's `Backends:` line names, and its parenthesized note: e.g.
    "tensorflow, jax (...)" or "tensorflow only (its subject is tf.distribute's strategies)"."""
    names, _, note = header.get("backends", "tensorflow only").partition("(")
    names = names.strip().removesuffix(" only")
    return [n.strip() for n in names.split(",") if n.strip()], note.rsplit(")", 1)[0].strip()


def backend_flag(argv: list[str]) -> str | None:
    """The value of `--backend X` / `--backend=X` in argv, if given."""
    for i, token in enumerate(argv):
        if token.startswith("--backend="):
            return token.partition("=")[2]
        if token == "--backend":
            if i + 1 == len(argv) or argv[i + 1].startswith("--"):
                raise ConfigError("--backend needs a value (tensorflow or jax)")
            return argv[i + 1]
    return None


def choose_backend(name: str, header: dict[str, str], argv: list[str]) -> str:
    """Set KERAS_BACKEND from `--backend` (else the environment's, else tensorflow) before Keras is
    imported, or fail in one sentence when the recipe can't run on it."""
    wanted = backend_flag(argv) or os.environ.get("KERAS_BACKEND") or "tensorflow"
    if wanted not in devices.BACKENDS:
        raise ConfigError(f"--backend must be one of {', '.join(devices.BACKENDS)}, got {wanted!r}")
    supported, note = backends_of(header)
    if wanted not in supported:
        asked = "--backend " + wanted if backend_flag(argv) else "KERAS_BACKEND=" + wanted
        because = f" ({note})" if note else ""
        pretty = {"tensorflow": "TensorFlow", "jax": "JAX"}
        raise ConfigError(f"{name} is {'/'.join(pretty.get(b, b) for b in supported)}-only{because}, so it can't run with {asked}")
    os.environ["KERAS_BACKEND"] = wanted
    return wanted


def _reexec_on(backend: str) -> None:
    """A recipe run as a script imported Keras before reading its flags: start it again on `backend`."""
    if os.environ.get("TFCOOK_REEXEC") == backend:
        raise ConfigError(f"Keras started on the {devices.backend()} backend although KERAS_BACKEND={backend}")
    os.environ["TFCOOK_REEXEC"] = backend
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


# --- running ------------------------------------------------------------------------------


def parse_args(tokens: list[str], types: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str | None]]:
    """Split argv into runner flags and `--setting[=value]` overrides (bare flags map to None)."""
    flags: dict[str, Any] = {"tiny": False, "backend": None, "device": "auto", "out": None}
    overrides: dict[str, str | None] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if not token.startswith("--") or token == "--":
            raise ConfigError(f"unexpected argument {token!r}; settings look like --name=value")
        name, eq, value = token[2:].partition("=")
        name = name.replace("-", "_")
        takes_value = name in VALUE_FLAGS or (name in types and not cfg.is_bool(types[name]))
        if not eq and takes_value and i < len(tokens) and not tokens[i].startswith("--"):
            value, eq = tokens[i], "="  # `--epochs 3` as well as `--epochs=3`
            i += 1
        if name == "tiny":
            flags["tiny"] = cfg.parse_value("tiny", value, bool) if eq else True
        elif name in VALUE_FLAGS:
            if not eq:
                raise ConfigError(f"--{name} needs a value")
            flags[name] = value
        else:
            overrides[name] = value if eq else None
    return flags, overrides


def make_config(module: ModuleType, flags: dict[str, Any], overrides: dict[str, str | None]) -> Any:
    base = module.Config.tiny() if flags["tiny"] else module.Config()
    return cfg.apply_overrides(base, overrides)


def run_main(module: ModuleType, argv: list[str] | None = None, name: str | None = None) -> int:
    """Parse settings, run `module.run(config)`, write result.json and print the metrics."""
    argv = sys.argv[1:] if argv is None else argv
    name = name or Path(module.__file__).stem
    if argv in (["-h"], ["--help"]):
        print(show_text(name) if name in recipe_files() else module.__doc__)
        return 0
    out = None
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _on_ctrl_c)
        sys.unraisablehook = _on_unraisable
    try:
        backend = choose_backend(name, parse_header(module.__doc__), argv)
        if backend != devices.backend():
            if module.__name__ != "__main__":
                raise ConfigError(f"Keras is already imported on the {devices.backend()} backend; set KERAS_BACKEND={backend} before importing it")
            _reexec_on(backend)
        types = cfg.field_types(module.Config)
        flags, overrides = parse_args(argv, types)
        config = make_config(module, flags, overrides)
        devices.select(flags["device"])
        out = results.use(results.new_run_dir(name) if flags["out"] is None else flags["out"])  # ConfigError if it can't be written
        resumed = resume.claim(out, name, {**dataclasses.asdict(config), "backend": backend})
        again = " (resuming the unfinished run there)" if resumed else ""
        print(f"tfcook: {name} on {flags['device']} ({backend}) -> {out}{again}", flush=True)
        started = time.time()
        settings = (["--tiny"] if flags["tiny"] else []) + [f"--{k}" + ("" if v is None else f"={v}") for k, v in overrides.items()]
        metrics = _call(module.run, config, name, settings)
    except UserError as err:
        print(f"tfcook: error: {err}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Exception) as err:
        # Ctrl-C that lands inside TensorFlow's C++ code can come out as another error (a SystemError from
        # listobject.c was seen): the flag set by the handler says what it was.
        if not (isinstance(err, KeyboardInterrupt) or _interrupted.is_set()):
            raise
        wrote = (f"; what it wrote so far is in {out}, and the same command with --out {out} "
                 "resumes it" if out is not None else "")
        print(f"tfcook: interrupted: {name} stopped by Ctrl-C{wrote}", file=sys.stderr)
        return INTERRUPTED
    record = {
        "recipe": name,
        "metrics": metrics,
        "config": dataclasses.asdict(config),
        "device": devices.describe(),
        "backend": results.backend(),
        "versions": results.versions(),
        "wall_time_s": round(time.time() - started, 2),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "argv": argv,
    }
    bad = results.first_non_finite(metrics)
    if bad:
        # Training diverged: keep what the run wrote, with the non-finite values as text.
        record.update(status="diverged", metrics=results.finite_or_text(metrics))
        results.write(out / "result.json", record)
        print(f"tfcook: error: {name} diverged: metric {bad[0]} is {bad[1]}; what the run wrote is in {out}", file=sys.stderr)
        return 1
    results.write(out / "result.json", record)
    print(f"\n{name}: {record['wall_time_s']} s on {record['device'].get('kind', 'cpu')} ({backend}), results in {out}/result.json")
    print(results.format_metrics(metrics))
    return 0


def _call(run: Any, config: Any, name: str, settings: list[str]) -> dict[str, Any]:
    try:
        with empty_run.raising_on_no_data():
            metrics = run(config)
    except Exception as err:
        if type(err).__name__ == "DataLossError":  # tf.errors.DataLossError: a corrupt data file
            raise DataError(f"a dataset file is unreadable ({err.message}); delete it so TFDS prepares it again, or fix TFDS_DATA_DIR") from None
        meaning = empty_run.reason(err)
        # With the settings as shipped the same error is a bug in the recipe: its traceback is wanted.
        if meaning and any(s != "--tiny" for s in settings) and not _interrupted.is_set():
            raise ConfigError(empty_run.sentence(name, settings, err, meaning)) from None
        raise
    if not isinstance(metrics, dict):
        raise TypeError(f"run() must return a dict of metrics, got {type(metrics).__name__}")
    return metrics
