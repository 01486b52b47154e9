"""roentgen: any Stable-Diffusion-1.x diffusers directory (RoentGen, or your own fine-tune), prompted per task.

Defaults are the published RoentGen inference settings used by Schuit et al. (arXiv 2508.07128):
75 denoising steps, guidance scale 4, 512 px, the directory's own scheduler; images are made grey
(channel mean) and resized to the benchmark resolution with the real images' filter. Weights are
never downloaded: without ``model_path`` the model is reported unavailable and the run goes on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import torch

from cxrbench.errors import ConfigError, UnavailableError
from cxrbench.models import MODELS
from cxrbench.models.adapter import Conditioning, FitContext, GenerationLog, ModelAdapter
from cxrbench.models.diffusion.generation import SamplingSettings, TextGenerator
from cxrbench.models.diffusion.pipeline_dir import check_pipeline_dir, load_pipeline
from cxrbench.models.diffusion.prompts import read_prompt_file
from cxrbench.models.diffusion.sampler import DTYPES, check_device_dtype
from cxrbench.tasks.task import Condition

HOW_TO_GIVE = (
    'pass --model-path DIR or set [model_options.roentgen] model_path = "DIR" to RoentGen or another '
    "Stable-Diffusion-1.x diffusers directory (nothing is downloaded)"
)


@MODELS.register("roentgen")
class RoentgenAdapter(ModelAdapter):
    """A Stable-Diffusion-1.x text-to-image pipeline directory, prompted with the task's templates.

    model_path: the diffusers directory (model_index.json, unet, vae, text_encoder, tokenizer,
    scheduler). steps, guidance, scheduler ("saved" or a name in sampler.SCHEDULERS), resolution
    (generated side in px; None: the model's native size), dtype (float32; float16/bfloat16 need
    a GPU). prompt_file: a TOML file of prompts per task and condition (default: the run's
    --prompt-style templates).
    """

    conditioning = Conditioning.TEXT
    trainable = False  # weights come from model_path; the runner has nothing to train or cache

    def __init__(
        self,
        model_path: str | None = None,
        steps: int = 75,
        guidance: float = 4.0,
        scheduler: str = "saved",
        resolution: int | None = 512,
        dtype: str = "float32",
        prompt_file: str | None = None,
    ) -> None:
        self.model_path = Path(model_path).expanduser() if model_path else None
        if self.model_path is not None:
            check_pipeline_dir(self.model_path)  # a directory given but incomplete is the user's to fix now
        self.settings = SamplingSettings(steps, guidance, scheduler, resolution, dtype)
        self.prompts = read_prompt_file(prompt_file) if prompt_file else {}
        self.generator: TextGenerator | None = None
        self.resolution = 0

    def fit(self, context: FitContext) -> None:
        """Nothing is trained: load the pipeline (if given) and remember the benchmark resolution."""
        self.resolution = context.resolution
        if self.model_path is not None:
            self.generator = TextGenerator(load_pipeline(self.model_path), self.settings, torch.device("cpu"))

    def load(self, directory: Path) -> None:
        raise ConfigError(f"roentgen takes its pipeline directory as an option, not a checkpoint; {HOW_TO_GIVE}")

    def place(self, device: torch.device) -> None:
        if self.generator is not None:
            check_device_dtype(device, self.settings.dtype)
            self.generator.parts.to(device, DTYPES[self.settings.dtype])
            self.generator.device = device

    def generation_log(self) -> GenerationLog | None:
        return self.generator.log if self.generator is not None else None

    def generate(self, condition: Condition, indices: range, seed: int, batch_size: int) -> Iterator[torch.Tensor]:
        if self.generator is None:
            raise UnavailableError(f"roentgen has no weights; {HOW_TO_GIVE}")
        return self.generator.generate(condition, self.prompts, indices, seed, batch_size, self.resolution)
