"""What both GAN trainers share: image scaling, data order, EMA, resumable state, sample grids."""

from __future__ import annotations

import copy
import os
from pathlib import Path
import torch
from torch import nn

from cxrbench.benchmark.seeds import derive_seed

STATE_FILE = "state.pt"
GRIDS = "grids"


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 [B, 1, H, W] -> float32 in [-1, 1]."""
    return images.float() / 127.5 - 1.0


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] (values outside are clipped) -> uint8 on the CPU."""
    return ((x.detach().float().clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(torch.uint8).cpu()


class StepRandomness:
    """Minibatches and noise that depend only on (seed, step), so a resumed training is identical.

    Every epoch is a seeded permutation of the images, cut into full batches.
    """

    def __init__(self, n: int, batch_size: int, seed: int) -> None:
        if n < batch_size:
            raise ValueError(f"{n} training images are fewer than one batch of {batch_size}")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.per_epoch = n // batch_size
        self._epoch, self._order = -1, torch.empty(0, dtype=torch.long)

    def batch(self, step: int) -> torch.Tensor:
        """Indices of the images of training step ``step``."""
        epoch, position = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            self._epoch = epoch
            self._order = torch.randperm(self.n, generator=torch.Generator().manual_seed(
                derive_seed(self.seed, "epoch", str(epoch))))
        return self._order[position * self.batch_size:(position + 1) * self.batch_size]

    def generator(self, step: int) -> torch.Generator:
        """The generator for the latents and penalties of step ``step``."""
        return torch.Generator().manual_seed(derive_seed(self.seed, "step", str(step)))


class Ema:
    """Exponential moving average of generator weights, with the usual warm-up.

    The effective decay is min(decay, (1 + t) / (10 + t)) after t updates, so that a short CPU
    training is not dominated by the random initial weights (cxrbench's choice; the published
    decay 0.999 applies once t is large).
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        beta = min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        for averaged, current in zip(self.model.parameters(), model.parameters()):
            averaged.lerp_(current.detach(), 1.0 - beta)
        self.updates += 1


def save_state(work_dir: Path, state: dict) -> None:
    """Write a training state (tensors, numbers, strings, state dicts) atomically."""
    work_dir.mkdir(parents=True, exist_ok=True)
    tmp = work_dir / f".{STATE_FILE}.tmp-{os.getpid()}"
    torch.save(state, tmp)
    os.replace(tmp, work_dir / STATE_FILE)


def load_state(work_dir: Path | None, settings: dict) -> dict | None:
    """The saved state of an interrupted training with the same settings, else None.

    Read with ``torch.load(weights_only=True)``: no arbitrary objects are unpickled.
    """
    if work_dir is None or not (work_dir / STATE_FILE).is_file():
        return None
    state = torch.load(work_dir / STATE_FILE, map_location="cpu", weights_only=True)
    return state if state.get("settings") == settings else None


def finish_state(work_dir: Path | None) -> None:
    """Drop the resumable state once the final weights are saved (sample grids stay)."""
    if work_dir is not None:
        (work_dir / STATE_FILE).unlink(missing_ok=True)


def save_grid(path: Path, images: torch.Tensor, columns: int = 8) -> None:
    """uint8 [B, 1, H, W] as one PNG grid."""
    from PIL import Image

    b, _, h, w = images.shape
    rows = (b + columns - 1) // columns
    grid = torch.zeros(rows * h, columns * w, dtype=torch.uint8)
    for i, image in enumerate(images[:, 0]):
        r, c = divmod(i, columns)
        grid[r * h:(r + 1) * h, c * w:(c + 1) * w] = image
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    Image.fromarray(grid.numpy()).save(tmp, format="PNG")
    os.replace(tmp, path)
