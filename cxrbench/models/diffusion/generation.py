"""Batched text-to-image generation for a Condition, with each image's prompt and seed recorded."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterator

import torch

from cxrbench.models.adapter import GenerationLog
from cxrbench.models.diffusion.pipeline_dir import PipelineParts
from cxrbench.models.diffusion.prompts import condition_prompts
from cxrbench.models.diffusion.sampler import DTYPES, check_sampling, image_size, sample, to_benchmark_images
from cxrbench.seeds import image_seed
from cxrbench.tasks.task import Condition


@dataclass(frozen=True)
class SamplingSettings:
    """steps: denoising steps; guidance: classifier-free guidance scale (1 = none); scheduler: a
    name from ``sampler.SCHEDULERS`` or "saved"; resolution: generated side in pixels (None = the
    model's native size); dtype: float32, or float16/bfloat16 on a GPU."""

    steps: int
    guidance: float
    scheduler: str
    resolution: int | None
    dtype: str = "float32"

    def __post_init__(self) -> None:
        check_sampling(self.steps, self.guidance, self.scheduler, self.dtype)


def generate_condition(
    parts: PipelineParts,
    settings: SamplingSettings,
    condition: Condition,
    overrides: dict[str, tuple[str, ...]],
    indices: range,
    seed: int,
    batch_size: int,
    resolution: int,
    device: torch.device,
    records: list[dict],
) -> Iterator[torch.Tensor]:
    """Yield uint8 [B, 1, resolution, resolution] batches: images ``indices`` of the set; append one record per image.

    Image i gets prompt prompts[i % len(prompts)] (the condition's templates in turn) and seed
    ``image_seed(seed, i)``.
    """
    prompts = condition_prompts(condition, overrides)
    for start in range(0, len(indices), batch_size):
        index = list(indices[start : start + batch_size])
        batch_prompts = [prompts[i % len(prompts)] for i in index]
        seeds = [image_seed(seed, i) for i in index]
        images = sample(
            parts,
            batch_prompts,
            seeds,
            settings.steps,
            settings.guidance,
            settings.scheduler,
            settings.resolution,
            device,
            DTYPES[settings.dtype],
        )
        records.extend({"index": i, "prompt": p, "seed": s} for i, p, s in zip(index, batch_prompts, seeds))
        yield to_benchmark_images(images, resolution)


class TextGenerator:
    """Holds a loaded pipeline and its sampling settings; generates and remembers the last log."""

    def __init__(self, parts: PipelineParts, settings: SamplingSettings, device: torch.device) -> None:
        self.parts, self.settings, self.device = parts, settings, device
        self.log: GenerationLog | None = None

    def generate(
        self,
        condition: Condition,
        overrides: dict[str, tuple[str, ...]],
        indices: range,
        seed: int,
        batch_size: int,
        resolution: int,
    ) -> Iterator[torch.Tensor]:
        self.log = None
        records: list[dict] = []
        yield from generate_condition(
            self.parts, self.settings, condition, overrides, indices, seed, batch_size, resolution, self.device, records
        )
        self.log = GenerationLog(
            records,
            {
                **asdict(self.settings),
                "generated_size": image_size(self.parts, self.settings.resolution),
                "prompt_source": "prompt_file" if overrides else "task templates",
            },
        )
