"""Where a run writes its artifacts, and how its result is recorded and printed."""

from __future__ import annotations

import datetime
import json
import math
import platform
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from tfcook.errors import ConfigError

_current: Path | None = None


def use(path: Path | str) -> Path:
    """Make `path` the folder `out_dir()` hands to recipes (the runner calls this).

    Raises ConfigError when the folder can't be created or written, before any training.
    """
    global _current
    if not str(path).strip():
        raise ConfigError("--out needs a folder name")
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".tfcook-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise ConfigError(f"--out {path} can't be used as the run folder ({err.strerror or err})") from None
    _current = path
    return _current


def out_dir() -> Path:
    """The current run's folder: `--out`, or runs/<recipe>/<time>; a temp folder outside the runner."""
    if _current is None:
        use(tempfile.mkdtemp(prefix="tfcook-"))
    return _current  # type: ignore[return-value]


def new_run_dir(recipe: str, root: str | Path = "runs") -> Path:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(root, recipe, stamp)
    n = 1
    while path.exists():  # two runs in the same second
        n += 1
        path = Path(root, recipe, f"{stamp}-{n}")
    return path


def backend() -> dict[str, str]:
    """The Keras backend the run used and its version, e.g. {"name": "jax", "version": "0.10.2"}."""
    from tfcook.devices import backend as current

    name = current()  # "tensorflow" or "jax", which are also their distributions' names
    try:
        return {"name": name, "version": metadata.version(name)}
    except metadata.PackageNotFoundError:
        return {"name": name, "version": "unknown"}


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for dist in ("tensorflow", "keras", "tf-keras", "jax", "jaxlib", "tensorflow-model-optimization", "tensorflow-datasets",
                 "numpy", "ml_dtypes", "ai-edge-litert", "dp-accounting"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    # The Keras that recipes actually used: tfmot switches tf.keras to tf_keras process-wide.
    found["legacy_keras_loaded"] = str("tf_keras" in sys.modules)
    return found


def write(path: Path, record: dict[str, Any]) -> None:
    """`record` as JSON at `path`, written whole or not at all (a temporary file, then renamed)."""
    from tfcook.resume import write_atomically

    # allow_nan=False: a NaN metric is a failed run, not a number to store.
    text = json.dumps(record, indent=2, allow_nan=False, default=_jsonable) + "\n"
    write_atomically(Path(path), text.encode())


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy and TF scalars
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"metric value {value!r} of type {type(value).__name__} is not JSON-ready")


def format_metrics(metrics: dict[str, Any]) -> str:
    """Scalars as `name  value` lines; lists of dicts (e.g. one row per variant) as tables."""
    scalars = {k: v for k, v in metrics.items() if not _is_rows(v)}
    lines = []
    if scalars:
        width = max(map(len, scalars))
        lines += [f"  {k:<{width}}  {_fmt(v)}" for k, v in scalars.items()]
    for key, rows in metrics.items():
        if _is_rows(rows):
            lines += ["", f"  {key}:", *("  " + line for line in table(rows))]
    return "\n".join(lines)


def table(rows: list[dict[str, Any]]) -> list[str]:
    """Aligned text table; columns are the keys of the first row."""
    columns = list(rows[0])
    cells = [[_fmt(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    def line(values):
        # Text left-aligned, numbers right-aligned.
        return "  ".join(
            v.ljust(w) if not _numeric(v) else v.rjust(w) for v, w in zip(values, widths)
        ).rstrip()
    return [line(columns), line(["-" * w for w in widths]), *map(line, cells)]


def finite_numbers(value: Any) -> bool:
    """True if every number in a (nested) metrics value is finite."""
    return first_non_finite(value) is None


def first_non_finite(value: Any, where: str = "") -> tuple[str, str] | None:
    """(path, "nan" or "inf") of the first non-finite number in nested metrics, e.g. ("runs[1].loss", "nan")."""
    if isinstance(value, dict):
        items = ((f"{where}.{k}" if where else str(k), v) for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        items = ((f"{where}[{i}]", v) for i, v in enumerate(value))
    else:
        number = _as_float(value)
        return None if number is None or math.isfinite(number) else (where or "value", str(number))
    for path, item in items:
        found = first_non_finite(item, path)
        if found:
            return found
    return None


def finite_or_text(value: Any) -> Any:
    """Nested metrics with non-finite numbers replaced by "nan", "inf" or "-inf" (JSON has none)."""
    if isinstance(value, dict):
        return {k: finite_or_text(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_text(v) for v in value]
    number = _as_float(value)
    return str(number) if number is not None and not math.isfinite(number) else value


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if hasattr(value, "item") and getattr(value, "size", 1) == 1:  # numpy and TF scalars
        item = value.item()
        return float(item) if isinstance(item, (int, float)) and not isinstance(item, bool) else None
    return None


def _is_rows(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3g}"
        return f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:.1f}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(map(_fmt, value))
    return str(value)


def _numeric(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def verbose() -> int:
    """Keras `verbose=`: 1 (progress bar) on a terminal, 2 (one line per epoch) in logs and CI."""
    return 1 if sys.stdout.isatty() else 2
