"""The worked reader-study example of docs/reader-study.md, from a run to the leaderboard, with simulated readers.

Writes docs/results/reader-study-example.md: every command with its output. Three simulated readers
answer a single-design study ("real or synthetic?"); each sees a latent sign of synthesis that is
strong for `noise`, weak for `pca-gaussian` and absent for `real-holdout` (real images), plus
noise and a personal bias, cut into the five points. Only this simulator reads the study's key.

    PYTHONPATH=. python benchmarks/reader_study_example.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "results" / "reader-study-example.md"
SIGN = {"noise": 2.5, "pca-gaussian": 0.8, "real-holdout": 0.0, "real": 0.0}  # latent shift of each model's images
READERS = {"r1": -0.2, "r2": 0.0, "r3": 0.3}  # each reader's bias towards "synthetic"
CUTS = (-0.5, 0.3, 0.8, 1.6)  # latent -> 1..5
PROGRESS = re.compile(r"━+ \d+/\d+ \d+:\d\d:\d\d|^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ")  # bars and log lines


def cxrbench(*args: str, env: dict) -> str:
    """Run the installed command line as a user would; its output (stdout and stderr)."""
    result = subprocess.run(
        [sys.executable, "-m", "cxrbench", *args], capture_output=True, text=True, env=env, cwd=ROOT, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"cxrbench {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return (result.stdout + result.stderr).strip()


def simulate_answers(study: Path, seed: int = 0) -> list[Path]:
    key = json.loads((study / "key.json").read_text())
    rng = np.random.default_rng(seed)
    files = []
    for reader, bias in READERS.items():
        path = study.parent / f"{reader}.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["reader_id", "item_id", "response"])
            for item in sorted(key):
                latent = SIGN[key[item]["model"]] + bias + rng.normal()
                writer.writerow([reader, item, 1 + int(np.searchsorted(CUTS, latent))])
        files.append(path)
    return files


def orh_table(board_csv: str) -> str:
    """The leaderboard's reader.*.orh_* rows as a small fixed-width table (csv rows, grep-like)."""
    rows = [r for r in csv.DictReader(board_csv.splitlines()) if ".orh_" in r["metric"]]
    out = [f"{'model':<13} {'condition':<9} {'metric':<27} {'value':>8}  95% CI"]
    for r in sorted(rows, key=lambda r: (r["condition"], r["metric"], r["model"])):
        ci = f"[{float(r['ci_low']):.3f}, {float(r['ci_high']):.3f}]" if r["ci_low"] else ""
        out.append(f"{r['model']:<13} {r['condition']:<9} {r['metric']:<27} {float(r['value']):>8.4g}  {ci}")
    return "\n".join(out)


def section(statistics: str, title: str) -> str:
    """The ``title`` section of statistics.md, up to the next heading of its level or above."""
    start = statistics.index(title)
    ends = [i for i in (statistics.find("\n### ", start + 1), statistics.find("\n## ", start + 1)) if i > 0]
    return statistics[start : min(ends) if ends else None].strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="cxrbench-reader-example-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CXRBENCH_CACHE": str(work / "cache"), "PYTHONPATH": str(ROOT)}
    run, study = work / "run", work / "study"
    steps = []

    def step(text: str, *command: str, shown_output: str | None = None) -> str:
        output = cxrbench(*command, env=env)
        shown = " ".join(c.replace(str(work), "WORK") for c in command)
        kept = "\n".join(line for line in output.splitlines() if not PROGRESS.search(line))  # not results
        steps.append((text, f"cxrbench {shown}", (shown_output or kept).replace(str(work), "WORK")))
        return output

    step(
        "A small run: two generators and the real-vs-real floor, one finding, the weight-free FRD.",
        "run",
        "--models",
        "pca-gaussian,noise",
        "--tasks",
        "pleural_effusion",
        "--metrics",
        "frd",
        "--n-samples",
        "48",
        "--bootstrap",
        "0",
        "--out",
        str(run),
    )
    step(
        "A single-design study: 16 images per model and condition, and 16 real images per condition.",
        "reader-study",
        "prepare",
        str(run),
        "--out",
        str(study),
        "--design",
        "single",
        "--readers",
        "r1,r2,r3",
        "--n",
        "16",
        "--seed",
        "0",
    )
    files = simulate_answers(study)
    step(
        "Three readers' answers (simulated here) come back as CSV files and are imported.",
        "reader-study",
        "import",
        str(study),
        *map(str, files),
    )
    statistics = (study / "statistics.md").read_text()
    board = cxrbench("leaderboard", str(run), "--format", "csv", env=env)
    step(
        "The leaderboard now holds the reader columns beside FRD; its MRMC rows (reader-averaged AUC of telling "
        "each model's images from real ones, the difference from the best competitor, its p-value):",
        "leaderboard",
        str(run),
        "--format",
        "csv",
        shown_output=orh_table(board),
    )
    step(
        "The study as the pilot of the next one: readers x cases to detect an AUC difference of 0.1.",
        "reader-study",
        "plan",
        str(study),
        "--effect",
        "0.1",
        "--readers",
        "3,5,8",
    )
    lines = [
        "# Reader study: a worked example with three simulated readers",
        "",
        "Made by `PYTHONPATH=. python benchmarks/reader_study_example.py` (it runs each command below; the "
        "readers are simulated, see the script). WORK is its working folder.",
        "",
    ]
    for text, command, output in steps:
        lines += [text, "", "```console", f"$ {command}", output, "```", ""]
    lines += [
        "From `WORK/study/statistics.md`, the MRMC analysis of the present-effusion cell:",
        "",
        section(statistics, "### auc: pleural_effusion, present").replace("#### ", "##### "),
        "",
        "and the readers' agreement on it (Cohen's kappa per pair with bootstrap intervals):",
        "",
    ]
    kappa = [
        line
        for line in statistics.splitlines()
        if "kappa" in line.lower() and "| pca-gaussian | pleural_effusion | present |" in line
    ]
    lines += [
        "| model | task | condition | reader | measure | value | 95% CI | k / n |",
        "|---|---|---|---|---|---|---|---|",
        *kappa,
        "",
    ]
    OUT.write_text("\n".join(lines))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
