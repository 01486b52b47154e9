"""Is a feature space valid on the data in use? The check every run makes of each space it reports.

A space is checked when a distribution metric of the run is computed in it (``reads_distribution``:
a metric comparing the real reference set with a sample set, e.g. fd, kid, precision, cmmd, fd_inf;
not memorisation, diversity or the evaluator's conditional metrics, which ask other questions).
An unavailable space gets no verdict. The probe is the Fréchet distance in the space (what its
``fd@SPACE`` column reports), between n real images of the reference half of the test split and,
each with the same n:
- n real images of the other half (disjoint patients): the real-vs-real floor;
- those held-out images blurred at BLUR_STEPS and with additive noise at NOISE_STEPS;
- n images of the ``noise`` reference model (smooth noise at the mean real intensity).
Checks, each named so that a failure says which: ``floor<blur`` and ``floor<noise`` (the floor is
below every degraded value), ``floor<noise-model``, ``mild<noise-model`` (the mildest blur and the
mildest noise, real radiographs a reader still reads, are nearer than the anatomy-free noise model:
a space that finds smooth blobs more real than a slightly grainy radiograph ranks noise above a
generator of recognisable images), ``blur monotone`` and ``noise monotone`` (every stronger step is
farther). A space passes when every check does.

n is the run's n_samples, at least its validity_n (100 by default: at fewer images the floor is
mostly the estimator's bias and noise, and the check would judge the sample size rather than the
space) and at most the smaller real half. Features go through the feature cache, so a resumed or
repeated run recomputes nothing; all seeds derive from the run seed. The verdict depends only on
the data (the dataset fingerprint, checked on resume), the space's identity, the resolution, n and
the seed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cxrbench.benchmark.degradations import add_noise, blur
from cxrbench.data.image_set import ImageSet
from cxrbench.metrics.feature_cache import cached_extract
from cxrbench.metrics.feature_extractor import FeatureExtractor
from cxrbench.metrics.frechet import frechet_distance_features
from cxrbench.metrics.metric import Metric, Scope
from cxrbench.models import MODELS
from cxrbench.models.adapter import FitContext
from cxrbench.results import ResultRow
from cxrbench.seeds import derive_seed
from cxrbench.tasks import FINDINGS, TASKS

PASSED, FAILED = "passed", "failed"
NOISE_MODEL = "noise"  # the registered worst-case reference (cxrbench/models/noise.py)
REFERENCE_SCALE = 64  # px: the degradations are set at this resolution and scaled with the run's
BLUR_STEPS = (1.0, 2.0, 4.0)  # Gaussian sigma in pixels at 64 px (x resolution / 64)
NOISE_STEPS = (16.0, 32.0, 64.0)  # grey levels of 255, in grains of resolution / 64 pixels
FEWEST = 10  # below this many real images per half no FD is worth comparing (fd's min_samples)
CHECKS = ("floor<blur", "floor<noise", "floor<noise-model", "mild<noise-model", "blur monotone", "noise monotone")


def reads_distribution(metric: Metric) -> bool:
    """Whether ``metric`` compares the real reference set with a sample set in its feature space."""
    return metric.scope is Scope.CONDITION and metric.uses_real and not metric.uses_train


def checked_spaces(metrics: list[Metric], spaces: dict) -> list[str]:
    """The ready spaces that a distribution metric of ``metrics`` reads, in order (unavailable: none)."""
    names = dict.fromkeys(m.feature_space for m in metrics if reads_distribution(m))
    return [name for name in names if isinstance(spaces.get(name), FeatureExtractor)]


def check_size(n_samples: int, least: int, n_reference: int, n_holdout: int) -> int:
    """Images per set of the check: n_samples, at least ``least``, at most the smaller real half."""
    return min(n_reference, n_holdout, max(n_samples, least))


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Probes:
    """The images every space of a run is checked on, n of each (uint8 [n, 1, H, W]).

    reference: positions of the floor's real images in the reference half; held: real held-out
    images; blurred / noisy: (sigma, images) per step, sigma in pixels / grey levels as applied.
    """

    reference: np.ndarray
    held: torch.Tensor
    blurred: tuple[tuple[float, torch.Tensor], ...]
    noisy: tuple[tuple[float, torch.Tensor], ...]
    noise_model: torch.Tensor
    grain: int

    @property
    def n(self) -> int:
        return len(self.reference)

    def settings(self) -> dict:
        return {
            "n": self.n,
            "blur_sigma_px": [s for s, _ in self.blurred],
            "noise_sigma": [s for s, _ in self.noisy],
            "noise_grain_px": self.grain,
        }


@dataclass(frozen=True)
class SpaceVerdict:
    """One space's checks on one dataset, with the distances they compared."""

    space: str
    checks: tuple[Check, ...]
    distances: dict  # floor, blur [steps], noise [steps], noise_model (Fréchet distances)
    settings: dict

    @property
    def verdict(self) -> str:
        return PASSED if all(c.passed for c in self.checks) else FAILED

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if not c.passed]

    def detail(self) -> str:
        """The failed checks with their numbers, one human-readable line ('' when it passed)."""
        return "; ".join(f"{c.name}: {c.detail}" for c in self.checks if not c.passed)

    def summary(self) -> str:
        """The distances compared, one line."""
        d = self.distances
        if not d:
            return self.detail()
        return (
            f"FD real vs real {d['floor']:.4g}; blur {_series(d['blur'])}; noise {_series(d['noise'])}; "
            f"{NOISE_MODEL} model {d['noise_model']:.4g}"
        )

    def report(self) -> dict:
        """The manifest's entry for the space."""
        return {
            "verdict": self.verdict,
            "failed": self.failed,
            "checks": [dataclasses.asdict(c) for c in self.checks],
            "fd": self.distances,
            **self.settings,
        }

    def stamp(self, row: ResultRow) -> ResultRow:
        """``row`` carrying this verdict (``row`` is of a distribution metric computed in this space)."""
        return dataclasses.replace(row, validity=self.verdict, validity_detail=self.detail())


