"""PNG figures for recipe results: image grids, heat-maps, curves, scatter plots and timelines.

Each function draws one figure with Matplotlib's object API (no pyplot, no global state, no
screen needed), writes it to `path` and returns the path as a string for the metrics.
Recipes pass NumPy arrays or plain lists; nothing here imports TensorFlow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _save(fig, path: Path | str) -> str:
    fig.savefig(str(path), format="png")
    return str(path)


def image_grid(
    images: Any,
    path: Path | str,
    *,
    titles: Sequence[str] | None = None,
    cols: int = 10,
    row_labels: Sequence[str] | None = None,
    title: str = "",
    cmap: str = "gray",
) -> str:
    """Images [N, H, W] or [N, H, W, 1|3] in a grid of `cols` columns, each with an optional title."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    rows = -(-len(images) // cols)
    fig = _figure(cols * 1.0, rows * (1.15 if titles is not None else 1.0) + (0.4 if title else 0))
    axes = fig.subplots(rows, cols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= len(images):
            ax.axis("off")
            continue
        ax.imshow(images[i], cmap=cmap)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    if row_labels is not None:
        for ax, label in zip(axes[:, 0], row_labels):
            ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def heatmap(
    matrix: Any,
    path: Path | str,
    *,
    x_labels: Sequence[str] | None = None,
    y_labels: Sequence[str] | None = None,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    annotate: bool = False,
    cmap: str = "viridis",
) -> str:
    """A matrix as colours (confusion matrices, attention weights), optionally with its values written in."""
    matrix = np.asarray(matrix)
    rows, cols = matrix.shape
    fig = _figure(max(4.0, 0.45 * cols + 2), max(3.5, 0.4 * rows + 1.5))
    ax = fig.subplots()
    im = ax.imshow(matrix, cmap=cmap, aspect="auto")
    fig.colorbar(im, ax=ax, shrink=0.8)
    for labels, set_ticks, set_labels, n in (
        (x_labels, ax.set_xticks, ax.set_xticklabels, cols),
        (y_labels, ax.set_yticks, ax.set_yticklabels, rows),
    ):
        if labels is not None:
            set_ticks(range(n))
            set_labels(list(labels), fontsize=8)
    if x_labels is not None:
        ax.tick_params(axis="x", labelrotation=60)
    if annotate:
        threshold = (np.nanmax(matrix) + np.nanmin(matrix)) / 2
        for (r, c), value in np.ndenumerate(matrix):
            text = f"{value:.0f}" if np.issubdtype(matrix.dtype, np.integer) or float(value).is_integer() else f"{value:.2f}"
            ax.text(c, r, text, ha="center", va="center", fontsize=7, color="black" if value > threshold else "white")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return _save(fig, path)


def curves(
    series: Mapping[str, Any],
    path: Path | str,
    *,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    logx: bool = False,
    logy: bool = False,
    points: bool = False,
) -> str:
    """Line plots on one axis: {label: ys} (x = 0, 1, ...) or {label: (xs, ys)}.

    `points=True` is for a few measured points rather than a curve: each is marked, and the x ticks
    are the measured xs, written plainly (1, 3, 10, 100 rather than a log axis's 10^0, 10^1).

    A label ending in "(val)" or "(test)" is drawn dashed in the colour of the label it follows,
    so train/validation pairs read as pairs.
    """
    fig = _figure(7, 4.2)
    ax = fig.subplots()
    colour = None
    for label, values in series.items():
        xs, ys = values if isinstance(values, tuple) else (np.arange(len(values)), values)
        dashed = label.endswith(("(val)", "(test)"))
        (line,) = ax.plot(xs, ys, label=label, linestyle="--" if dashed else "-", color=colour if dashed else None,
                          marker="o" if points else None, markersize=4)
        colour = line.get_color()
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if points:
        xs = sorted({float(x) for values in series.values() if isinstance(values, tuple) for x in values[0]})
        ax.set_xticks(xs, [f"{x:g}" for x in xs])
        ax.minorticks_off()
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2 if len(series) > 8 else 1)
    return _save(fig, path)


def scatter(
    points: Any,
    labels: Any,
    path: Path | str,
    *,
    names: Sequence[str] | None = None,
    annotations: Sequence[str] | None = None,
    title: str = "",
) -> str:
    """2-D points [N, 2] coloured by integer label (legend from `names`), optionally each annotated."""
    points, labels = np.asarray(points), np.asarray(labels)
    fig = _figure(6, 5)
    ax = fig.subplots()
    for value in np.unique(labels):
        keep = labels == value
        name = names[int(value)] if names is not None else str(value)
        ax.scatter(points[keep, 0], points[keep, 1], s=30, label=name)
    for (x, y), text in zip(points, annotations or []):
        ax.annotate(text, (x, y), fontsize=6, xytext=(2, 2), textcoords="offset points")
    ax.legend(fontsize=8)
    ax.set_title(title)
    return _save(fig, path)


def timeline(
    bars: Sequence[Mapping[str, Any]],
    path: Path | str,
    *,
    title: str = "",
    xlabel: str = "seconds",
) -> str:
    """A Gantt chart: each bar is {"lane", "start", "end", "label"} with an optional "failed": True."""
    lanes = sorted({bar["lane"] for bar in bars})
    fig = _figure(8, 1.0 + 0.6 * len(lanes))
    ax = fig.subplots()
    for bar in bars:
        y = lanes.index(bar["lane"])
        width = bar["end"] - bar["start"]
        ax.barh(y, width, left=bar["start"], color="tab:red" if bar.get("failed") else "tab:blue", edgecolor="white")
        ax.text(bar["start"] + width / 2, y, bar["label"], ha="center", va="center", color="white", fontsize=7)
    ax.set_yticks(range(len(lanes)))
    ax.set_yticklabels(lanes)
    ax.set(xlabel=xlabel, title=title)
    return _save(fig, path)
