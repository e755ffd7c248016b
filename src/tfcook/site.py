"""The documentation site: `make site` writes its Markdown from the recipes and their records, then
MkDocs (Material theme) builds it.

    python -m tfcook.site [--out build]      # then: mkdocs build --strict -f build/mkdocs.yml

Pages: a home page with the recipes by category; one page per recipe (its header, its tutorial text
and code in order, the recorded run's metrics, figures and benchmark, the command, "Open in Colab"
and "View source"); and the hand-written guides in docs/ (install, Colab and TPU, the runner, how
results are verified). Nothing here is edited by hand in the output: it is regenerated each build.
"""

from __future__ import annotations

import ast
import itertools
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from tfcook import cli, notebook, reference
from tfcook.results import _fmt, _is_rows

ROOT = reference.ROOT
GUIDES = ("install.md", "colab.md", "runner.md", "verification.md")
SOURCE_URL = f"https://github.com/{notebook.REPOSITORY}/blob/main"
LABELS = {"category": "Category", "backends": "Backends", "accelerator": "Runs on", "origin": "Origin",
          "bar": "Bar (asserted in CI)", "results": "Result", "peer": "Peer"}


# Recipe code lines run to ~120 characters: a wider column than Material's 61rem shows them whole.
EXTRA_CSS = ".md-grid { max-width: 80rem; }\n"


def config(docs: str = "docs") -> dict[str, Any]:
    """mkdocs.yml (written as JSON, which is YAML): the Material theme, recipes in the nav by category."""
    by_category = [{category.capitalize(): [{short_title(h): f"recipes/{h['name']}.md"} for h in group]}
                   for category, group in itertools.groupby(cli.headers(), key=lambda h: h.get("category", ""))]
    return {
        "site_name": "tfcook",
        "site_description": "A TensorFlow/Keras cookbook whose every number is asserted in CI and recorded",
        "site_url": notebook.SITE_URL,
        "repo_url": f"https://github.com/{notebook.REPOSITORY}",
        "docs_dir": docs,
        "extra_css": ["stylesheets/extra.css"],
        "site_dir": "site",
        "theme": {"name": "material", "features": ["navigation.sections", "navigation.top", "content.code.copy", "toc.follow"],
                  "palette": {"primary": "deep orange"}},
        "markdown_extensions": ["tables", "admonition", "attr_list", "md_in_html", {"toc": {"permalink": True}},
                                "pymdownx.highlight", "pymdownx.superfences", "pymdownx.inlinehilite"],
        "nav": [{"Home": "index.md"}, {"Recipes": by_category},
                {"Guides": [{"Install": "install.md"}, {"Colab and TPU": "colab.md"}, {"The runner": "runner.md"},
                            {"How results are verified": "verification.md"}]}],
    }


def short_title(header: dict[str, str]) -> str:
    """The title before its colon ("MNIST trainer"), for the navigation."""
    return header["title"].split(":")[0].strip()


def build(out: Path) -> list[Path]:
    """Write every page into `out`/docs and mkdocs.yml into `out`, and return the pages."""
    shutil.rmtree(out, ignore_errors=True)
    write_config(out)
    out = out / "docs"
    (out / "recipes").mkdir(parents=True)
    (out / "stylesheets").mkdir()
    write(out / "stylesheets" / "extra.css", EXTRA_CSS)
    pages = [write(out / "index.md", home())]
    for guide in GUIDES:
        pages.append(write(out / guide, (ROOT / "docs" / guide).read_text()))
    for name, path in cli.recipe_files().items():
        for png in reference.figures(name):
            (out / "results" / name).mkdir(parents=True, exist_ok=True)
            shutil.copy2(png, out / "results" / name / png.name)
        pages.append(write(out / "recipes" / f"{name}.md", recipe_page(name, path)))
    return pages