def noise_model_images(
    train: ImageSet, holdout: ImageSet, n: int, seed: int, batch_size: int, device: torch.device
) -> torch.Tensor:
    """n images of the ``noise`` reference model, fitted on ``train`` (uint8 [n, 1, H, W])."""
    condition = TASKS.get(FINDINGS[0]).condition("present")  # the noise model ignores it
    adapter = MODELS.build(NOISE_MODEL, {})[0]
    adapter.fit(
        FitContext(
            train=train,
            holdout=holdout,
            conditions=(condition,),
            resolution=train.resolution,
            device=device,
            seed=derive_seed(seed, NOISE_MODEL, "fit"),
        )
    )
    batches = [batch.cpu() for batch in adapter.generate(condition, range(n), seed, batch_size)]
    return torch.cat(batches) if batches else holdout.images[:0]


def make_probes(
    reference: ImageSet,
    holdout: ImageSet,
    train: ImageSet,
    n: int,
    seed: int,
    batch_size: int = 64,
    device: torch.device = torch.device("cpu"),
) -> Probes:
    """The check's images: n of each half (seeded picks), the degraded held-out sets, the noise model's."""
    rng = np.random.default_rng(derive_seed(seed, "space-validity"))
    picks = np.sort(rng.permutation(len(reference))[:n])
    held = holdout.images[torch.from_numpy(np.sort(rng.permutation(len(holdout))[:n]))]
    scale = reference.resolution / REFERENCE_SCALE
    grain = max(1, round(scale))
    noise_seed = derive_seed(seed, "space-validity", "noise")  # one pattern, scaled: each step is the last one, more
    return Probes(
        picks,
        held,
        tuple((s * scale, blur(held, s * scale)) for s in BLUR_STEPS),
        tuple((s, add_noise(held, s, noise_seed, grain)) for s in NOISE_STEPS),
        noise_model_images(train, holdout, n, derive_seed(seed, "space-validity", NOISE_MODEL), batch_size, device),
        grain,
    )


def _series(values: list[float]) -> str:
    return ", ".join(f"{v:.4g}" for v in values)


def check_space(
    name: str, extractor: FeatureExtractor, reference_features: np.ndarray, probes: Probes, cache_dir: Path | None
) -> SpaceVerdict:
    """The checks of one space.

    reference_features: the space's ``features`` [N_reference, D] of the whole reference half (the
    run has them already); the other sets are extracted here, through the feature cache.
    """
    if probes.n < FEWEST:
        return SpaceVerdict(
            name,
            (
                Check(
                    "enough images",
                    False,
                    f"{probes.n} real images per half of the test "
                    f"split; the check needs {FEWEST}: use a dataset with more",
                ),
            ),
            {},
            probes.settings(),
        )
    real = np.asarray(reference_features)[probes.reference]

    def distance(images: torch.Tensor) -> float:
        return frechet_distance_features(real, cached_extract(extractor, images, cache_dir)["features"])

    floor = distance(probes.held)
    blurred = [distance(images) for _, images in probes.blurred]
    noisy = [distance(images) for _, images in probes.noisy]
    noise_model = distance(probes.noise_model)
    sigmas = {
        "blur": f"sigma {_series([s for s, _ in probes.blurred])} px",
        "noise": f"sigma {_series([s for s, _ in probes.noisy])} grey levels",
    }
    checks = []
    for label, values in (("blur", blurred), ("noise", noisy)):
        checks.append(
            Check(
                f"floor<{label}",
                floor < min(values),
                f"FD real vs real {floor:.4g}, {label} {_series(values)} ({sigmas[label]})",
            )
        )
    checks.append(
        Check(
            "floor<noise-model",
            floor < noise_model,
            f"FD real vs real {floor:.4g}, {NOISE_MODEL} model {noise_model:.4g}",
        )
    )
    checks.append(
        Check(
            "mild<noise-model",
            max(blurred[0], noisy[0]) < noise_model,
            f"{NOISE_MODEL} model {noise_model:.4g}, mildest blur {blurred[0]:.4g} (sigma "
            f"{probes.blurred[0][0]:.4g} px), mildest noise {noisy[0]:.4g} (sigma "
            f"{probes.noisy[0][0]:.4g} grey levels)",
        )
    )
    for label, values in (("blur", blurred), ("noise", noisy)):
        checks.append(
            Check(
                f"{label} monotone",
                bool(np.all(np.diff(values) > 0)),
                f"FD {' -> '.join(f'{v:.4g}' for v in values)} ({sigmas[label]})",
            )
        )
    distances = {"floor": floor, "blur": blurred, "noise": noisy, "noise_model": noise_model}
    return SpaceVerdict(name, tuple(checks), distances, probes.settings())
