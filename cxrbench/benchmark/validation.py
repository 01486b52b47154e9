"""`cxrbench validate-metrics`: sanity checks of the metrics on any dataset, as a report.

The dataset (with its options), the metrics and their feature spaces come from the same settings
as `cxrbench run`: the phantom and every metric by default, `--data nih-cxr14 --data-root ...`
or a `--config` file for real data. Each selected distribution metric is checked in its own
feature space (what the leaderboard headlines); a space that is unavailable here (no local
weights) is listed as not checked. Checks, each a named PASS/FAIL line in the report:
- floor: the real-vs-real values (two disjoint patient halves of the test split);
- blur and noise: every distribution metric worsens at every step of increasing Gaussian blur
  and additive noise applied to real held-out images (distances rise, precision-like metrics
  fall, or stay at their bound of 0), and is worse for the `noise` model than the floor;
- the run's validity check of each space (benchmark/space_validity.py), made at this n;
- mode dropping (spaces with recall and coverage): with one finding's positive images removed
  from a real set (same n), recall and coverage over the real images that show the finding fall;
- memorisation (pixels): training images returned as samples (train-copy) are flagged as
  near-copies, real held-out images are not, and the Frechet distance of each space does not
  flag train-copy (it stays within a factor 2 of the real-vs-real floor).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch

from cxrbench.benchmark.degradations import add_noise, blur
from cxrbench.benchmark.progress import Reporter
from cxrbench.benchmark.setup import build_dataset, build_metrics, load_splits, real_halves, resolve_device
from cxrbench.benchmark.space_validity import PASSED, check_space, make_probes, reads_distribution
from cxrbench.benchmark.spaces import condition_inputs, prepare_spaces, space_names
from cxrbench.config import RunConfig
from cxrbench.errors import CxrbenchError, UnavailableError
from cxrbench.metrics.feature_cache import cached_extract
from cxrbench.metrics.feature_extractor import ExtractorContext
from cxrbench.metrics.metric import Direction, Metric
from cxrbench.metrics.prdc import coverage_indicators, recall_indicators
from cxrbench.seeds import derive_seed
from cxrbench.tasks import FINDINGS, TASKS

BLUR_SIGMAS = (0.0, 0.5, 1.0, 2.0, 3.0)  # pixels at the validation resolution
NOISE_SIGMAS = (0.0, 8.0, 16.0, 32.0, 64.0)  # grey levels of 255
MEMORISATION_SPACE = "pixels"


class Check(NamedTuple):
    name: str
    passed: bool
    detail: str
    space: str  # the feature space the check is about


@dataclass
class Report:
    """Tables and checks of one validation, rendered to Markdown."""

    settings: dict
    sections: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    def check(self, name: str, passed: bool, detail: str, space: str) -> None:
        self.checks.append(Check(name, bool(passed), detail, space))

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def by_space(self) -> dict[str, list[Check]]:
        """The checks of each space, in the order the spaces were checked."""
        spaces: dict[str, list[Check]] = {}
        for c in self.checks:
            spaces.setdefault(c.space, []).append(c)
        return spaces

    def markdown(self, command: str = "") -> str:
        """The report; ``command``, when given, is named as the one that regenerates it."""
        made_by = [f"Made by `{command}`.", ""] if command else []
        lines = [
            "# cxrbench metric validation",
            "",
            *made_by,
            "Settings: " + ", ".join(f"{k} = {v}" for k, v in self.settings.items()),
            "",
            f"**{sum(c.passed for c in self.checks)} of {len(self.checks)} checks passed.**",
            "",
            "| feature space | checks passed | verdict |",
            "|---|---|---|",
        ]
        for space, checks in self.by_space().items():
            failed = [c.name for c in checks if not c.passed]
            verdict = "all passed" if not failed else "failed: " + "; ".join(failed)
            lines.append(f"| `{space}` | {len(checks) - len(failed)} of {len(checks)} | {verdict} |")
        lines += ["", "| check | result | detail |", "|---|---|---|"]
        lines += [f"| {c.name} | {'PASS' if c.passed else 'FAIL'} | {c.detail} |" for c in self.checks]
        return "\n".join(lines + [""] + self.sections) + "\n"


def _table(title: str, header: list[str], rows: list[list[str]]) -> str:
    out = [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def _mode_scores(real: np.ndarray, fake: np.ndarray, mode: np.ndarray) -> tuple[float, float]:
    """Recall and coverage counted over the real points of one mode only (``mode``: bool [N_real])."""
    return (float(recall_indicators(real, fake)[mode].mean()), float(coverage_indicators(real, fake)[mode].mean()))


def _worse(metric: Metric, series: np.ndarray) -> np.ndarray:
    """Per step: the value is worse than the one before (a higher-is-better value at 0 cannot fall further)."""
    if metric.direction is Direction.LOWER:
        return np.diff(series) > 0
    return (np.diff(series) < 0) | (series[:-1] == 0)


@dataclass(frozen=True)
class _Sets:
    """The image sets every space is scored on (uint8 [N, 1, H, W])."""

    held: torch.Tensor
    sweeps: dict[str, list[tuple[float, torch.Tensor]]]  # "blur" / "noise" -> (sigma, images) per step
    drops: list[tuple[str, torch.Tensor, torch.Tensor, np.ndarray]]  # finding, full, dropped, mode of the reference
    copies: torch.Tensor  # training images


def validate_metrics(config: RunConfig, n: int = 500, reporter: Reporter | None = None) -> Report:
    """Run the sanity suite on ``config``'s dataset and metrics (the phantom, all metrics by default)."""
    reporter = reporter or Reporter()
    started = time.perf_counter()
    device = resolve_device(config.device)
    dataset = build_dataset(config)
    dataset.describe()  # reads and checks its table before any image is loaded
    splits = load_splits(dataset, config.resolution, config.cache_dir, reporter)
    reference, holdout = real_halves(splits["test"], config.seed)
    rng = np.random.default_rng(derive_seed(config.seed, "validation"))
    n = min(n, len(reference), len(holdout))
    ref = reference.subset(np.sort(rng.permutation(len(reference))[:n]))
    held = holdout.subset(np.sort(rng.permutation(len(holdout))[:n]))

    metrics = build_metrics(config)
    distribution = [m for m in metrics if reads_distribution(m)]
    memorisation = next((m for m in metrics if m.name == "memorisation"), None)
    names = space_names(distribution) + ([MEMORISATION_SPACE] if memorisation is not None else [])
    context = ExtractorContext(
        splits["train"], splits["val"], splits["test"], device, config.seed, config.cache_dir, dataset.fingerprint()
    )
    spaces = prepare_spaces(list(dict.fromkeys(names)), config.feature_options, context, reporter.step)
    checked = [s for s in space_names(distribution) if not isinstance(spaces[s], UnavailableError)]
    if memorisation is not None and isinstance(spaces[MEMORISATION_SPACE], UnavailableError):
        raise spaces[MEMORISATION_SPACE]
    if not checked and memorisation is None:
        reasons = "; ".join(f"{s}: {spaces[s]}" for s in space_names(distribution)) or "no distribution metric selected"
        raise CxrbenchError(f"nothing to validate on {dataset.name}: {reasons}")

    described = dataset.describe()
    report = Report(
        {
            "dataset": f"{dataset.name} (fingerprint {described.get('fingerprint', '')[:12]})",
            "resolution": config.resolution,
            "n per set": n,
            "seed": config.seed,
            "feature spaces": ", ".join(checked) or "none",
            **({"memorisation": MEMORISATION_SPACE} if memorisation is not None else {}),
        }
    )
    unavailable = [[s, str(spaces[s]).replace("|", "\\|")] for s in space_names(distribution) if s not in checked]
    if unavailable:
        report.sections.append(_table("Feature spaces not checked (unavailable here)", ["space", "why"], unavailable))

    train = splits["train"]
    sets = _Sets(
        held.images,
        {
            "blur": [(s, blur(held.images, s)) for s in BLUR_SIGMAS],
            "noise": [(s, add_noise(held.images, s, config.seed)) for s in NOISE_SIGMAS],
        },
        _mode_drops(ref, held, rng),
        train.images[torch.from_numpy(np.sort(rng.permutation(len(train))[:n]))],
    )
    probes = make_probes(reference, holdout, train, n, config.seed, config.batch_size, device)
    for space in checked:
        _check_space(
            report,
            space,
            [m for m in distribution if m.feature_space == space],
            spaces,
            ref,
            sets,
            probes,
            reference,
            config,
            reporter,
        )
    if memorisation is not None:
        _check_memorisation(report, memorisation, spaces[MEMORISATION_SPACE], ref, sets, train, config)
    report.settings["wall time"] = f"{time.perf_counter() - started:.0f} s"
    return report


