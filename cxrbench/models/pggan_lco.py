"""pggan-lco: one unconditional PGGAN plus latent class optimisation (Segal et al., arXiv 2010.03975).

The PGGAN is trained once on all training images, whatever their labels. Images of a condition
come from latent class optimisation: z is moved until a CXR classifier gives G(z) the wanted
labels. That classifier is trained here on the real training split only, with its own seed and
data order, so it is a different network from the `cxr-evaluator` that grades the images: a
model cannot score well by fooling the network that grades it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import torch

from cxrbench.checkpoint import load_checkpoint, save_checkpoint
from cxrbench.errors import ConfigError, CxrbenchError
from cxrbench.metrics.cxr_classifier import ClassifierRecipe, CxrClassifier, classifier_from, train_classifier
from cxrbench.models import MODELS
from cxrbench.models.adapter import (
    Conditioning,
    FitContext,
    GenerationLog,
    ModelAdapter,
    image_generators,
    image_normal,
)
from cxrbench.models.gan.lco import LcoSettings, latent_class_optimisation
from cxrbench.models.gan.pggan_networks import PgganGenerator
from cxrbench.models.gan.pggan_training import PgganSettings, train_pggan
from cxrbench.models.gan.training import to_uint8
from cxrbench.models.settings import resolve_preset, with_settings
from cxrbench.seeds import derive_seed
from cxrbench.tasks.task import Condition

# "cpu": fits the default run on two CPU cores at 64 px. "gpu": the published PGGAN recipe
# (latent 512, channels 512 down to 16, 800k images per phase) for 256 px and above.
PRESETS: dict[str, PgganSettings] = {
    "cpu": PgganSettings(),
    "gpu": PgganSettings(latent_dim=512, fmap_base=8192, fmap_max=512, phase_images=800_000, checkpoint_every=2000),
}


@MODELS.register("pggan-lco")
class PgganLcoAdapter(ModelAdapter):
    """Unconditional PGGAN steered to each condition by latent class optimisation.

    preset: "cpu" or "gpu" (see PRESETS); any PgganSettings field (latent_dim, fmap_base, fmap_max,
    phase_images, batch_size, learning_rate, gp_every, ema_decay, ...) overrides it through
    ``pggan``. lco: LcoSettings fields (steps, learning_rate, prior_weight, threshold).
    classifier_epochs: epochs of the LCO classifier (cxrbench 0.1's compact classifier recipe, another seed).
    """

    conditioning = Conditioning.LATENT_SEARCH
    trainable = True
    trains_per_condition = False  # one model over every finding's labels, whatever --tasks selects
    sampling_options = ("lco",)  # the latent search runs on the trained generator and classifier

    def __init__(
        self, preset: str = "cpu", pggan: dict | None = None, lco: dict | None = None, classifier_epochs: int = 8
    ) -> None:
        self.settings = resolve_preset("pggan-lco", PRESETS, preset, pggan or {})
        self.lco = with_settings("pggan-lco lco", LcoSettings(), lco or {})
        if not 0.5 <= self.lco.threshold < 1.0:
            raise ConfigError(f"pggan-lco lco threshold {self.lco.threshold} must be in [0.5, 1)")
        self.recipe = ClassifierRecipe(epochs=classifier_epochs)
        self.resolution = 0
        self.generator: PgganGenerator | None = None
        self.classifier: CxrClassifier | None = None
        self.device = torch.device("cpu")
        self._log: GenerationLog | None = None

    def training_settings(self) -> dict:
        return {"pggan": self.settings.to_dict(), "classifier": self.recipe.to_dict()}

    def fit(self, context: FitContext) -> None:
        if context.resolution < 8 or context.resolution & (context.resolution - 1):
            raise CxrbenchError(
                f"pggan-lco grows by doublings and needs a power-of-two resolution (got "
                f"{context.resolution}); use --resolution 32, 64, 128 or 256"
            )
        self.resolution = context.resolution
        self.generator = train_pggan(
            context.train.images, self.settings, context.seed, context.device, context.work_dir, context.progress
        )
        # Another seed (so another initialisation and data order) than the evaluator's.
        self.classifier = train_classifier(
            context.train, self.recipe, derive_seed(context.seed, "lco-classifier"), context.device, context.progress
        )
        self.device = context.device

    def save(self, directory: Path) -> None:
        tensors = {
            **{f"generator.{k}": v for k, v in self._generator().state_dict().items()},
            **{f"classifier.{k}": v for k, v in self._classifier().state_dict().items()},
        }
        save_checkpoint(
            directory,
            tensors,
            {
                "model": "pggan-lco",
                "resolution": self.resolution,
                "pggan": self.settings.to_dict(),
                "classifier": self.recipe.to_dict(),
            },
        )

    def load(self, directory: Path) -> None:
        tensors, config = load_checkpoint(directory)
        if config.get("model") != "pggan-lco":
            raise CxrbenchError(
                f"checkpoint {directory} is not a pggan-lco checkpoint; pass one written by `cxrbench train pggan-lco`"
            )
        self.settings = PgganSettings(**config["pggan"])
        self.recipe = ClassifierRecipe(**{**config["classifier"], "widths": tuple(config["classifier"]["widths"])})
        self.resolution = int(config["resolution"])
        self.generator = PgganGenerator(
            self.resolution, self.settings.latent_dim, self.settings.fmap_base, self.settings.fmap_max
        )
        self.generator.load_state_dict(_part(tensors, "generator."))
        self.classifier = classifier_from(self.recipe, _part(tensors, "classifier."))
        self.generator.eval().requires_grad_(False)
        self.classifier.eval().requires_grad_(False)

    def place(self, device: torch.device) -> None:
        self.device = device
        self._generator().to(device)
        self._classifier().to(device)

    def generate(self, condition: Condition, indices: range, seed: int, batch_size: int) -> Iterator[torch.Tensor]:
        g, classifier = self._generator(), self._classifier()
        top = len(g.to_image) - 1
        records: list[dict] = []
        started = time.perf_counter()
        self._log = None
        for start in range(0, len(indices), batch_size):
            span = indices[start : start + batch_size]
            z = image_normal(image_generators(seed, span), self.settings.latent_dim).to(self.device)
            result = latent_class_optimisation(lambda latent: g(latent, top), classifier, z, condition.target, self.lco)
            for index, steps, success, probabilities in zip(
                span, result.steps.tolist(), result.success.tolist(), result.probabilities.tolist()
            ):
                records.append(
                    {
                        "index": index,
                        "steps": steps,
                        "success": success,
                        "probabilities": dict(zip(condition.findings, (round(p, 5) for p in probabilities))),
                    }
                )
            yield to_uint8(result.images)
        seconds = time.perf_counter() - started
        self._log = GenerationLog(
            records,
            {
                "lco_success_rate": sum(r["success"] for r in records) / len(records),
                "lco_mean_steps": sum(r["steps"] for r in records) / len(records),
                "lco_seconds_per_image": seconds / len(records),
            },
        )

    def generation_log(self) -> GenerationLog | None:
        return self._log

    def _generator(self) -> PgganGenerator:
        if self.generator is None:
            raise RuntimeError("pggan-lco used before fit or load")
        return self.generator

    def _classifier(self) -> CxrClassifier:
        if self.classifier is None:
            raise RuntimeError("pggan-lco used before fit or load")
        return self.classifier


def _part(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
