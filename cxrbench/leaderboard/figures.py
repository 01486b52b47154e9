"""Matplotlib figures: a per-finding heatmap of one metric, sample grids, a metric-vs-metric scatter,
FD against n for the FD∞ cells."""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np
from PIL import Image

from cxrbench.leaderboard.fd_curves import FdCurve, plain_name
from cxrbench.leaderboard.table import Leaderboard


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


Figure = TypeVar("Figure", bound=Callable)


def _names_as_text(draw: Figure) -> Figure:
    """Draw with mathtext off: a "$" in a model or task name is shown, never parsed (a failed parse would
    stop the whole site)."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with _pyplot().rc_context({"text.parse_math": False}):
            return draw(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@_names_as_text
def heatmap(board: Leaderboard, metric: str, out: Path) -> Path:
    """Models x (task, condition) values of ``metric``; darker is better whatever the direction."""
    plt = _pyplot()
    columns = [(t, c.condition, i) for t in board.tasks for i, c in enumerate(t.columns) if c.metric == metric]
    models = board.overview.models
    values = np.full((len(models), len(columns)), np.nan)
    for r, model in enumerate(models):
        for k, (table, _, i) in enumerate(columns):
            cell = table.cells.get((model, i))
            if cell is not None and not cell.missing:
                values[r, k] = cell.value
    schema = board.schemas[metric]
    fig, ax = plt.subplots(figsize=(1.1 * len(columns) + 2.5, 0.5 * len(models) + 1.8))
    cmap = "viridis_r" if schema["direction"] == "higher" else "viridis"
    image = ax.imshow(values, cmap=cmap, aspect="auto")
    ax.set_xticks(range(len(columns)), [f"{t.title}\n{c}" for t, c, _ in columns], fontsize=7, rotation=30, ha="right")
    ax.set_yticks(range(len(models)), models, fontsize=8)
    for r in range(len(models)):
        for k in range(len(columns)):
            text = "n/a" if math.isnan(values[r, k]) else f"{values[r, k]:.3g}"
            ax.text(k, r, text, ha="center", va="center", fontsize=7, color=_label_colour(image, values[r, k]))
    arrow = "lower" if schema["direction"] == "lower" else "higher"
    valid = all(t.columns[i].valid for t, _, i in columns)
    warning = "" if valid else "\nits feature space failed the validity check on this dataset: not ranked"
    ax.set_title(f"{schema['display_name']} ({arrow} is better){warning}", fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def _label_colour(image, value: float) -> str:
    """Black on a light cell, white on a dark one (relative luminance of the cell's colour), grey for n/a."""
    if math.isnan(value):
        return "0.3"
    red, green, blue, _ = image.cmap(image.norm(value))
    return "black" if 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.45 else "white"


SAMPLE_INCHES, SAMPLE_DPI = 1.6, 100  # 160 px per sample image in the site's grids


@_names_as_text
def sample_grid(
    run_dir: Path, models: list[str], task: str, condition: str, out: Path, per_row: int = 6
) -> Path | None:
    """One row of samples per model (real-holdout first when present: real images) for one cell, each
    sample drawn ``SAMPLE_INCHES`` x ``SAMPLE_DPI`` pixels wide (nearest neighbour: no smoothing)."""
    plt = _pyplot()
    if not all(plain_name(name) for name in (task, condition)):
        return None
    ordered = sorted((m for m in models if plain_name(m)), key=lambda m: m != "real-holdout")
    rows = []
    for model in ordered:
        files = sorted((Path(run_dir) / "samples" / model / task / condition).glob("*.png"))[:per_row]
        if files:
            rows.append((model, [np.asarray(Image.open(f)) for f in files]))
    if not rows:
        return None
    fig, axes = plt.subplots(
        len(rows), per_row, figsize=(per_row * SAMPLE_INCHES + 0.6, len(rows) * SAMPLE_INCHES + 0.5), squeeze=False
    )
    for r, (model, images) in enumerate(rows):
        for k in range(per_row):
            ax = axes[r, k]
            ax.set_xticks([]), ax.set_yticks([])
            if k < len(images):
                ax.imshow(images[k], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            else:
                ax.axis("off")
        axes[r, 0].set_ylabel("real" if model == "real-holdout" else model, fontsize=7)
    fig.suptitle(f"{task} / {condition}", fontsize=11)
    fig.subplots_adjust(
        left=0.6 / (per_row * SAMPLE_INCHES + 0.6),
        right=1,
        bottom=0,
        top=1 - 0.5 / (len(rows) * SAMPLE_INCHES + 0.5),
        wspace=0,
        hspace=0,
    )
    fig.savefig(out, dpi=SAMPLE_DPI)
    plt.close(fig)
    return out


@_names_as_text
def scatter(board: Leaderboard, task: str, x_metric: str, y_metric: str, out: Path) -> Path | None:
    """One finding: a point per model and condition, ``x_metric`` against ``y_metric`` (e.g. precision/recall)."""
    plt = _pyplot()
    table = next((t for t in board.tasks if t.title == task), None)
    if table is None:
        return None

    def value(model: str, metric: str, condition: str) -> float | None:
        index = next((i for i, c in enumerate(table.columns) if c.metric == metric and c.condition == condition), None)
        cell = table.cells.get((model, index)) if index is not None else None
        return None if cell is None or cell.missing else cell.value

    fig, ax = plt.subplots(figsize=(4.5, 4))
    drawn = False
    for model in table.models:
        for condition, marker in (("present", "o"), ("absent", "s")):
            x, y = value(model, x_metric, condition), value(model, y_metric, condition)
            if x is not None and y is not None:
                ax.scatter([x], [y], marker=marker, s=30, label=f"{model} ({condition})")
                drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel(board.schemas[x_metric]["display_name"]), ax.set_ylabel(board.schemas[y_metric]["display_name"])
    ax.set_title(task, fontsize=10)
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def _size_ticks(sizes: list[int], count: int = 4) -> list[int]:
    """Up to ``count`` subset sizes whose 1 / n' are about evenly spaced between the smallest and largest."""
    low, high = min(sizes), max(sizes)
    targets = np.linspace(1 / high, 1 / low, count)
    return sorted({min(sizes, key=lambda s: abs(1 / s - t)) for t in targets})


@_names_as_text
def fd_against_n(curve: FdCurve, out: Path) -> Path:
    """FD against 1 / n' for one cell: per model the FD at each subset size n' (dots), the fitted line
    extended to 1 / n' = 0 where its value is FD∞ (diamond), the FD at full n (open square); the
    real-vs-real floor dashed grey. The x axis is linear in 1 / n' and labelled in n' (∞ at the left)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    colours = iter(plt.rcParams["axes.prop_cycle"].by_key()["color"] * (len(curve.series) // 10 + 1))
    sizes = [s for series in curve.series for s in series.sizes]
    right = 1.08 / min(sizes)
    for series in curve.series:
        colour, style = ("0.45", "--") if series.floor else (next(colours), "-")
        label = f"{series.model} (real vs real: the floor)" if series.floor else series.model
        x = 1 / np.asarray(series.sizes, dtype=float)
        ax.plot(x, series.fd, "o", color=colour, markersize=3.5, alpha=0.7)
        line = np.array([0.0, x.max()])
        ax.plot(line, series.intercept + series.slope * line, style, color=colour, linewidth=1.4, label=label)
        ax.plot(
            [0.0], [series.intercept], "D", color=colour, markersize=7, markeredgecolor="black", clip_on=False, zorder=5
        )
        if series.full_n is not None and series.full_fd is not None:
            ax.plot(
                [1 / series.full_n],
                [series.full_fd],
                "s",
                markersize=10,
                markerfacecolor="none",
                markeredgecolor=colour,
                markeredgewidth=1.6,
                zorder=5,
            )
    ticks = _size_ticks(sizes)
    ax.set_xticks([0.0] + [1 / s for s in ticks], ["∞"] + [str(s) for s in ticks])
    ax.set_xlim(-0.03 * right, right)
    ax.axvline(0.0, color="0.8", linewidth=0.8, zorder=0)
    ax.set_xlabel("images per subset n' (axis spaced as 1/n': the fit is a line; 1/n' = 0 at the left)", fontsize=8)
    ax.set_ylabel(f"FD in {curve.space}", fontsize=9)
    ax.set_title(f"{curve.task} / {curve.condition}: FD against n", fontsize=10)
    ax.plot([], [], "D", color="white", markeredgecolor="black", label="FD∞: the line at 1/n' = 0")
    ax.plot([], [], "s", markerfacecolor="none", markeredgecolor="black", label="FD at full n")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.savefig(out, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return out