def _mode_drops(ref, held, rng: np.random.Generator) -> list[tuple[str, torch.Tensor, torch.Tensor, np.ndarray]]:
    """Per finding: a real set of m held-out images, the same m without the finding's positives, and
    which reference images show the finding."""
    drops = []
    for column, finding in enumerate(held.findings):
        keep = np.flatnonzero(held.labels[:, column].numpy() != 1)
        full = held.images[torch.from_numpy(np.sort(rng.permutation(len(held))[: len(keep)]))]
        drops.append((finding, full, held.images[torch.from_numpy(keep)], ref.labels[:, column].numpy() == 1))
    return drops


def _check_space(
    report: Report,
    space: str,
    metrics: list[Metric],
    spaces: dict,
    ref,
    sets: _Sets,
    probes,
    reference,
    config: RunConfig,
    reporter: Reporter,
) -> None:
    """Every check of the distribution metrics of one feature space."""
    extractor = spaces[space]
    condition = TASKS.get(FINDINGS[0]).condition("present")  # distribution metrics ignore it
    real = cached_extract(extractor, ref.images, config.cache_dir)

    def scores(images: torch.Tensor, chosen: list[Metric] = metrics) -> dict[str, float]:
        fake = cached_extract(extractor, images, config.cache_dir)
        return {m.id: m.compute(condition_inputs(m, real, fake, condition)) for m in chosen}

    floor = scores(sets.held)
    noise_model = scores(probes.noise_model)
    report.sections.append(
        _table(
            f"{space}: real-vs-real floor (two disjoint patient halves of the test split) and the noise model",
            ["metric", "floor", "noise model"],
            [[m, f"{v:.4f}", f"{noise_model[m]:.4f}"] for m, v in floor.items()],
        )
    )
    for label, steps in sets.sweeps.items():
        with reporter.step(f"{space}: {label} sweep", len(steps)) as update:
            values = []
            for i, (sigma, images) in enumerate(steps):
                values.append(scores(images))
                update(i + 1, len(steps), f"sigma {sigma}")
        report.sections.append(
            _table(
                f"{space}: increasing {label} of real held-out images",
                ["sigma", *values[0]],
                [[str(s), *(f"{v[m]:.4f}" for m in v)] for (s, _), v in zip(steps, values)],
            )
        )
        for metric in metrics:
            series = np.array([v[metric.id] for v in values])
            report.check(
                f"{metric.id} worsens with every {label} step",
                _worse(metric, series).all(),
                " -> ".join(f"{x:.3g}" for x in series),
                space,
            )
    for metric in metrics:
        pair = np.array([floor[metric.id], noise_model[metric.id]])
        report.check(
            f"{metric.id} is worse for the noise model than the real-vs-real floor",
            _worse(metric, pair).all(),
            f"{pair[0]:.3g} -> {pair[1]:.3g}",
            space,
        )

    verdict = check_space(
        space,
        extractor,
        cached_extract(extractor, reference.images, config.cache_dir)["features"],
        probes,
        config.cache_dir,
    )
    report.check(
        f"{space} passes the run's feature-space validity check",
        verdict.verdict == PASSED,
        verdict.detail() or verdict.summary(),
        space,
    )

    ids = {m.name: m for m in metrics}
    if "recall" in ids and "coverage" in ids:
        _check_mode_dropping(
            report, space, real["features"], sets, extractor, config, ids["recall"].id, ids["coverage"].id
        )
    if "fd" in ids:
        fd = ids["fd"]
        copy_fd = scores(sets.copies, [fd])[fd.id]
        report.check(
            f"{fd.id} does not flag train-copy",
            copy_fd <= 2 * floor[fd.id],
            f"{fd.id} {copy_fd:.3f} vs real-vs-real floor {floor[fd.id]:.3f}",
            space,
        )


