"""Classifier utility: train on synthetic, test on real (TSTR), against train-on-real (TRTR).

One fixed recipe (cxrbench 0.1's compact ClassifierRecipe with 4 epochs instead of 8, and its own seed,
so it is a different network from the evaluator) is trained three ways: on the model's synthetic images, on the real
training split, and on both. Each is scored by AUROC per finding on the metrics' real reference
half of the test split; intervals resample those test images (the trained networks are fixed).
A synthetic image is labelled by the condition it was generated for: the finding itself 1 or 0,
the other findings 0 where the condition fixes them (``--absent no_finding``), else unknown and
masked out of the loss, exactly as uncertain real labels are.
Trained networks are cached by the content hash of their training images, so the three
metrics share them and a resumed run trains nothing twice.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from cxrbench.cache import cache_key, class_files, code_digest
from cxrbench.data.image_set import ImageSet
from cxrbench.metrics import METRICS
from cxrbench.metrics.auroc import auroc
from cxrbench.metrics.bootstrap import bootstrap_interval
from cxrbench.metrics.cxr_classifier import (
    ClassifierRecipe,
    CxrClassifier,
    cached_classifier,
    run_classifier,
    train_classifier,
)
from cxrbench.metrics.feature_cache import images_digest
from cxrbench.metrics.metric import Direction, MetricValue, ModelMetric, ModelMetricContext, Statistic

SYNTHETIC, REAL, AUGMENTED = "synthetic", "real", "augmented"


def synthetic_set(fake: dict) -> ImageSet:
    """A model's images of every condition, labelled by the condition they were generated for."""
    images, labels = [], []
    for condition, batch in fake.items():
        target = [-1 if t is None else t for t in condition.target]
        images.append(batch)
        labels.append(torch.tensor([target] * len(batch), dtype=torch.int8))
    ids = tuple(f"synthetic-{i}" for i in range(sum(len(b) for b in images)))
    return ImageSet(torch.cat(images), torch.cat(labels), ids, ids, findings=next(iter(fake)).findings)


class _Utility(ModelMetric):
    direction = Direction.HIGHER
    min_samples = 10

    def __init__(self, epochs: int = 4, input_size: int = 64) -> None:
        # Half the evaluator's epochs: up to three trainings per model must fit in the run budget.
        self.recipe = ClassifierRecipe(epochs=epochs, input_size=input_size)

    def identity(self) -> dict:
        return {"name": "utility-classifier", "recipe": self.recipe.to_dict()}

    def _classifier(self, data: ImageSet, context: ModelMetricContext, label: str) -> CxrClassifier:
        """The recipe trained on ``data`` (from the cache when these exact images were trained on before)."""
        seed = context.seed
        labels = hashlib.sha256(data.labels.numpy().tobytes()).hexdigest()
        key = cache_key(
            "utility",
            {"images": images_digest(data.images), "labels": labels},
            {"recipe": self.recipe.to_dict(), "seed": seed},
            code_digest(*class_files(type(self))),
        )
        directory = context.cache_dir / "utility" / key

        def train() -> tuple[CxrClassifier, dict]:
            model = train_classifier(
                data,
                self.recipe,
                seed,
                context.device,
                lambda done, total, text: context.progress(done, total, f"utility {label}: {text}"),
            )
            return model, {"recipe": self.recipe.to_dict(), "seed": seed, "trained_on": label, "n": len(data)}

        return cached_classifier(directory, self.recipe, context.device, train)[0]

    def _test_scores(self, context: ModelMetricContext, *kinds: str) -> list[np.ndarray]:
        """Test-set probabilities [N, F] (one per label column) of the classifier trained on each of ``kinds``."""
        sources = {
            SYNTHETIC: lambda: synthetic_set(context.fake),
            REAL: lambda: context.train,
            AUGMENTED: lambda: _concat(context.train, synthetic_set(context.fake)),
        }
        return [
            run_classifier(self._classifier(sources[k](), context, k), context.test.images, context.device)[1].numpy()
            for k in kinds
        ]

    def _statistic(self, scores: list[np.ndarray], labels: np.ndarray) -> Statistic:
        raise NotImplementedError

    def compute_model(self, context: ModelMetricContext) -> dict[str, MetricValue]:
        scores = self._test_scores(context, *self.kinds)
        results = {}
        for task in dict.fromkeys(c.task for c in context.fake):
            index = context.test.findings.index(task)
            labels = context.test.labels[:, index].numpy()
            known = labels >= 0
            statistic = self._statistic([s[known, index] for s in scores], labels[known].astype(bool))
            low, high = bootstrap_interval(statistic, statistic.estimate, context.bootstrap, context.seed + index)
            results[task] = MetricValue(statistic.estimate, low, high)
        return results


def _concat(a: ImageSet, b: ImageSet) -> ImageSet:
    return ImageSet(
        torch.cat([a.images, b.images]),
        torch.cat([a.labels, b.labels]),
        a.image_ids + b.image_ids,
        a.patient_ids + b.patient_ids,
        findings=a.findings,
    )


def _auroc_statistic(scores: np.ndarray, labels: np.ndarray) -> Statistic:
    """AUROC over resampled test images (the real side of the bootstrap)."""
    return Statistic(auroc(scores, labels), lambda r, f: auroc(scores[r], labels[r]), len(labels), 0)


@METRICS.register("utility")
class Utility(_Utility):
    """AUROC on real test images of the recipe trained on the model's synthetic images."""

    name = "utility"
    valid_range = (0.0, 1.0)
    chance = 0.5
    display_name = "TSTR AUROC"
    description = "AUROC on real test images of a classifier trained only on the model's synthetic images"
    family, order = "utility", 0
    kinds = (SYNTHETIC,)

    def _statistic(self, scores, labels):
        return _auroc_statistic(scores[0], labels)


@METRICS.register("utility_ratio")
class UtilityRatio(_Utility):
    """Train-on-synthetic AUROC over train-on-real AUROC."""

    name = "utility_ratio"
    valid_range = (0.0, None)
    display_name = "TSTR/TRTR"
    description = "train-on-synthetic AUROC divided by train-on-real AUROC, same recipe and real test images"
    family, order = "utility", 1
    kinds = (SYNTHETIC, REAL)

    def _statistic(self, scores, labels):
        synthetic, real = _auroc_statistic(scores[0], labels), _auroc_statistic(scores[1], labels)
        return Statistic(
            synthetic.estimate / real.estimate,
            lambda r, f: synthetic.function(r, f) / real.function(r, f),
            len(labels),
            0,
        )


@METRICS.register("utility_augmented")
class UtilityAugmented(_Utility):
    """AUROC of the recipe trained on real plus synthetic images."""

    name = "utility_augmented"
    valid_range = (0.0, 1.0)
    chance = 0.5
    display_name = "Real+syn AUROC"
    description = (
        "AUROC on real test images of a classifier trained on the real training split plus the synthetic images"
    )
    family, order = "utility", 2
    kinds = (AUGMENTED,)

    def _statistic(self, scores, labels):
        return _auroc_statistic(scores[0], labels)
