"""Write a real-data results document (docs/results/nih-sample.md) from a finished run folder.

Everything in it is read from the run: the data table and the evaluator's AUROC from manifest.json,
the feature-space validity verdicts, the run's own leaderboard.md, and the count of cells where
`real-holdout` is lowest and `noise` highest on each headline distribution metric (computed from
results.jsonl). Wall and CPU time come from a GNU ``/usr/bin/time -v`` log of the run, if given.

    /usr/bin/time -v cxrbench run --config docs/results/nih-sample.toml --out runs/nih-sample 2> time.log
    PYTHONPATH=. python benchmarks/real_data_report.py runs/nih-sample --time-log time.log \
        --out docs/results/nih-sample.md [--how "one thread, cgan trained in the run"]
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

from cxrbench.results import OK, read_rows
from cxrbench.tasks import FINDINGS

HEADLINE = (
    ("frd@radiomics", "FRD (radiomics)"),
    ("fd@cxr-evaluator", "CXR-FD (cxr-evaluator)"),
    ("kid@cxr-evaluator", "CXR-KID (cxr-evaluator)"),
    ("fd_inf@cxr-evaluator", "FD∞ (cxr-evaluator)"),
)
FLOOR, WORST = "real-holdout", "noise"
REAL_IMAGES = ("train-copy",)  # real training images returned as they are: they sit at the floor by design
COMMAND = "PYTHONPATH=. python benchmarks/real_data_report.py"


def timing(log: Path | None) -> str:
    if log is None:
        return "Time: not recorded."
    text = log.read_text()
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text).group(1)
    cpu = sum(float(re.search(rf"{kind} time \(seconds\): (\S+)", text).group(1)) for kind in ("User", "System"))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 2**20
    return f"Time: {wall} (h:mm:ss or m:ss) wall, {cpu:.0f} CPU s, peak RSS {rss:.1f} GB."


def counts(rows, metric: str) -> tuple[str, str, list[str]]:
    """'k of n' cells where the floor is lowest, where noise is highest, and the exceptions."""
    cells = defaultdict(dict)
    for r in rows:
        if r.metric == metric and r.status == OK and r.value is not None and r.model not in REAL_IMAGES:
            cells[(r.task, r.condition)][r.model] = r.value
    floor_n = floor_k = worst_n = worst_k = 0
    exceptions = []
    for (task, condition), values in sorted(cells.items()):
        if len(values) < 2:
            continue
        if FLOOR in values:
            floor_n += 1
            lowest = min(values, key=values.get)
            floor_k += lowest == FLOOR
            if lowest != FLOOR:
                exceptions.append(
                    f"{task} / {condition}: `{lowest}` lowest ({values[lowest]:.4g} against "
                    f"`{FLOOR}` {values[FLOOR]:.4g})"
                )
        if WORST in values:
            worst_n += 1
            highest = max(values, key=values.get)
            worst_k += highest == WORST
            if highest != WORST:
                exceptions.append(
                    f"{task} / {condition}: `{highest}` highest ({values[highest]:.4g} against "
                    f"`{WORST}` {values[WORST]:.4g})"
                )
    return f"{floor_k} of {floor_n}", f"{worst_k} of {worst_n}", exceptions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--time-log", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--how", default="", help="how the run was made (threads, other load, what was cached)")
    parser.add_argument(
        "--config-path",
        default="docs/results/nih-sample.toml",
        help="the TOML the run was made with, as the document names it",
    )
    args = parser.parse_args()
    manifest = json.loads((args.run / "manifest.json").read_text())
    config, rows = manifest["config"], read_rows(args.run / "results.jsonl")
    models = ", ".join(f"`{m}`" for m in config["models"])
    out = [
        f"# Real-data leaderboard: {config['data']}",
        "",
        f"Made by `cxrbench run --config {args.config_path} --out {config['out']}` and then "
        f"`{COMMAND} {config['out']} --time-log TIME_LOG --out {args.out}`, which writes this file from the "
        f"run folder. cxrbench {manifest['cxrbench_version']}; dataset `{config['data']}` from "
        f"`{config['data_root']}`, {config['resolution']} px, n = {config['n_samples']} per task and condition, "
        f"seed {config['seed']}, {config['bootstrap']} bootstrap resamples; models {models}. "
        + timing(args.time_log)
        + (f" {args.how}" if args.how else ""),
        "",
        "## Data (from the manifest; present / absent images)",
        "",
        "| split | images | patients | " + " | ".join(f.replace("_", " ") for f in FINDINGS) + " |",
        "| --- | --- | --- | " + " | ".join("---" for _ in FINDINGS) + " |",
    ]
    for split, c in manifest["dataset"]["counts"].items():
        out.append(
            f"| {split} | {c['images']} | {c['patients']} | "
            + " | ".join(f"{c[f]['present']} / {c[f]['absent']}" for f in FINDINGS)
            + " |"
        )
    out += ["", "The test split is cut by patient into the metrics' reference half and the `real-holdout` half.", ""]
    evaluator = manifest["feature_spaces"].get("cxr-evaluator", {})
    if "test_auroc" in evaluator:
        auroc = evaluator["test_auroc"]
        mean = sum(auroc[f] for f in FINDINGS) / len(FINDINGS)
        out += [
            f"The CXR evaluator (trained on the {manifest['dataset']['counts']['train']['images']} training "
            f"images at {config['resolution']} px) reaches test AUROC "
            + ", ".join(f"{f.replace('_', ' ')} {auroc[f]:.3f}" for f in FINDINGS)
            + f" (mean {mean:.3f}).",
            "",
        ]
    out += [
        "## Which feature spaces hold on this data (the run's validity check)",
        "",
        "Each space a distribution metric reads is checked on the run's own images (docs/leaderboard.md): the "
        "Fréchet distance between real halves must be below that of blurred and noisy real images and of the "
        "`noise` model, the `noise` model must be farther than the mildest blur and the mildest noise, and every "
        "stronger step must be farther.",
        "",
        "| space | verdict | n | FD real vs real | blur (3 steps) | noise (3 steps) | noise model | failed checks |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, v in manifest["space_validity"].items():
        fd = v["fd"]
        series = ", ".join
        out.append(
            f"| `{name}` | **{v['verdict']}** | {v['n']} | {fd['floor']:.4g} | "
            f"{series(f'{x:.4g}' for x in fd['blur'])} | {series(f'{x:.4g}' for x in fd['noise'])} | "
            f"{fd['noise_model']:.4g} | {', '.join(v['failed']) or '-'} |"
        )
    unavailable = [n for n, s in manifest["feature_spaces"].items() if s.get("status") == "unavailable"]
    if unavailable:
        out += [
            "",
            "Spaces without weights here ("
            + ", ".join(f"`{n}`" for n in unavailable)
            + ") are unavailable and get no verdict.",
        ]
    out += [
        "",
        f"## Does the judge order the references? (`{FLOOR}` lowest, `{WORST}` highest, per cell)",
        "",
        "Counted over the per-finding cells where the model has a value, among every model of the run but "
        "`train-copy` (real training images, at the floor by design). A metric whose space failed the "
        "validity check is shown but does not rank the leaderboard.",
        "",
        f"| metric (space) | its space | `{FLOOR}` lowest | `{WORST}` highest |",
        "| --- | --- | --- | --- |",
    ]
    notes = []
    for metric, label in HEADLINE:
        floor, worst, exceptions = counts(rows, metric)
        verdict = manifest["space_validity"].get(metric.split("@")[1], {}).get("verdict", "not checked")
        ranks = "ranks" if verdict == "passed" else "does not rank"
        out.append(f"| {label} | {verdict} ({ranks}) | {floor} | {worst} |")
        notes += [f"- {label}: {e}" for e in exceptions]
    if notes:
        out += ["", "Where the order breaks:", "", *notes]
    scored = {(r.task, r.condition) for r in rows if r.model == FLOOR and r.status == OK}
    missing = sorted(
        {(r.task, r.condition, r.reason) for r in rows if r.model == FLOOR and (r.task, r.condition) not in scored}
    )
    if missing:
        out += [
            "",
            f"`{FLOOR}` has no rows in some cells, so the overview (a mean over every cell) has no `{FLOOR}` row:",
            "",
            *[f"- {task} / {condition}: {reason}" for task, condition, reason in missing],
        ]
    out += [
        "",
        "The metrics' own self-check on this dataset is in "
        "[metric-validation-nih.md](metric-validation-nih.md) (`cxrbench validate-metrics --config "
        f"{args.config_path}`).",
    ]
    board = (args.run / "leaderboard.md").read_text()
    body = board.split("\n", 2)[2] if board.startswith("# ") else board
    out += ["", "## Leaderboard (the run's leaderboard.md)", "", body.strip(), ""]
    args.out.write_text("\n".join(out))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
