"""cgan: one conditional GAN for all findings, in the spirit of the conditional StyleGAN2 of Schuit et al.

Schuit et al. (arXiv 2508.07128) trained one conditional StyleGAN2 per finding (present /
absent). cxrbench trains one model conditioned on the whole multi-label vector instead, with a
projection discriminator: it trains once instead of four times (the CPU budget), shares anatomy
across findings, and can draw any combination of findings, e.g. effusion present with the
cardiac silhouette absent, or all findings absent for ``--absent no_finding``. See docs/gans.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from cxrbench.checkpoint import load_checkpoint, save_checkpoint
from cxrbench.errors import CxrbenchError, UnavailableError
from cxrbench.models import MODELS
from cxrbench.models.adapter import (
    Conditioning,
    FitContext,
    GenerationLog,
    ModelAdapter,
    image_generators,
    image_normal,
)
from cxrbench.models.gan.cgan_networks import ConditionalGenerator
from cxrbench.models.gan.cgan_training import CganSettings, train_cgan
from cxrbench.models.gan.training import to_uint8
from cxrbench.models.settings import resolve_preset
from cxrbench.tasks import FINDINGS
from cxrbench.tasks.task import Condition

# "cpu": fits the default run on two CPU cores at 64 px. "gpu": StyleGAN2-like widths and the
# study's 300k training images, for 256 px.
PRESETS: dict[str, CganSettings] = {
    "cpu": CganSettings(),
    "gpu": CganSettings(
        latent_dim=512,
        fmap_base=8192,
        fmap_max=512,
        train_images=300_000,
        batch_size=32,
        r1_every=16,
        checkpoint_every=2000,
    ),
}


@MODELS.register("cgan")
class ConditionalGanAdapter(ModelAdapter):
    """One conditional GAN over the multi-label vector (projection discriminator, R1, EMA).

    preset: "cpu" or "gpu" (see PRESETS); ``gan`` overrides any CganSettings field (latent_dim,
    fmap_base, fmap_max, train_images, batch_size, learning_rate, r1_gamma, r1_every, ...).
    """

    conditioning = Conditioning.CLASS
    trainable = True
    trains_per_condition = False  # one model over every finding's labels, whatever --tasks selects

    def __init__(self, preset: str = "cpu", gan: dict | None = None) -> None:
        self.settings = resolve_preset("cgan", PRESETS, preset, gan or {})
        self.resolution = 0
        self.generator: ConditionalGenerator | None = None
        self.label_pool = torch.empty(0, len(FINDINGS), dtype=torch.int8)  # the training labels [N, F]
        self.device = torch.device("cpu")
        self._log: GenerationLog | None = None

    def training_settings(self) -> dict:
        return {"gan": self.settings.to_dict()}

    def fit(self, context: FitContext) -> None:
        if context.resolution < 8 or context.resolution & (context.resolution - 1):
            raise CxrbenchError(
                f"cgan needs a power-of-two resolution (got {context.resolution}); use --resolution 32, 64, 128 or 256"
            )
        self.resolution = context.resolution
        self.label_pool = context.train.labels.clone()
        self.generator = train_cgan(
            context.train.images,
            context.train.labels,
            self.settings,
            context.seed,
            context.device,
            context.work_dir,
            context.progress,
        )
        self.device = context.device

    def save(self, directory: Path) -> None:
        tensors = {
            **{f"generator.{k}": v for k, v in self._generator().state_dict().items()},
            "label_pool": self.label_pool,
        }
        save_checkpoint(
            directory, tensors, {"model": "cgan", "resolution": self.resolution, "gan": self.settings.to_dict()}
        )

    def load(self, directory: Path) -> None:
        tensors, config = load_checkpoint(directory)
        if config.get("model") != "cgan":
            raise CxrbenchError(
                f"checkpoint {directory} is not a cgan checkpoint; pass one written by `cxrbench train cgan`"
            )
        self.settings = CganSettings(**config["gan"])
        self.resolution = int(config["resolution"])
        self.label_pool = tensors.pop("label_pool")
        self.generator = ConditionalGenerator(
            self.resolution,
            self.settings.latent_dim,
            self.settings.fmap_base,
            self.settings.fmap_max,
            self.label_pool.shape[1],
        )
        self.generator.load_state_dict({k[len("generator.") :]: v for k, v in tensors.items()})
        self.generator.eval().requires_grad_(False)

    def place(self, device: torch.device) -> None:
        self.device = device
        self._generator().to(device)

    def generate(self, condition: Condition, indices: range, seed: int, batch_size: int) -> Iterator[torch.Tensor]:
        g = self._generator()
        # Free findings keep the training data's co-occurrence: draw whole label rows that match the target.
        pool = self.label_pool[torch.from_numpy(self._matching_rows(condition))]
        self._log = None
        records = []
        for start in range(0, len(indices), batch_size):
            span = indices[start : start + batch_size]
            generators = image_generators(seed, span)  # each image's label row, then its latent
            labels = pool[torch.cat([torch.randint(len(pool), (1,), generator=rng) for rng in generators])]
            z = image_normal(generators, self.settings.latent_dim).to(self.device)
            records += [
                {"index": i, "labels": dict(zip(condition.findings, row))} for i, row in zip(span, labels.tolist())
            ]
            with torch.no_grad():
                yield to_uint8(g(z, labels.to(self.device)))
        self._log = GenerationLog(records, {})

    def generation_log(self) -> GenerationLog | None:
        return self._log

    def _matching_rows(self, condition: Condition) -> np.ndarray:
        keep = condition.matches(self.label_pool.numpy())
        if not keep.any():
            raise UnavailableError(
                f"cgan: no training image has the labels of {condition.key} "
                f"({condition.target}), so the model cannot be conditioned on them"
            )
        return np.flatnonzero(keep)

    def _generator(self) -> ConditionalGenerator:
        if self.generator is None:
            raise RuntimeError("cgan used before fit or load")
        return self.generator
