"""What both GAN trainers share: image scaling, data order, EMA, resumable state, sample grids."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from cxrbench.checkpoint import load_torch_tensors
from cxrbench.errors import CxrbenchError
from cxrbench.files import atomic_save_png, atomic_write
from cxrbench.seeds import derive_seed

STATE_FILE = "state.pt"
GRIDS = "grids"


def channels_last(x):
    """A module or 4-d tensor in channels-last layout: about 1.5x faster GAN convolutions on
    the CPU here (measured side by side; docs/performance.md)."""
    if isinstance(x, nn.Module):
        return x.to(memory_format=torch.channels_last)
    return x.contiguous(memory_format=torch.channels_last)


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
            raise CxrbenchError(
                f"{n} training images are fewer than one batch of {batch_size}; "
                "lower the model's batch_size or use more training images"
            )
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.per_epoch = n // batch_size
        self._epoch, self._order = -1, torch.empty(0, dtype=torch.long)

    def batch(self, step: int) -> torch.Tensor:
        """Indices of the images of training step ``step``."""
        epoch, position = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            self._epoch = epoch
            self._order = torch.randperm(
                self.n, generator=torch.Generator().manual_seed(derive_seed(self.seed, "epoch", str(epoch)))
            )
        return self._order[position * self.batch_size : (position + 1) * self.batch_size]

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


@dataclass
class GanParts:
    """What a GAN training step changes, and so what a resumable state holds."""

    g: nn.Module
    d: nn.Module
    ema: Ema
    optimisers: list[torch.optim.Optimizer]


def save_state(work_dir: Path, identity: dict, step: int, parts: GanParts) -> None:
    """Write the training state after ``step`` steps atomically (a kill leaves the previous one)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    state = {
        "identity": identity,
        "step": step,
        "g": parts.g.state_dict(),
        "d": parts.d.state_dict(),
        "ema": parts.ema.model.state_dict(),
        "ema_updates": parts.ema.updates,
        "optimisers": [o.state_dict() for o in parts.optimisers],
    }
    atomic_write(work_dir / STATE_FILE, lambda tmp: torch.save(state, tmp))


def resume_state(work_dir: Path | None, identity: dict, parts: GanParts) -> int:
    """Load the state of an interrupted training with the same identity into ``parts``; returns its step (0: none).

    Read with ``torch.load(weights_only=True)``: no arbitrary objects are unpickled.
    """
    if work_dir is None or not (work_dir / STATE_FILE).is_file():
        return 0
    path = work_dir / STATE_FILE
    state = load_torch_tensors(path, "delete it to start the training over")
    if state.get("identity") != identity:
        return 0  # another configuration's state: start over (it is replaced at the first checkpoint)
    parts.g.load_state_dict(state["g"])
    parts.d.load_state_dict(state["d"])
    parts.ema.model.load_state_dict(state["ema"])
    parts.ema.updates = int(state["ema_updates"])
    for optimiser, saved in zip(parts.optimisers, state["optimisers"]):
        optimiser.load_state_dict(saved)
    return int(state["step"])


def finish_state(work_dir: Path | None) -> None:
    """Drop the resumable state once the final weights are saved (sample grids stay)."""
    if work_dir is not None:
        (work_dir / STATE_FILE).unlink(missing_ok=True)


def save_grid(path: Path, images: torch.Tensor, columns: int = 8) -> None:
    """uint8 [B, 1, H, W] as one PNG grid."""

    b, _, h, w = images.shape
    rows = (b + columns - 1) // columns
    grid = torch.zeros(rows * h, columns * w, dtype=torch.uint8)
    for i, image in enumerate(images[:, 0]):
        r, c = divmod(i, columns)
        grid[r * h : (r + 1) * h, c * w : (c + 1) * w] = image
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_save_png(path, grid.numpy())
