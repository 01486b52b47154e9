"""Matplotlib figures: a per-finding heatmap of one metric, sample grids, a metric-vs-metric scatter."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from cxrbench.leaderboard.table import Leaderboard


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plain(name: str) -> bool:
    """A name that is one path component (never '..', never a separator): safe to join to a folder."""
    return bool(name) and name not in (".", "..") and Path(name).name == name and "\\" not in name


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
            ax.text(k, r, text, ha="center", va="center", fontsize=7, color="white")
    arrow = "lower" if schema["direction"] == "lower" else "higher"
    ax.set_title(f"{schema['display_name']} ({arrow} is better)", fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def sample_grid(run_dir: Path, models: list[str], task: str, condition: str, out: Path, per_row: int = 8) -> Path | None:
    """One row of samples per model (real-holdout first when present: real images) for one cell."""
    plt = _pyplot()
    if not all(_plain(name) for name in (task, condition)):
        return None
    ordered = sorted((m for m in models if _plain(m)), key=lambda m: m != "real-holdout")
    rows = []
    for model in ordered:
        files = sorted((Path(run_dir) / "samples" / model / task / condition).glob("*.png"))[:per_row]
        if files:
            rows.append((model, [np.asarray(Image.open(f)) for f in files]))
    if not rows:
        return None
    fig, axes = plt.subplots(len(rows), per_row, figsize=(per_row * 1.1, len(rows) * 1.2 + 0.4), squeeze=False)
    for r, (model, images) in enumerate(rows):
        for k in range(per_row):
            ax = axes[r, k]
            ax.set_xticks([]), ax.set_yticks([])
            if k < len(images):
                ax.imshow(images[k], cmap="gray", vmin=0, vmax=255)
            else:
                ax.axis("off")
        axes[r, 0].set_ylabel("real" if model == "real-holdout" else model, fontsize=7)
    fig.suptitle(f"{task} / {condition}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


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
