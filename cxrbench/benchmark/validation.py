"""`cxrbench validate-metrics`: sanity checks every metric must pass on the phantom, as a report.

Checks (each a named PASS/FAIL line in the report):
- floor: the real-vs-real values (two disjoint patient halves of the test split);
- blur and noise: distances (FD, KID) rise and precision falls at every step of increasing
  Gaussian blur and additive noise applied to real held-out images;
- mode dropping: with one finding's positive images removed from a real set (same n), recall and
  coverage over the real images that show the finding fall;
- memorisation: training images returned as samples (train-copy) are flagged as near-copies,
  real held-out images are not, and the Frechet distance does not flag train-copy (it stays
  within a factor 2 of the real-vs-real floor).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from cxrbench.benchmark.progress import Reporter
from cxrbench.benchmark.runner import build_dataset, load_splits, real_halves, resolve_device
from cxrbench.benchmark.seeds import derive_seed
from cxrbench.benchmark.spaces import condition_inputs, prepare_spaces, space_names
from cxrbench.config import RunConfig
from cxrbench.errors import UnavailableError
from cxrbench.metrics.feature_cache import cached_extract
from cxrbench.metrics.feature_extractor import ExtractorContext
from cxrbench.metrics.prdc import coverage_indicators, recall_indicators
from cxrbench.metrics.selection import build_metric
from cxrbench.tasks import FINDINGS, TASKS

BLUR_SIGMAS = (0.0, 0.5, 1.0, 2.0, 3.0)  # pixels at the validation resolution
NOISE_SIGMAS = (0.0, 8.0, 16.0, 32.0, 64.0)  # grey levels of 255
DISTANCES = ("cxr_fd", "cxr_kid")
MANIFOLD = ("precision", "recall", "density", "coverage")


@dataclass
class Report:
    """Tables and checks of one validation, rendered to Markdown."""

    settings: dict
    sections: list[str] = field(default_factory=list)
    checks: list[tuple[str, bool, str]] = field(default_factory=list)

    def check(self, name: str, passed: bool, detail: str) -> None:
        self.checks.append((name, bool(passed), detail))

    @property
    def passed(self) -> bool:
        return all(ok for _, ok, _ in self.checks)

    def markdown(self) -> str:
        lines = ["# cxrbench metric validation", "",
                 "Settings: " + ", ".join(f"{k} = {v}" for k, v in self.settings.items()), "",
                 f"**{sum(ok for _, ok, _ in self.checks)} of {len(self.checks)} checks passed.**", "",
                 "| check | result | detail |", "|---|---|---|"]
        lines += [f"| {name} | {'PASS' if ok else 'FAIL'} | {detail} |" for name, ok, detail in self.checks]
        return "\n".join(lines + [""] + self.sections) + "\n"


def _table(title: str, header: list[str], rows: list[list[str]]) -> str:
    out = [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur (separable, reflect padding, radius 3 sigma) of uint8 [N, 1, H, W]."""
    if sigma == 0:
        return images
    radius = max(1, int(np.ceil(3 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-x ** 2 / (2 * sigma ** 2))
    kernel = kernel / kernel.sum()
    out = F.pad(images.double(), (radius,) * 4, mode="reflect")
    out = F.conv2d(out, kernel.view(1, 1, 1, -1))
    out = F.conv2d(out, kernel.view(1, 1, -1, 1))
    return out.round().clamp(0, 255).to(torch.uint8)


def add_noise(images: torch.Tensor, sigma: float, seed: int) -> torch.Tensor:
    """Additive Gaussian noise of ``sigma`` grey levels (seeded), clipped to 0-255."""
    noise = torch.randn(images.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return (images.double() + sigma * noise).round().clamp(0, 255).to(torch.uint8)


def _mode_scores(real: np.ndarray, fake: np.ndarray, mode: np.ndarray) -> tuple[float, float]:
    """Recall and coverage counted over the real points of one mode only (``mode``: bool [N_real])."""
    return (float(recall_indicators(real, fake)[mode].mean()), float(coverage_indicators(real, fake)[mode].mean()))


def validate_metrics(config: RunConfig, n: int = 500, reporter: Reporter | None = None) -> Report:
    """Run the sanity suite on ``config``'s dataset (the phantom by default); returns the report."""
    reporter = reporter or Reporter()
    started = time.perf_counter()
    device = resolve_device(config.device)
    dataset = build_dataset(config)
    splits = load_splits(dataset, config.resolution, config.cache_dir, reporter)
    reference, holdout = real_halves(splits["test"], config.seed)
    rng = np.random.default_rng(derive_seed(config.seed, "validation"))
    n = min(n, len(reference), len(holdout))
    ref = reference.subset(np.sort(rng.permutation(len(reference))[:n]))
    held = holdout.subset(np.sort(rng.permutation(len(holdout))[:n]))

    metrics = {name: build_metric(name, {}) for name in DISTANCES + MANIFOLD + ("memorisation",)}
    context = ExtractorContext(splits["train"], splits["val"], splits["test"], device, config.seed, config.cache_dir,
                               dataset.fingerprint())
    spaces = prepare_spaces(space_names(list(metrics.values())), config.feature_options, context, reporter.step)
    for space in spaces.values():
        if isinstance(space, UnavailableError):  # the suite's spaces need no weights; a plugin's options may
            raise space
    condition = TASKS.get(FINDINGS[0]).condition("present")  # distribution metrics ignore it

    def features(name: str, images: torch.Tensor) -> dict:
        return cached_extract(spaces[name], images, config.cache_dir)

    real_eval = features("cxr-evaluator", ref.images)

    def scores(images: torch.Tensor, names=DISTANCES + MANIFOLD) -> dict[str, float]:
        fake = features("cxr-evaluator", images)
        return {m: metrics[m].compute(condition_inputs(metrics[m], real_eval, fake, condition)) for m in names}

    report = Report({"dataset": dataset.name, "resolution": config.resolution, "n per set": n,
                     "seed": config.seed, "feature space": "cxr-evaluator (memorisation: pixels)"})
    floor = scores(held.images)
    report.sections.append(_table("Real-vs-real floor (two disjoint patient halves of the test split)",
                                  ["metric", "value"], [[m, f"{v:.4f}"] for m, v in floor.items()]))

    for label, sigmas, degrade in (("blur", BLUR_SIGMAS, lambda im, s: blur(im, s)),
                                   ("noise", NOISE_SIGMAS, lambda im, s: add_noise(im, s, config.seed))):
        with reporter.step(f"{label} sweep", len(sigmas)) as update:
            values = []
            for i, sigma in enumerate(sigmas):
                values.append(scores(degrade(held.images, sigma)))
                update(i + 1, len(sigmas), f"sigma {sigma}")
        report.sections.append(_table(f"Increasing {label} of real held-out images", ["sigma", *values[0]],
                                      [[str(s), *(f"{v[m]:.4f}" for m in v)] for s, v in zip(sigmas, values)]))
        for name, sign in (("cxr_fd", 1), ("cxr_kid", 1), ("precision", -1)):
            series = np.array([v[name] for v in values])
            # Every step is worse, except once precision has reached its bound of 0 (it cannot fall further).
            worse = (sign * np.diff(series) > 0) | ((sign < 0) & (series[:-1] == 0))
            report.check(f"{name} worsens with every {label} step", worse.all(),
                         " -> ".join(f"{x:.3g}" for x in series))

    rows = []
    for finding in FINDINGS:
        column = FINDINGS.index(finding)
        keep = np.flatnonzero(held.labels[:, column].numpy() != 1)
        m = len(keep)
        full = held.images[torch.from_numpy(np.sort(rng.permutation(len(held))[:m]))]
        dropped = held.images[torch.from_numpy(keep)]
        mode = ref.labels[:, column].numpy() == 1  # the real images of the dropped mode
        before, after = (_mode_scores(real_eval["features"], features("cxr-evaluator", x)["features"], mode)
                         for x in (full, dropped))
        rows.append([finding, str(len(held) - m), str(int(mode.sum())), f"{before[0]:.3f} -> {after[0]:.3f}",
                     f"{before[1]:.3f} -> {after[1]:.3f}"])
        report.check(f"recall and coverage of the {finding} images fall when {finding} is dropped",
                     after[0] < before[0] and after[1] < before[1],
                     f"recall {before[0]:.3f} -> {after[0]:.3f}, coverage {before[1]:.3f} -> {after[1]:.3f}")
    report.sections.append(_table(
        "Mode dropping: one finding's positive images removed from a real set (same n); recall and coverage "
        "over the real reference images that show the finding", ["dropped finding", "images removed",
                                                                 "real images of the mode", "recall", "coverage"],
        rows))

    train = splits["train"]
    copies = train.images[torch.from_numpy(np.sort(rng.permutation(len(train))[:n]))]
    pixels_train = features("pixels", train.images)
    pixels_ref = features("pixels", ref.images)

    def near_copies(images: torch.Tensor) -> float:
        inputs = condition_inputs(metrics["memorisation"], pixels_ref, features("pixels", images), condition, pixels_train)
        return metrics["memorisation"].compute(inputs)

    copy_rate, held_rate = near_copies(copies), near_copies(held.images)
    copy_fd = scores(copies, ("cxr_fd",))["cxr_fd"]
    report.check("memorisation flags train-copy", copy_rate >= 0.9, f"near-copy fraction {copy_rate:.3f}")
    report.check("memorisation does not flag real held-out images", held_rate <= 0.05,
                 f"near-copy fraction {held_rate:.3f}")
    report.check("FD does not flag train-copy", copy_fd <= 2 * floor["cxr_fd"],
                 f"cxr_fd {copy_fd:.3f} vs real-vs-real floor {floor['cxr_fd']:.3f}")
    report.settings["wall time"] = f"{time.perf_counter() - started:.0f} s"
    return report