def write_config(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    return write(out / "mkdocs.yml", json.dumps(config(), indent=2) + "\n")


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def home() -> str:
    lines = [
        "# tfcook",
        "",
        "A TensorFlow/Keras cookbook: 29 classic ML and TensorFlow snippets, each turned into one complete,",
        "idiomatic program that reads as a tutorial. What sets it apart: every recipe runs in CI on real data",
        "with its claimed result asserted, every number shown here comes from a recorded run on a named",
        "machine ([how results are verified](verification.md)), and the same file runs on CPU, GPU and TPU:",
        "CI runs every recipe on its CPU at the newest releases and in Colab's CPU/GPU and TPU images as they",
        "ship (their package versions, on the CPU); no GPU or TPU run is recorded yet ([Colab and TPU](colab.md)).",
        "",
        "[Install](install.md) · [Colab and TPU](colab.md) · [The runner](runner.md)",
        "",
    ]
    return "\n".join(lines) + "\n" + cli.markdown_table(lambda name: f"recipes/{name}.md", heading="##")


def recipe_page(name: str, path: Path) -> str:
    source = path.read_text()
    tree = ast.parse(source)
    header = cli.parse_header(ast.get_docstring(tree))
    intro = (ast.get_docstring(tree) or "").split("\n\n")[2:]  # the prose after the title and the header block
    lines = [f"# {header['title']}", "", buttons(name), "", header.get("summary", ""), ""]
    lines += [f"- **{label}:** {header[key]}" for key, label in LABELS.items() if key in header]
    lines += ["", *intro, ""]
    sections, notes = notebook.split_notes(notebook.cell_sources(source, tree))
    for kind, text in sections:
        lines += [prose(text) if kind == "markdown" else f"```python\n{text}\n```", ""]
    lines += run_section(name), ""
    lines += results_section(name), ""
    if notes:
        lines += [prose(notes), ""]
    return "\n".join(lines)


LIST_ITEM = re.compile(r"(?:[-*+]|\d+\.) ")


def prose(text: str) -> str:
    """A recipe's Markdown as Python-Markdown reads it the way Jupyter does: a list may follow a
    paragraph line directly, and a wrapped line that starts with ">" (">= 8 %") is text, not a quote."""
    out: list[str] = []
    for line in text.splitlines():
        if LIST_ITEM.match(line) and out and out[-1].strip() and not LIST_ITEM.match(out[-1]) and not out[-1].startswith(" "):
            out.append("")
        out.append("\\" + line if line.startswith(">") else line)
    return "\n".join(out)


def buttons(name: str) -> str:
    return (f"[Open in Colab]({notebook.colab_url(name)}){{ .md-button .md-button--primary }} "
            f"[View source on GitHub]({SOURCE_URL}/recipes/{name}.py){{ .md-button }}")


def run_section(name: str) -> str:
    return "\n".join([
        "## Commands", "",
        "```sh",
        f"make recipe NAME={name}                 # the recorded run below (the default config)",
        f"make recipe NAME={name} ARGS=--tiny     # a check that takes seconds",
        f"make reference NAME={name}              # re-record: writes docs/results/{name}/",
        "```",
    ])


def results_section(name: str) -> str:
    try:
        record = reference.load(name)
    except FileNotFoundError:
        return "## Recorded run\n\nNo reference record yet: `make reference NAME=" + name + "` writes one."
    ref = record.get("reference", {})
    backend = record.get("backend", {})
    lines = ["## Recorded run", "",
             f"`{ref.get('command', 'make reference NAME=' + name)}` on {ref.get('date', '?')}: "
             f"{ref.get('machine', '?')}; {backend.get('name', '?')} {backend.get('version', '')}, "
             f"commit `{ref.get('commit', '?')[:12]}`, {record.get('wall_time_s', '?')} s wall. "
             f"The record: [result.json]({SOURCE_URL}/docs/results/{name}/result.json).", ""]
    lines += metrics_tables(record.get("metrics", {}))
    lines += figure_lines(name)
    if "bench" in record:
        lines += bench_section(record["bench"])
    return "\n".join(lines)


FILES = (".png", ".keras", ".tflite", ".h5", ".key", ".json", ".npy", ".npz", "shards")  # paths a run wrote: the figures are shown, the rest stayed behind


def _is_path(value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    return bool(values) and all(isinstance(v, str) and v.endswith(FILES) for v in values)


def figure_lines(name: str) -> list[str]:
    """Each figure with its file name; a numbered series (a GAN's grid after every epoch) as a row of thumbnails."""
    lines = []
    series = itertools.groupby(reference.figures(name), key=lambda png: re.sub(r"_?\d+$", "", png.stem))
    for stem, group in series:
        pngs = list(group)
        if len(pngs) > 3:
            lines += [" ".join(f'![{p.stem}](../results/{name}/{p.name}){{ width="150" }}' for p in pngs), "",
                      f"*{pngs[0].name} ... {pngs[-1].name}*", ""]
        else:
            for png in pngs:
                lines += [f"![{png.stem}](../results/{name}/{png.name})", "", f"*{png.name}*", ""]
    return lines


def metrics_tables(metrics: dict[str, Any]) -> list[str]:
    scalars = {k: v for k, v in metrics.items() if not _is_rows(v) and not _is_path(v)}
    lines = ["| metric | value |", "|---|---|", *(f"| `{k}` | {_cell(v)} |" for k, v in scalars.items()), ""]
    for key, rows in metrics.items():
        if _is_rows(rows):
            lines += [f"**{key}**", "", *markdown_table(rows), ""]
    return lines


def bench_section(bench: dict[str, Any]) -> list[str]:
    lines = ["### Against the peer (`make bench`)", ""]
    if bench.get("rows"):
        lines += [*markdown_table(bench["rows"]), ""]
    lines += [f"- **{k}:** {_cell(v)}" for k, v in bench.get("summary", {}).items()]
    return lines + [""]


def markdown_table(rows: list[dict[str, Any]]) -> list[str]:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns),
            *("| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |" for row in rows)]


def _number(value: Any) -> str:
    """As the runner prints it, except large numbers in full (2,352,828, not 2.35e+06) and no value as a dash."""
    if value is None or value == []:
        return "–"
    if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) >= 1e5:
        return f"{value:,.0f}"
    return _fmt(value)


def _cell(value: Any, limit: int = 160) -> str:
    """A table cell: long values (an error message, a long list) cut to `limit` characters; result.json has them whole."""
    text = _number(value).replace("\n", " ")
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + " ..."
    return text.replace("|", "\\|")


def main(argv: list[str]) -> int:
    out = Path(argv[argv.index("--out") + 1]) if "--out" in argv else ROOT / "build"
    pages = build(out)
    print(f"tfcook.site: wrote {len(pages)} pages and mkdocs.yml into {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
