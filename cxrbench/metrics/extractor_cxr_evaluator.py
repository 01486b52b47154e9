"""cxr-evaluator: the CXR-domain feature space, trained here on the real training split."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from cxrbench import __version__
from cxrbench.cache import cache_key, class_files, code_digest, settings_key, sha256_file
from cxrbench.checkpoint import WEIGHTS_FILE, load_checkpoint
from cxrbench.errors import ConfigError
from cxrbench.metrics import FEATURE_EXTRACTORS
from cxrbench.metrics.auroc import auroc, youden_threshold
from cxrbench.metrics.cxr_classifier import (
    EVALUATOR_RECIPE,
    ClassifierRecipe,
    CxrClassifier,
    cached_classifier,
    classifier_from,
    run_classifier,
    train_classifier,
)
from cxrbench.metrics.feature_extractor import ExtractorContext, FeatureExtractor
from cxrbench.tasks import FINDINGS
from cxrbench.zoo import find_reference


@FEATURE_EXTRACTORS.register("cxr-evaluator")
class CxrEvaluatorExtractor(FeatureExtractor):
    """Compact CXR classifier trained on the real training split (no download).

    Outputs: ``features`` (penultimate embedding, 128-d), ``probabilities`` per finding, and
    ``calls`` (probability >= the finding's Youden threshold on the real validation split).
    Resize policy: bilinear with antialiasing to 64 px. Cached by dataset fingerprint, recipe
    and seed, so the second run reuses it. Its test AUROC per finding is reported in the
    manifest: the judge's own quality.
    """

    name = "cxr-evaluator"
    outputs = ("features", "probabilities", "calls")
    needs_training_data = True

    def __init__(self, recipe: ClassifierRecipe | dict | None = None) -> None:
        # a dict (``[feature_options.cxr-evaluator.recipe]`` in a config) overrides fields of the default
        self.recipe = recipe if isinstance(recipe, ClassifierRecipe) else recipe_with(recipe or {})
        self.model: CxrClassifier | None = None
        self.thresholds = np.full(len(FINDINGS), 0.5)  # until ``prepare``: one per label column of the run
        self.test_auroc: dict[str, float] = {}
        self.key = ""
        self.weights: dict = {}  # where prepare found its weights (the manifest's record)

    def prepare(self, context: ExtractorContext) -> None:
        self.device = context.device
        inputs = {"dataset": context.dataset_fingerprint, "resolution": context.train.resolution}
        component = {"name": self.name, "recipe": self.recipe.to_dict(), "seed": context.seed}
        self.code = code = code_digest(*class_files(type(self)))
        self.key = cache_key("evaluator", inputs, component, code)
        self.settings_key = settings_key("evaluator", inputs, component)  # what reference weights match on
        self.recipe_record = {"inputs": inputs, "component": component}  # what a zoo entry records
        reference = None if context.retrain else find_reference(context.zoo, self.name, "evaluator", self.settings_key)
        if reference is not None:
            self.key = reference.record["cache_key"]  # these weights' identity: the key they were trained under
            self.weights = reference.manifest(code)
            tensors, config = load_checkpoint(reference.directory)
            self.model = classifier_from(self.recipe, tensors).to(self.device).eval()
        else:
            self.directory = context.cache_dir / "extractors" / "cxr-evaluator" / self.key
            cached = (self.directory / WEIGHTS_FILE).is_file() and not context.retrain
            self.model, config = cached_classifier(
                self.directory, self.recipe, self.device, lambda: self._train(context), context.retrain
            )
            self.weights = {
                "source": "cache" if cached else "trained",
                "path": str(self.directory),
                "sha256": sha256_file(self.directory / WEIGHTS_FILE),
            }
        self.thresholds = np.asarray(config["thresholds"])
        self.test_auroc = config["test_auroc"]

    def _train(self, context: ExtractorContext) -> tuple[CxrClassifier, dict]:
        """Train on the real training split; operating points from val, the judge's AUROC from test."""
        model = train_classifier(context.train, self.recipe, context.seed, self.device, context.progress)
        _, val_probs = run_classifier(model, context.val.images, self.device)
        val_labels = context.val.labels.numpy()
        thresholds = [
            youden_threshold(*_known(val_probs[:, i].numpy(), val_labels[:, i])) for i in range(val_labels.shape[1])
        ]
        _, test_probs = run_classifier(model, context.test.images, self.device)
        test_labels = context.test.labels.numpy()
        test_auroc = {
            f: auroc(*_known(test_probs[:, i].numpy(), test_labels[:, i])) for i, f in enumerate(context.test.findings)
        }
        return model, {
            "recipe": self.recipe.to_dict(),
            "thresholds": thresholds,
            "test_auroc": test_auroc,
            "cxrbench_version": __version__,
        }

    def extract(self, images: torch.Tensor) -> dict[str, np.ndarray]:
        if self.model is None:
            raise RuntimeError("cxr-evaluator.extract called before prepare")
        embeddings, probabilities = run_classifier(self.model, images, self.device)
        probs = probabilities.numpy()
        return {
            "features": embeddings.numpy(),
            "probabilities": probs,
            "calls": (probs >= self.thresholds).astype(np.int8),
        }

    def identity(self) -> dict:
        return {
            "name": self.name,
            "weights": self.key,
            "preprocessing": "bilinear-antialias-64px",
            "dim": self.recipe.widths[-1],
        }

    def report(self) -> dict:
        return {
            **self.identity(),
            "test_auroc": self.test_auroc,
            "thresholds": self.thresholds.tolist(),
            "weights_source": self.weights,
        }


def recipe_with(overrides: dict) -> ClassifierRecipe:
    """EVALUATOR_RECIPE with ``overrides`` (recipe field -> value); an unknown field is a ConfigError."""
    fields = dataclasses.asdict(EVALUATOR_RECIPE)
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise ConfigError(f"cxr-evaluator recipe has no field {unknown[0]!r}; its fields: {', '.join(fields)}")
    if "widths" in overrides:
        overrides = {**overrides, "widths": tuple(overrides["widths"])}
    return ClassifierRecipe(**{**fields, **overrides})


def _known(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores and labels of the images whose label is known (uncertain -1 left out)."""
    keep = labels >= 0
    return scores[keep], labels[keep]
