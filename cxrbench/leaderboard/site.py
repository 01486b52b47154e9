"""`cxrbench leaderboard publish`: a static HTML site (no server) with tables, figures, samples, manifests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import tomli_w
from jinja2 import Environment, PackageLoader, select_autoescape

from cxrbench import __version__
from cxrbench.leaderboard.fd_curves import FdCurve, fd_curves
from cxrbench.leaderboard.figures import SAMPLE_DPI, SAMPLE_INCHES, fd_against_n, heatmap, sample_grid, scatter
from cxrbench.leaderboard.store import load_results
from cxrbench.leaderboard.table import Leaderboard, Table, build_leaderboards
from cxrbench.leaderboard.text import header, interval, intro, number, validity_intro, weights_note
from cxrbench.metric_ids import metric_id, split_id
from cxrbench.run_dir import MANIFEST

# Settings a reproduction needs; where and how the run was written are left out.
_NOT_REPRODUCED = {"out", "resume", "cache_dir", "device"}


def _invalid_note(board: Leaderboard, column) -> str:
    """Why a column is marked (its feature space failed its validity check), or ''."""
    if column.valid:
        return ""
    space = next(space for space in board.invalid if column.metric in space.metrics)
    return f"feature space {space.space} failed its validity check: {space.detail}"


def _table_view(board: Leaderboard, table: Table, with_intervals: bool) -> dict:
    headers = [
        {
            "text": header(board, c),
            "description": board.schemas[c.metric].get("description", ""),
            "invalid": _invalid_note(board, c),
        }
        for c in table.columns
    ]
    rows = []
    for model in table.models:
        cells = [
            {
                "text": number(None if cell is None else cell.value),
                "best": bool(cell and cell.best),
                "interval": "" if cell is None or not with_intervals else interval(cell),
                "sort": "" if cell is None else repr(float(cell.value)),
            }
            for cell in table.row(model)
        ]
        label = table.rank_label(model)
        rows.append(
            {
                "model": model,
                "reference": model in table.references,
                "cells": cells,
                "rank": label,
                "rank_sort": label if label.isdigit() else "",
            }
        )
    return {"title": table.title, "headers": headers, "rows": rows}


def _finding_view(board: Leaderboard, table: Table) -> dict:
    """One finding, transposed so that it fits a screen: a row per metric and condition, a column per model
    (competitors in rank order, then the references), each value with its interval below it."""
    models = [{"name": m, "label": table.rank_label(m), "reference": m in table.references} for m in table.models]
    rows = []
    for i, column in enumerate(table.columns):
        cells = []
        for model in table.models:
            cell = table.cells.get((model, i))
            cell = None if cell is None or cell.missing else cell
            cells.append(
                {
                    "text": number(None if cell is None else cell.value),
                    "best": bool(cell and cell.best),
                    "interval": "" if cell is None else interval(cell),
                    "reference": model in table.references,
                }
            )
        rows.append(
            {
                "metric": header(board, column),
                "description": board.schemas[column.metric].get("description", ""),
                "invalid": _invalid_note(board, column),
                "cells": cells,
            }
        )
    return {"title": table.title, "models": models, "rows": rows, "samples": []}


def _reproduce(manifest: dict) -> str:
    config = {k: v for k, v in manifest.get("config", {}).items() if k not in _NOT_REPRODUCED and v is not None}
    return tomli_w.dumps(json.loads(json.dumps(config)))


def _fd_curve_view(curve: FdCurve, src: str) -> dict:
    caption = f"{curve.task} / {curve.condition}, {curve.metric}"
    if curve.without_fit:
        caption += (
            f"; no fit drawn for {', '.join(curve.without_fit)} (its {curve.metric} review file is missing "
            "or does not match its row)"
        )
    return {"src": src, "alt": f"FD against n: {curve.task} / {curve.condition} ({curve.space})", "caption": caption}


def publish(run_dirs: list[Path], out: Path, samples_per_row: int = 6) -> Path:
    """Write the site into ``out`` (index.html, figures/, runs/); returns the index path.

    Run folders without review files (or without FD∞ rows) get no FD-against-n figures."""
    merged = load_results(run_dirs)
    out = Path(out)
    figures_dir = out / "figures"
    shutil.rmtree(figures_dir, ignore_errors=True)
    figures_dir.mkdir(parents=True, exist_ok=True)
    boards = []
    for b, board in enumerate(build_leaderboards(merged.rows)):
        figures = []
        s = board.setting
        setting = (s["dataset"], s["resolution"], s["n"], s["seed"])
        # File names use indices only: names in results.jsonl must never steer where files go.
        for m, metric in enumerate(board.schemas):
            if any(t.columns[i].metric == metric for t in board.tasks for _, i in t.cells):  # cells hold values
                path = heatmap(board, metric, figures_dir / f"s{b}-heatmap-{m}.png")
                figures.append({"src": f"figures/{path.name}", "alt": f"{metric} per finding and condition"})
        # Rows name the space (precision@cxr-evaluator): one scatter per space that has both metrics.
        spaces = [space for name, space in map(split_id, board.schemas) if name == "precision" and space]
        pairs = [
            (metric_id("precision", space), metric_id("recall", space))
            for space in spaces
            if metric_id("recall", space) in board.schemas
        ]
        for p, (x_metric, y_metric) in enumerate(pairs):
            for t, table in enumerate(board.tasks):
                path = scatter(
                    board, table.title, x_metric, y_metric, figures_dir / f"s{b}-precision-recall-{p}-{t}.png"
                )
                if path is not None:
                    figures.append(
                        {
                            "src": f"figures/{path.name}",
                            "alt": f"precision against recall ({split_id(x_metric)[1]}): {table.title}",
                        }
                    )
        curves = []
        for c, curve in enumerate(fd_curves(merged.rows, merged.sources, setting, board.overview.models)):
            path = fd_against_n(curve, figures_dir / f"s{b}-fd-vs-n-{c}.png")
            curves.append(_fd_curve_view(curve, f"figures/{path.name}"))
        findings = [_finding_view(board, t) for t in board.tasks]
        for r, run_dir in enumerate(dict.fromkeys(merged.sources[key] for key in merged.sources if key[:4] == setting)):
            for t, table in enumerate(board.tasks):
                for condition in ("present", "absent"):
                    name = f"s{b}-r{r}-t{t}-{condition}.png"
                    path = sample_grid(
                        Path(run_dir),
                        board.overview.models,
                        table.title,
                        condition,
                        figures_dir / name,
                        samples_per_row,
                    )
                    if path is not None:  # shown under the finding's table
                        findings[t]["samples"].append(
                            {
                                "src": f"figures/{path.name}",
                                "alt": f"samples: {table.title} / {condition}",
                                "sample_px": int(SAMPLE_INCHES * SAMPLE_DPI),
                            }
                        )
        boards.append(
            {
                "title": f"{s['dataset']}, {s['resolution']} px, n = {s['n']}, seed {s['seed']}",
                "intro": intro(board).replace("`", ""),
                "tables": [_table_view(board, board.overview, False)],
                "findings": findings,
                "warnings": board.warnings,
                "unavailable": [{"metric": m, "model": mo, "reason": r} for m, mo, r in board.unavailable],
                "validity_intro": validity_intro(board),
                "invalid": [
                    {"space": s.space, "metrics": ", ".join(s.metrics), "detail": s.detail} for s in board.invalid
                ],
                "figures": figures,
                "fd_curves": curves,
            }
        )
    runs = []
    for i, run_dir in enumerate(run_dirs):
        folder = out / "runs" / str(i)
        folder.mkdir(parents=True, exist_ok=True)
        manifest_path = Path(run_dir) / MANIFEST
        manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
        (folder / "config.toml").write_text(_reproduce(manifest))
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))
        runs.append(
            {
                "name": str(run_dir),
                "config_href": f"runs/{i}/config.toml",
                "command": f"cxrbench run --config runs/{i}/config.toml --out RUN_DIR",
                "manifest": json.dumps(manifest, indent=2),
                "weights": (weights_note(manifest) or "").replace("`", ""),
            }
        )
    environment = Environment(
        loader=PackageLoader("cxrbench.leaderboard", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    html = environment.get_template("site.html.j2").render(
        boards=boards, runs=runs, conflicts=merged.conflicts, version=__version__
    )
    index = out / "index.html"
    index.write_text(html, encoding="utf-8")
    return index
