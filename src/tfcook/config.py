"""Command-line overrides parsed against a recipe's `Config` dataclass, and field docs for `show`.

Supported field types: bool, int, float, str, Literal[...], X | None, tuple[X, ...].
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import inspect
import io
import math
import textwrap
import tokenize
import types
import typing
from typing import Any, Literal, get_args, get_origin

from tfcook.errors import ConfigError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def field_types(config_cls: type) -> dict[str, Any]:
    """Resolved type of each dataclass field (annotations may be strings)."""
    hints = typing.get_type_hints(config_cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(config_cls)}


def is_bool(tp: Any) -> bool:
    return tp is bool or (_optional_inner(tp) is bool)


def _optional_inner(tp: Any) -> Any | None:
    """X for `X | None` / Optional[X], else None."""
    if get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(get_args(tp)) == 2:
            return args[0]
    return None


def describe_type(tp: Any) -> str:
    """How a type reads in an error message."""
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a finite number"
    if tp is str:
        return "a string"
    if get_origin(tp) is Literal:
        return "one of " + ", ".join(str(c) for c in get_args(tp))
    inner = _optional_inner(tp)
    if inner is not None:
        return f"{describe_type(inner)} or none"
    if get_origin(tp) is tuple:
        return f"a comma-separated list of {describe_type(get_args(tp)[0]).removeprefix('an ').removeprefix('a ')}s"
    raise TypeError(f"unsupported Config field type {tp!r}")


def parse_value(name: str, text: str, tp: Any) -> Any:
    """Parse one override; raise ConfigError naming the setting when it doesn't fit."""
    try:
        return _parse(text, tp)
    except ValueError:
        raise ConfigError(f"--{name} expects {describe_type(tp)}, got {text!r}") from None


def _parse(text: str, tp: Any) -> Any:
    if tp is bool:
        low = text.strip().lower()
        if low in _TRUE | _FALSE:
            return low in _TRUE
        raise ValueError(text)
    if tp is int:
        return int(text)
    if tp is float:
        value = float(text)
        if not math.isfinite(value):  # NaN slips through every range check downstream, inf through most
            raise ValueError(text)
        return value
    if tp is str:
        return text
    if get_origin(tp) is Literal:
        for choice in get_args(tp):
            if str(choice) == text:
                return choice
        raise ValueError(text)
    inner = _optional_inner(tp)
    if inner is not None:
        return None if text.strip().lower() == "none" else _parse(text, inner)
    if get_origin(tp) is tuple:
        item = get_args(tp)[0]
        return tuple(_parse(part.strip(), item) for part in text.split(",") if part.strip())
    raise TypeError(f"unsupported Config field type {tp!r}")


# Settings many recipes share, checked here the same way for every recipe that has them (before a
# value reaches NumPy or Keras, whose errors are tracebacks): name -> (test, what it must be).
SHARED: dict[str, tuple[typing.Callable[[Any], bool], str]] = {
    "seed": (lambda v: 0 <= v < 2**32, "between 0 and 4294967295 (a seed NumPy accepts)"),
    "epochs": (lambda v: v >= 1, "at least 1"),
    "batch_size": (lambda v: v >= 1, "at least 1"),
    "steps_per_execution": (lambda v: v >= 1, "at least 1"),
    "train_examples": (lambda v: v >= 0, "0 (all of them) or more"),
    "test_examples": (lambda v: v >= 0, "0 (all of them) or more"),
    "learning_rate": (lambda v: v > 0, "positive"),
    "dropout": (lambda v: 0 <= v < 1, "at least 0 and below 1"),
}


def check_shared(name: str, value: Any) -> None:
    """One sentence (ConfigError) when a shared setting's value is out of its bounds."""
    if name in SHARED and isinstance(value, (int, float)) and not isinstance(value, bool):
        test, must = SHARED[name]
        if not test(value):
            raise ConfigError(f"--{name} must be {must}, got {value}")


def apply_overrides(config: Any, overrides: dict[str, str | None]) -> Any:
    """A copy of `config` with `--name=value` overrides applied (value None means a bare `--flag`)."""
    types_ = field_types(type(config))
    changes = {}
    for name, text in overrides.items():
        if name not in types_:
            raise ConfigError(unknown_setting(name, types_))
        tp = types_[name]
        if text is None:
            if not is_bool(tp):
                raise ConfigError(f"--{name} needs a value ({describe_type(tp)}), e.g. --{name}=...")
            text = "true"
        changes[name] = parse_value(name, text, tp)
        check_shared(name, changes[name])
    try:
        return dataclasses.replace(config, **changes)
    except ValueError as err:  # a recipe's __post_init__ rejected a value
        raise ConfigError(str(err)) from None


def unknown_setting(name: str, known: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"; did you mean --{close[0]}?" if close else ""
    return f"unknown setting --{name}{hint} (`tfcook show RECIPE` lists them)"


@dataclasses.dataclass
class FieldDoc:
    name: str
    type: str
    default: str
    comment: str


def field_docs(config_cls: type) -> list[FieldDoc]:
    """Each field with its annotation as written, its default, and the comment beside or above it."""
    source = textwrap.dedent(inspect.getsource(config_cls))
    trailing, full_line = _comments(source)
    annotations = {}
    for node in ast.parse(source).body[0].body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            annotations[node.target.id] = (ast.unparse(node.annotation), node.lineno)
    docs = []
    for f in dataclasses.fields(config_cls):
        annotation, line = annotations[f.name]
        comment = trailing.get(line) or _comment_block_above(full_line, line)
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        docs.append(FieldDoc(f.name, annotation, repr(default), comment))
    return docs


def _comments(source: str) -> tuple[dict[int, str], dict[int, str]]:
    """Comments by line number: (after code on the same line, alone on their line)."""
    trailing, full_line = {}, {}
    for t in tokenize.generate_tokens(io.StringIO(source).readline):
        if t.type == tokenize.COMMENT:
            alone = not t.line[: t.start[1]].strip()
            (full_line if alone else trailing)[t.start[0]] = t.string.lstrip("#").strip()
    return trailing, full_line


def _comment_block_above(comments: dict[int, str], line: int) -> str:
    lines = []
    while line - 1 in comments:
        line -= 1
        lines.insert(0, comments[line])
    return " ".join(lines)
