"""pca-gaussian: probabilistic PCA fitted per condition, a trained linear generative baseline.

For each task and condition it fits Tipping & Bishop's probabilistic PCA to the matching
training images (maximum likelihood: W = U_k (L_k - s^2 I)^1/2, s^2 = mean discarded
eigenvalue) and samples x = mean + W z + s e with z, e ~ N(0, I). It trains in seconds on a
CPU, so every run has a real generator to compare, and it marks what "more than a blurry
average" means for the deep models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import torch

from cxrbench.checkpoint import load_checkpoint, save_checkpoint
from cxrbench.errors import CxrbenchError
from cxrbench.models import MODELS
from cxrbench.models.adapter import Conditioning, FitContext, ModelAdapter, image_generators, image_normal
from cxrbench.tasks.task import Condition


@MODELS.register("pca-gaussian")
class PcaGaussianAdapter(ModelAdapter):
    """Probabilistic PCA per condition (a trained linear generative baseline).

    components: latent dimensions k per condition (fewer if a condition has fewer images).
    """

    conditioning = Conditioning.CLASS
    trainable = True

    def __init__(self, components: int = 64) -> None:
        if components < 1:
            raise CxrbenchError(f"pca-gaussian components={components}; use 1 or more")
        self.components = components
        self.state: dict[str, torch.Tensor] = {}
        self.targets: dict[str, list] = {}  # condition key -> the label vector it was fitted to
        self.resolution = 0

    def fit(self, context: FitContext) -> None:
        torch.manual_seed(context.seed)
        conditions = context.conditions
        for done, condition in enumerate(conditions):
            context.progress(done, len(conditions), f"pca-gaussian {condition.key}")
            images = context.train.matching(condition).images
            if len(images) < 2:
                raise CxrbenchError(f"pca-gaussian: only {len(images)} training images for {condition.key}; need 2+")
            x = images.flatten(1).double() / 255.0
            mean = x.mean(0)
            centred = x - mean
            k = min(self.components, len(images) - 1)
            _, singular, v = torch.svd_lowrank(centred, q=min(k + 10, *centred.shape), niter=4)
            eigen = singular[:k] ** 2 / (len(images) - 1)
            total = centred.pow(2).sum() / (len(images) - 1)
            discarded = max(centred.shape[1] - k, 1)
            noise_var = torch.clamp((total - eigen.sum()) / discarded, min=0.0)
            loadings = v[:, :k] * torch.sqrt(torch.clamp(eigen - noise_var, min=0.0))
            self.state[f"{condition.key}/mean"] = mean.float()
            self.state[f"{condition.key}/loadings"] = loadings.float()
            self.state[f"{condition.key}/noise_std"] = noise_var.sqrt().float().reshape(1)
            self.targets[condition.key] = list(condition.target)
        context.progress(len(conditions), len(conditions), "pca-gaussian")
        self.resolution = context.resolution

    def save(self, directory: Path) -> None:
        save_checkpoint(
            directory,
            self.state,
            {
                "model": "pca-gaussian",
                "components": self.components,
                "resolution": self.resolution,
                "targets": self.targets,
            },
        )

    def load(self, directory: Path) -> None:
        self.state, config = load_checkpoint(directory)
        self.resolution = int(config["resolution"])
        self.targets = config["targets"]

    def generate(self, condition: Condition, indices: range, seed: int, batch_size: int) -> Iterator[torch.Tensor]:
        if self.targets.get(condition.key) != list(condition.target):
            raise CxrbenchError(
                f"pca-gaussian was not fitted for {condition.key} with target {condition.target}; "
                "train it with the same tasks and --absent setting"
            )
        mean = self.state[f"{condition.key}/mean"]
        loadings = self.state[f"{condition.key}/loadings"]
        noise_std = self.state[f"{condition.key}/noise_std"]
        for start in range(0, len(indices), batch_size):
            generators = image_generators(seed, indices[start : start + batch_size])
            b = len(generators)
            z = image_normal(generators, loadings.shape[1])
            e = image_normal(generators, mean.numel())
            x = mean + z @ loadings.T + noise_std * e
            images = (x.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
            yield images.reshape(b, 1, self.resolution, self.resolution)