def _check_mode_dropping(
    report: Report, space: str, real: np.ndarray, sets: _Sets, extractor, config: RunConfig, recall: str, coverage: str
) -> None:
    rows = []
    for finding, full, dropped, mode in sets.drops:
        before, after = (
            _mode_scores(real, cached_extract(extractor, x, config.cache_dir)["features"], mode)
            for x in (full, dropped)
        )
        rows.append(
            [
                finding,
                str(len(sets.held) - len(dropped)),
                str(int(mode.sum())),
                f"{before[0]:.3f} -> {after[0]:.3f}",
                f"{before[1]:.3f} -> {after[1]:.3f}",
            ]
        )
        report.check(
            f"{recall} and {coverage} of the {finding} images fall when {finding} is dropped",
            after[0] < before[0] and after[1] < before[1],
            f"recall {before[0]:.3f} -> {after[0]:.3f}, coverage {before[1]:.3f} -> {after[1]:.3f}",
            space,
        )
    report.sections.append(
        _table(
            f"{space}: mode dropping, one finding's positive images removed from a real set (same n); recall and "
            "coverage over the real reference images that show the finding",
            ["dropped finding", "images removed", "real images of the mode", "recall", "coverage"],
            rows,
        )
    )


def _check_memorisation(report: Report, metric: Metric, pixels, ref, sets: _Sets, train, config: RunConfig) -> None:
    condition = TASKS.get(FINDINGS[0]).condition("present")
    pixels_train = cached_extract(pixels, train.images, config.cache_dir)
    pixels_ref = cached_extract(pixels, ref.images, config.cache_dir)

    def near_copies(images: torch.Tensor) -> float:
        fake = cached_extract(pixels, images, config.cache_dir)
        return metric.compute(condition_inputs(metric, pixels_ref, fake, condition, pixels_train))

    copy_rate, held_rate = near_copies(sets.copies), near_copies(sets.held)
    report.check(
        "memorisation flags train-copy", copy_rate >= 0.9, f"near-copy fraction {copy_rate:.3f}", MEMORISATION_SPACE
    )
    report.check(
        "memorisation does not flag real held-out images",
        held_rate <= 0.05,
        f"near-copy fraction {held_rate:.3f}",
        MEMORISATION_SPACE,
    )
