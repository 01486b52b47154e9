"""diffusion-small: a text-conditioned diffusion model trained here from scratch, saved as a pipeline directory.

It is built from diffusers and transformers components (UNet2DConditionModel, a CLIPTextModel from
a config, a CLIP tokenizer made offline from the task prompts, a DDPM noise schedule), trained with
accelerate and classifier-free guidance (prompt dropout), and saved in the same layout that the
``roentgen`` adapter loads. Presets: ``cpu`` (64 px, trains in minutes on one core) and ``gpu``
(256 px). See docs/diffusion.md.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Iterator

import torch

from cxrbench.errors import CxrbenchError
from cxrbench.models import MODELS
from cxrbench.models.adapter import Conditioning, FitContext, GenerationLog, ModelAdapter
from cxrbench.models.diffusion.captions import vocabulary_texts
from cxrbench.models.diffusion.generation import SamplingSettings, TextGenerator
from cxrbench.models.diffusion.pipeline_dir import INDEX, load_pipeline, save_pipeline
from cxrbench.models.diffusion.prompts import read_prompt_file
from cxrbench.models.diffusion.small import build_small, network_config
from cxrbench.models.diffusion.train import TrainingConfig, train
from cxrbench.models.settings import with_settings
from cxrbench.tasks.task import Condition


@MODELS.register("diffusion-small")
class DiffusionSmallAdapter(ModelAdapter):
    """A small text-to-image diffusion model trained from scratch on the training split.

    preset: "cpu" (64 px) or "gpu" (256 px); network / training: keys of small.NetworkConfig /
    train.TrainingConfig overriding the preset; steps, guidance, scheduler: sampling (guidance 6, 20
    DPM-Solver++ 2M SDE steps by default, within the 95% intervals of 50 ancestral DDPM steps: docs/diffusion.md);
    prompt_file: TOML prompts per task and condition (default: the run's templates).
    """

    conditioning = Conditioning.TEXT
    trainable = True
    trains_per_condition = False  # one model over every finding's labels, whatever --tasks selects
    sampling_options = ("steps", "guidance", "scheduler")

    def __init__(
        self,
        preset: str = "cpu",
        network: dict | None = None,
        training: dict | None = None,
        steps: int = 20,
        guidance: float = 6.0,
        scheduler: str = "dpm-solver-sde",
        prompt_file: str | None = None,
    ) -> None:
        self.network = network_config(preset, network)
        self.training = with_settings("diffusion-small training", TrainingConfig(), training or {})
        self.settings = SamplingSettings(steps, guidance, scheduler, None)
        self.prompt_file = prompt_file
        self.prompts = read_prompt_file(prompt_file) if prompt_file else {}
        self.generator: TextGenerator | None = None
        self.resolution = 0
        self.summary: dict = {}

    def training_settings(self) -> dict:
        return {"network": dataclasses.asdict(self.network), "training": dataclasses.asdict(self.training)}

    def fit(self, context: FitContext) -> None:
        texts = vocabulary_texts(context.train.findings) + [p for ps in self.prompts.values() for p in ps]
        parts = build_small(self.network, texts, context.seed)
        images = context.train.images
        if images.shape[-1] != self.network.sample_size:  # the real images' filter, as for every resize
            from cxrbench.data.preprocess import to_square

            images = torch.stack(
                [torch.from_numpy(to_square(i[0].numpy(), self.network.sample_size))[None] for i in images]
            )
        self.summary = train(
            parts,
            images,
            context.train.labels,
            self.training,
            context.seed,
            context.device,
            context.work_dir,
            context.progress,
            context.train.findings,
        )
        self.resolution = context.resolution
        self.generator = TextGenerator(parts, self.settings, torch.device("cpu"))

    def save(self, directory: Path) -> None:
        from accelerate import PartialState

        about = {
            "model": "diffusion-small",
            "resolution": self.resolution,
            "network": dataclasses.asdict(self.network),
            "training": dataclasses.asdict(self.training),
            "training_summary": self.summary,
        }
        state = PartialState()  # under `accelerate launch` every process trained the same weights: one writes
        if state.is_main_process:
            save_pipeline(directory, self._parts(), extra={"cxrbench": about})
        state.wait_for_everyone()

    def load(self, directory: Path) -> None:
        index = Path(directory) / INDEX
        about = json.loads(index.read_text()).get("cxrbench") if index.is_file() else None
        if not about or about.get("model") != "diffusion-small":
            raise CxrbenchError(
                f"{directory} was not written by diffusion-small; train it with `cxrbench train "
                "diffusion-small` or load other pipelines with the roentgen model"
            )
        self.generator = TextGenerator(load_pipeline(directory), self.settings, torch.device("cpu"))
        self.resolution = int(about["resolution"])

    def place(self, device: torch.device) -> None:
        self._parts().to(device, torch.float32)
        self.generator.device = device

    def generation_log(self) -> GenerationLog | None:
        return self.generator.log if self.generator is not None else None

    def generate(self, condition: Condition, indices: range, seed: int, batch_size: int) -> Iterator[torch.Tensor]:
        return self.generator.generate(condition, self.prompts, indices, seed, batch_size, self.resolution)

    def _parts(self):
        if self.generator is None:
            raise CxrbenchError("diffusion-small has no weights yet; train it (fit) or load a checkpoint")
        return self.generator.parts
