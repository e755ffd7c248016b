"""Reference records (docs/results/NAME/, written by `make reference NAME=...`): one per recipe, of
its current default config, naming commit, date and machine; and every number in a header's headline
result is in its record, as printed after rounding."""

from __future__ import annotations

import ast
import json
import math
import re

import pytest

from conftest import RECIPES
from tfcook import reference
from tfcook.cli import header_of, recipe_files

NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?:e-?\d+)?")
# A headline writes a fraction as a percentage, bytes as KB or MB: a printed number may be the value scaled.
SCALES = (1, 100, 1e-3, 1e-6)


def headline_numbers(text: str) -> list[str]:
    """The numbers in a headline, outside `code` spans (commands such as `--epochs=5`)."""
    return NUMBER.findall(re.sub(r"`[^`]*`", "", text))


def record_numbers(value) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in record_numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in record_numbers(v)]
    return []


def printed_as(value: float, number: str) -> bool:
    """True if `value`, at one of SCALES and rounded to `number`'s decimals, prints as `number`."""
    text = number.replace(",", "")
    decimals = len(text.split(".")[1].split("e")[0]) if "." in text else 0
    target = abs(float(text))
    for scale in SCALES:
        scaled = abs(value) * scale
        if "e" in text:  # 2.3e-06: compare at that many significant digits
            if scaled and math.isclose(float(f"{scaled:.{decimals}e}"), target, rel_tol=1e-9):
                return True
        elif math.isclose(round(scaled, decimals), target, abs_tol=10 ** -(decimals + 3)):
            return True
    return False


def literal_defaults(path) -> dict:
    """The Config fields whose defaults are literals, read from the source (importing the recipes would
    load tfmot, which switches Keras to tf_keras for the whole test process)."""
    tree = ast.parse(path.read_text())
    (config,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Config"]
    defaults = {}
    for node in config.body:
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            try:
                defaults[node.target.id] = json.loads(json.dumps(ast.literal_eval(node.value)))
            except ValueError:
                pass  # field(default_factory=...) and other expressions
    return defaults


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_has_a_reference_record_of_its_default_config(name):
    folder = reference.record_dir(name)
    assert (folder / "result.json").exists(), f"no record: run `make reference NAME={name}`"
    record = reference.load(name)
    stamp = record["reference"]
    assert re.fullmatch(r"[0-9a-f]{40}", stamp["commit"]), f"{name}'s record was made from uncommitted code: {stamp['commit']}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", stamp["date"]) and "cores" in stamp["machine"]
    assert record["backend"]["name"] in ("tensorflow", "jax") and record["wall_time_s"] > 0
    settings = [a for i, a in enumerate(record["argv"]) if "--out" not in record["argv"][max(i - 1, 0) : i + 1]]
    assert settings == [], f"{name}'s record is not of the default config: {record['argv']}"
    changed = {k: (v, record["config"].get(k)) for k, v in literal_defaults(recipe_files()[name]).items() if record["config"].get(k) != v}
    assert not changed, f"{name}'s defaults changed since its record (default, recorded): {changed}; run `make reference NAME={name}`"


@pytest.mark.parametrize("name", RECIPES)
def test_figures_the_run_drew_are_in_the_record(name):
    record = reference.load(name)
    drawn = [v for v in json.dumps(record["metrics"]).split('"') if v.endswith(".png")]
    kept = {p.name for p in reference.figures(name)}
    assert {d.rsplit("/", 1)[-1] for d in drawn} <= kept


@pytest.mark.parametrize("name", RECIPES)
def test_headline_numbers_are_in_the_record(name):
    headline = header_of(recipe_files()[name])["results"]
    assert len(headline.split()) <= 15, f"{name}'s headline has {len(headline.split())} words (at most 15)"
    values = record_numbers(reference.load(name))
    missing = [n for n in headline_numbers(headline) if not any(printed_as(v, n) for v in values)]
    assert not missing, f"{name}'s headline numbers {missing} are not in docs/results/{name}/ (re-record or fix the header)"


def test_summaries_are_short():
    long = {n: len(header_of(p)["summary"].split()) for n, p in recipe_files().items() if len(header_of(p)["summary"].split()) > 12}
    assert not long, f"summaries over 12 words: {long}"


def test_number_matching():
    assert printed_as(0.98456, "98.5") and printed_as(0.98456, "98.46") and not printed_as(0.98456, "98.47")
    assert printed_as(12.934, "12.93") and printed_as(230_100, "230") and printed_as(2.31e-6, "2.3e-06")
    assert printed_as(-0.0002, "-0.02") and not printed_as(0.5, "7")
    assert headline_numbers("98.46 % vs 97.48 % (`--epochs=5`), 1,250 steps") == ["98.46", "97.48", "1,250"]


def test_reference_refuses_unknown_recipes(capsys):
    assert reference.main(["mnsit"]) == 2
    assert "unknown: mnsit" in capsys.readouterr().err
