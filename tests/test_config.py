"""Overrides parsed against a Config dataclass, and the field docs `tfcook show` prints."""

from __future__ import annotations

import dataclasses
from typing import Literal

import pytest

from tfcook.cli import parse_args, parse_header
from tfcook.config import apply_overrides, field_docs, field_types
from tfcook.errors import ConfigError


@dataclasses.dataclass
class Config:
    epochs: int = 5  # passes over the data
    rate: float = 0.1  # learning rate
    # Which path to take: a comment above
    # that spans two lines.
    mode: Literal["fast", "exact"] = "fast"
    name: str = "run"
    flag: bool = False  # a switch
    limit: int | None = None  # optional cap
    sizes: tuple[int, ...] = (1, 2)  # several sizes

    def __post_init__(self):
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")


def apply(**overrides):
    return apply_overrides(Config(), overrides)


def test_values_parse_to_the_field_type():
    config = apply(epochs="3", rate="2e-3", mode="exact", name="x", flag="true", limit="7", sizes="1, 5,9")
    assert config == Config(epochs=3, rate=2e-3, mode="exact", name="x", flag=True, limit=7, sizes=(1, 5, 9))


def test_bare_bool_flag_means_true_and_words_are_accepted():
    assert apply(flag=None).flag is True
    assert apply(flag="off").flag is False
    assert apply(flag="YES").flag is True


def test_optional_accepts_none():
    assert apply_overrides(Config(limit=3), {"limit": "none"}).limit is None


def test_overrides_do_not_touch_the_original():
    original = Config()
    apply_overrides(original, {"epochs": "9"})
    assert original.epochs == 5


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"epochs": "three"}, "--epochs expects an integer, got 'three'"),
        ({"epochs": "2.5"}, "--epochs expects an integer"),
        ({"rate": "fast"}, "--rate expects a finite number"),
        ({"rate": "nan"}, "--rate expects a finite number"),
        ({"rate": "inf"}, "--rate expects a finite number, got 'inf'"),
        ({"rate": "-Infinity"}, "--rate expects a finite number"),
        ({"mode": "slow"}, "--mode expects one of fast, exact, got 'slow'"),
        ({"flag": "maybe"}, "--flag expects true or false"),
        ({"sizes": "1,x"}, "--sizes expects a comma-separated list of integers"),
        ({"epochs": None}, "--epochs needs a value"),
        ({"epoch": "3"}, "unknown setting --epoch; did you mean --epochs?"),
        ({"zzz": "3"}, "unknown setting --zzz (`tfcook show RECIPE` lists them)"),
        ({"epochs": "0"}, "epochs must be at least 1, got 0"),
    ],
)
def test_bad_overrides_raise_one_clear_sentence(overrides, message):
    with pytest.raises(ConfigError) as err:
        apply(**overrides)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_field_docs_read_comments_beside_and_above():
    docs = {d.name: d for d in field_docs(Config)}
    assert docs["epochs"].comment == "passes over the data"
    assert docs["mode"].comment == "Which path to take: a comment above that spans two lines."
    assert docs["mode"].type == 'Literal["fast", "exact"]' or docs["mode"].type == "Literal['fast', 'exact']"
    assert docs["limit"].type == "int | None" and docs["limit"].default == "None"
    # A trailing comment on the line above belongs to that field, not to the next one.
    assert docs["name"].comment == ""


def test_parse_args_splits_runner_flags_from_settings():
    types = field_types(Config)
    flags, overrides = parse_args(
        ["--tiny", "--device", "cpu", "--out=/tmp/x", "--epochs", "3", "--rate=0.5", "--flag", "--mode", "exact", "--backend", "jax"],
        types,
    )
    assert flags == {"tiny": True, "backend": "jax", "device": "cpu", "out": "/tmp/x"}
    assert overrides == {"epochs": "3", "rate": "0.5", "flag": None, "mode": "exact"}
    assert parse_args(["--batch-size=4"], types)[1] == {"batch_size": "4"}


@pytest.mark.parametrize("argv", [["epochs=3"], ["--device"], ["-x"], ["--"]])
def test_parse_args_rejects_malformed_arguments(argv):
    with pytest.raises(ConfigError):
        parse_args(argv, field_types(Config))


def test_parse_header_reads_wrapped_fields_and_stops_at_the_body():
    doc = """Title here

    Summary: one line
    Origin: catalog `x`, from a doc
        that wraps
    Run: make recipe NAME=x

    Body: not a header field even though it looks like one.
    """
    header = parse_header(doc)
    assert header == {
        "title": "Title here",
        "summary": "one line",
        "origin": "catalog `x`, from a doc that wraps",
        "run": "make recipe NAME=x",
    }
