"""Feature spaces from a local transformers directory: safetensors weights only, never a download.

``LocalVisionExtractor`` is what ``rad-dino``, ``dinov2`` and ``clip`` share: the option
``weights`` (the directory), its checks (a missing directory, a wrong kind of model or weights
that are only a pickle are refused with the fix before transformers reads anything), the weights
hash, and the batched extraction. Each subclass says which model class it loads, how it
preprocesses (a ``GreyPipeline``) and which output it keeps.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from abc import abstractmethod
from pathlib import Path
from typing import ClassVar, Iterator

import numpy as np
import torch
from safetensors import SafetensorError

from cxrbench.cache import sha256_file
from cxrbench.errors import UnavailableError
from cxrbench.metrics.feature_extractor import ExtractorContext, FeatureExtractor
from cxrbench.metrics.grey_pipeline import GreyPipeline

SAFE_WEIGHTS = "model.safetensors"
SAFE_WEIGHTS_INDEX = "model.safetensors.index.json"
PICKLED_WEIGHTS = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl")
CONVERT = (
    "convert it once with transformers, which reads it with torch.load(weights_only=True): python -c "
    "\"from transformers import AutoModel as M; M.from_pretrained('{dir}').save_pretrained('{dir}')\""
)


def safetensors_weights(directory: Path) -> list[Path]:
    """The safetensors files transformers loads from ``directory``: model.safetensors, else the shards
    its index lists (other .safetensors files beside them, e.g. rad-dino's DINO head, are not read)."""
    if (directory / SAFE_WEIGHTS).is_file():
        return [directory / SAFE_WEIGHTS]
    if (directory / SAFE_WEIGHTS_INDEX).is_file():
        shards = sorted(set(json.loads((directory / SAFE_WEIGHTS_INDEX).read_text())["weight_map"].values()))
        return [directory / shard for shard in shards]
    return []


def weights_sha256(files: list[Path]) -> str:
    """sha256 of the one weights file (the hash the model page lists), or of "name sha256" lines of shards."""
    if len(files) == 1:
        return sha256_file(files[0])
    lines = "".join(f"{path.name} {sha256_file(path)}\n" for path in files)
    return hashlib.sha256(lines.encode()).hexdigest()


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """transformers' load report and progress bars off while loading (problems are checked and said in
    one line here), restored afterwards: nothing is silenced outside this block."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


class LocalVisionExtractor(FeatureExtractor):
    """A vision model read from a local Hugging Face directory (``weights``), ``batch_size`` images a pass.

    Subclasses set ``source`` (the model's Hub id), ``model_types`` (config.json model_type values
    accepted), ``holds`` (the files the directory needs) and implement ``_load`` and ``_embed``.
    """

    source: ClassVar[str]
    model_types: ClassVar[tuple[str, ...]]
    holds: ClassVar[str]

    def __init__(self, weights: str | Path | None = None, batch_size: int = 16) -> None:
        self.weights = Path(weights).expanduser() if weights else None
        self.batch_size = batch_size
        self.sha256 = ""
        self.network: torch.nn.Module | None = None
        self.pipeline: GreyPipeline | None = None
        self.dim = 0

    # -- what subclasses provide -------------------------------------------------------------
    @abstractmethod
    def _load(self, directory: Path) -> None:
        """Set ``network`` (on ``self.device``, eval mode), ``pipeline`` and ``dim`` from ``directory``."""

    @abstractmethod
    def _embed(self, pixels: torch.Tensor) -> torch.Tensor:
        """float32 [B, 3, h, w] (the pipeline's output) -> float [B, dim]."""

    @abstractmethod
    def preprocessing(self) -> str:
        """The preprocessing in words, with every setting that changes the numbers."""

    # -- the shared part ---------------------------------------------------------------------
    def fix(self) -> str:
        return (
            f'set [feature_options.{self.name}] weights = "DIR", a local copy of huggingface.co/{self.source} '
            f"holding {self.holds} (e.g. `hf download {self.source} --local-dir DIR`; nothing is downloaded here)"
        )

    def prepare(self, context: ExtractorContext) -> None:
        self.device = context.device
        directory = self._checked_directory()
        self.sha256 = weights_sha256(safetensors_weights(directory))
        self._load(directory)

    def _checked_directory(self) -> Path:
        """The weights directory, or UnavailableError with the fix; nothing in it is unpickled."""
        directory = self.weights
        if directory is None:
            raise UnavailableError(f"no {self.name} weights given; {self.fix()}")
        if not directory.is_dir():
            raise UnavailableError(f"{self.name} weights directory {directory} does not exist; {self.fix()}")
        config = directory / "config.json"
        if not config.is_file():
            raise UnavailableError(
                f"{directory} has no config.json, so it is not a transformers model directory; {self.fix()}"
            )
        try:
            model_type = json.loads(config.read_text()).get("model_type")
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise UnavailableError(f"{config} is not readable JSON ({error}); {self.fix()}") from None
        if model_type not in self.model_types:
            raise UnavailableError(
                f"{directory} holds a {model_type!r} model, not {self.source} "
                f"(model_type {' or '.join(map(repr, self.model_types))}); {self.fix()}"
            )
        if not safetensors_weights(directory):
            pickles = sorted(p.name for pattern in PICKLED_WEIGHTS for p in directory.glob(pattern))
            if pickles:
                raise UnavailableError(
                    f"{directory} holds {', '.join(pickles)} but no {SAFE_WEIGHTS}: cxrbench reads "
                    f"safetensors only, never a pickle (it can run code when read); " + CONVERT.format(dir=directory)
                )
            raise UnavailableError(f"{directory} has no {SAFE_WEIGHTS}; {self.fix()}")
        return directory

    def load_network(self, model_class: type, directory: Path) -> torch.nn.Module:
        """``model_class`` from the safetensors in ``directory``, float32, eval mode, on the device. Weights that do
        not fit the model (missing or of another shape) are refused: transformers would start them at random."""
        try:
            with quiet_transformers():
                network, info = model_class.from_pretrained(
                    directory,
                    local_files_only=True,
                    use_safetensors=True,
                    output_loading_info=True,
                    ignore_mismatched_sizes=True,
                )
        except SafetensorError as error:
            raise UnavailableError(
                f"the weights in {directory} are damaged or incomplete ({error}); download them again: {self.fix()}"
            ) from None
        wrong = list(info["missing_keys"]) + [str(key) for key in info["mismatched_keys"]]
        if wrong:
            raise UnavailableError(
                f"the weights in {directory} do not fit {model_class.__name__} ({len(wrong)} "
                f"tensors missing or of another shape, e.g. {wrong[0]}); {self.fix()}"
            )
        return network.float().eval().to(self.device)

    def load_processor(self, directory: Path):
        """The directory's image processor with the PIL backend: the references ran transformers 4, whose default
        was that one; transformers 5's default (torchvision) resizes differently (256 -> 518 px phantom images: up
        to 2 grey levels off in 0.7% of pixels)."""
        if not (directory / "preprocessor_config.json").is_file():
            raise UnavailableError(f"{directory} has no preprocessor_config.json; {self.fix()}")
        from transformers import AutoImageProcessor

        with quiet_transformers():
            return AutoImageProcessor.from_pretrained(directory, local_files_only=True, backend="pil")

    @torch.inference_mode()
    def extract(self, images: torch.Tensor) -> dict[str, np.ndarray]:
        """uint8 [B, 1, H, W] -> {"features": float64 [B, dim]}."""
        if self.network is None or self.pipeline is None:
            raise RuntimeError(f"{self.name}.extract called before prepare")
        features = np.empty((len(images), self.dim))
        for start in range(0, len(images), self.batch_size):
            pixels = self.pipeline(images[start : start + self.batch_size], self.device)
            features[start : start + len(pixels)] = self._embed(pixels).double().cpu().numpy()
        return {"features": features}

    def identity(self) -> dict:
        return {
            "name": self.name,
            "weights_sha256": self.sha256,
            "preprocessing": self.preprocessing(),
            "dim": self.dim,
        }
