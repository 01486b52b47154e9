"""GAN adapters on the phantom at 64 px: conditional AUROC per finding, distance to real, LCO cost.

Run: python benchmarks/gan_quality.py [--out runs/gan-bench] [--models pggan-lco,cgan,...]
It runs `cxrbench run` (all metrics, the default settings otherwise) with the two GANs, the
real-holdout floor, the train-copy memoriser and the noise baseline, then prints Markdown tables:
- the cxr-evaluator's present-vs-absent AUROC per finding and its mean (target >= 0.80),
- CXR-FD per finding (mean of present and absent) against the noise baseline,
- per model, training seconds and generation seconds per image,
- for pggan-lco, the LCO success rate, mean Adam steps and seconds per image per condition.
The numbers are read back from the run folder's results.jsonl and manifest.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

FINDINGS = ("atelectasis", "lung_opacity", "pleural_effusion", "enlarged_cardiac_silhouette")
DEFAULT_MODELS = "pggan-lco,cgan,real-holdout,train-copy,noise"


def run(out: Path, models: str, extra: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "cxrbench.cli", "run", "--models", models, "--out", str(out), *extra], check=True
    )
    return time.perf_counter() - started


def values(out: Path, metric: str) -> dict[tuple[str, str, str], float]:
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines() if line.strip()]
    return {
        (r["model"], r["task"], r["condition"]): r["value"]
        for r in rows
        if r["metric"] == metric and r["status"] == "ok"
    }


def report(out: Path, models: list[str], wall: float | None) -> str:
    manifest = json.loads((out / "manifest.json").read_text())
    auroc, fd = values(out, "conditional_auroc"), values(out, "cxr_fd")
    lines = ["| model | " + " | ".join(FINDINGS) + " | mean |", "|---" * (len(FINDINGS) + 2) + "|"]
    for model in models:
        cells = [auroc.get((model, f, "both")) for f in FINDINGS]
        mean = sum(cells) / len(cells) if None not in cells else None
        lines.append(f"| `{model}` | " + " | ".join(_fmt(c) for c in cells) + f" | {_fmt(mean)} |")
    text = ["### Conditional AUROC (cxr-evaluator, present vs absent)", "", *lines, ""]
    lines = ["| model | " + " | ".join(FINDINGS) + " | mean |", "|---" * (len(FINDINGS) + 2) + "|"]
    for model in models:
        cells = [_mean([fd.get((model, f, c)) for c in ("present", "absent")]) for f in FINDINGS]
        lines.append(f"| `{model}` | " + " | ".join(_fmt(c) for c in cells) + f" | {_fmt(_mean(cells))} |")
    text += ["### CXR-FD (mean of present and absent)", "", *lines, ""]
    accuracy = values(out, "conditional_accuracy")
    lines = ["| model | " + " | ".join(FINDINGS) + " | mean |", "|---" * (len(FINDINGS) + 2) + "|"]
    for model in models:
        cells = [_mean([accuracy.get((model, f, c)) for c in ("present", "absent")]) for f in FINDINGS]
        lines.append(f"| `{model}` | " + " | ".join(_fmt(c) for c in cells) + f" | {_fmt(_mean(cells))} |")
    text += [
        "### Conditional accuracy (evaluator calls the intended condition; mean of present and absent)",
        "",
        *lines,
        "",
    ]
    lines = [
        "| model | weights | train s | generate s/image (mean over conditions) | model total s |",
        "|---|---|---|---|---|",
    ]
    for model in models:
        facts = manifest["models"].get(model, {})
        per_image = _mean([g["seconds_per_image"] for g in facts.get("generation", {}).values()])
        weights = facts.get("weights", {})
        lines.append(
            f"| `{model}` | {weights.get('source')} | {_fmt(weights.get('train_seconds'))} | "
            f"{_fmt(per_image)} | {_fmt(manifest['timings_s'].get(f'model:{model}'))} |"
        )
    text += ["### Time (seconds on this machine; weights from the cache have no training time)", "", *lines, ""]
    generation = manifest["models"].get("pggan-lco", {}).get("generation", {})
    if generation:
        lines = ["| condition | success rate | mean steps | s/image |", "|---|---|---|---|"]
        for key, g in sorted(generation.items()):
            lines.append(
                f"| {key} | {_fmt(g['lco_success_rate'])} | {_fmt(g['lco_mean_steps'])} | "
                f"{_fmt(g['lco_seconds_per_image'])} |"
            )
        text += ["### pggan-lco latent class optimisation", "", *lines, ""]
    text.append(f"Evaluator test AUROC: {manifest['feature_spaces'].get('cxr-evaluator', {}).get('test_auroc')}")
    if wall is not None:
        text.append(f"Wall time of the whole command: {wall:.0f} s")
    return "\n".join(text)


def _mean(cells):
    cells = [c for c in cells if c is not None]
    return sum(cells) / len(cells) if cells else None


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/gan-bench"))
    parser.add_argument("--models", default=DEFAULT_MODELS)
    parser.add_argument("--report-only", action="store_true", help="read an existing run folder, run nothing")
    args, extra = parser.parse_known_args()
    wall = None if args.report_only else run(args.out, args.models, extra)
    print(report(args.out, args.models.split(","), wall))


if __name__ == "__main__":
    main()
