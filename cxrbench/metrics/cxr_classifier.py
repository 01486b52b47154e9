"""A compact multi-label CXR classifier: the recipe behind the `cxr-evaluator` feature space.

Kept small on purpose so it trains on two CPU cores in about a minute at 64 px; other
components (e.g. latent class optimisation) can train the same recipe with another seed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from cxrbench.checkpoint import WEIGHTS_FILE, load_checkpoint, save_checkpoint
from cxrbench.data.image_set import ImageSet
from cxrbench.tasks import FINDINGS


@dataclass(frozen=True)
class ClassifierRecipe:
    """Everything that determines the trained weights (with the data and the seed)."""

    input_size: int = 64  # every input is resized (bilinear, antialiased) to this square size
    widths: tuple[int, ...] = (16, 32, 64, 128)
    epochs: int = 8
    batch_size: int = 64
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    max_shift: int = 4  # augmentation: random translation in pixels (no flips: the heart is on the left)

    def to_dict(self) -> dict:
        return asdict(self)


class CxrClassifier(nn.Module):
    """Conv-BN-ReLU-pool blocks, global average pooling, a linear head over FINDINGS."""

    def __init__(self, recipe: ClassifierRecipe) -> None:
        super().__init__()
        self.input_size = recipe.input_size
        layers: list[nn.Module] = []
        channels = 1
        for width in recipe.widths:
            layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            channels = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(channels, len(FINDINGS))
        self.embedding_dim = channels

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 [B, 1, H, W] -> float [B, 1, S, S] in [-1, 1]."""
        return self.resize(images.float() / 127.5 - 1.0)

    def resize(self, x: torch.Tensor) -> torch.Tensor:
        """float [B, 1, H, W] in [-1, 1] -> [B, 1, S, S] (differentiable, for latent class optimisation)."""
        if x.shape[-1] != self.input_size or x.shape[-2] != self.input_size:
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", antialias=True,
                              align_corners=False)
        return x

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))


def train_classifier(
    data: ImageSet, recipe: ClassifierRecipe, seed: int, device: torch.device,
    progress: Callable[[int, int, str], None] = lambda done, total, text: None,
) -> CxrClassifier:
    """Train on ``data`` (multi-label BCE over known labels, Adam); deterministic for ``seed`` on a device."""
    torch.manual_seed(seed)
    model = CxrClassifier(recipe).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=recipe.learning_rate, weight_decay=recipe.weight_decay)
    generator = torch.Generator().manual_seed(seed)
    labels = data.labels.float()
    steps_per_epoch = (len(data) + recipe.batch_size - 1) // recipe.batch_size
    total = recipe.epochs * steps_per_epoch
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=recipe.learning_rate, total_steps=total)
    model.train()
    step = 0
    for epoch in range(recipe.epochs):
        order = torch.randperm(len(data), generator=generator)
        for batch in order.split(recipe.batch_size):
            x = model.preprocess(data.images[batch]).to(device)
            if recipe.max_shift:
                dx, dy = torch.randint(-recipe.max_shift, recipe.max_shift + 1, (2,), generator=generator).tolist()
                x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
            target = labels[batch].to(device)
            known = (target >= 0).float()  # uncertain labels (-1) do not train the classifier
            loss = (F.binary_cross_entropy_with_logits(model(x), target.clamp(min=0), reduction="none") * known
                    ).sum() / known.sum().clamp(min=1.0)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            step += 1
            progress(step, total, f"evaluator epoch {epoch + 1}/{recipe.epochs} loss {loss.item():.3f}")
    return model.eval()


def cached_classifier(directory: Path, recipe: ClassifierRecipe, device: torch.device,
                      train: Callable[[], tuple[CxrClassifier, dict]]) -> tuple[CxrClassifier, dict]:
    """The classifier saved in ``directory`` with its config, else ``train()``'s, saved there first."""
    if (directory / WEIGHTS_FILE).is_file():
        tensors, config = load_checkpoint(directory)
        model = CxrClassifier(recipe)
        model.load_state_dict(tensors)
        return model.to(device).eval(), config
    model, config = train()
    save_checkpoint(directory, model.state_dict(), config)
    return model, config


@torch.no_grad()
def run_classifier(model: CxrClassifier, images: torch.Tensor, device: torch.device,
                   batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings [N, D] and sigmoid probabilities [N, len(FINDINGS)] (float64, on the CPU)."""
    embeddings, probabilities = [], []
    for batch in images.split(batch_size):
        e = model.embed(model.preprocess(batch).to(device))
        embeddings.append(e.double().cpu())
        probabilities.append(torch.sigmoid(model.head(e)).double().cpu())
    return torch.cat(embeddings), torch.cat(probabilities)
