"""xrv-densenet: torchxrayvision's DenseNet-121 features as RoentGen's XRV-FID computes them.

The protocol (StanfordMIMI/RoentGen ``eval/calculate_fid.py``): clean-fid's
``get_files_features(mode="clean")`` reads each file as RGB uint8 and resizes every channel to
299 x 299 (PIL bicubic on float32, clipped to [0, 255]); per batch: torchvision
``rgb_to_grayscale``, x -> 2048 * x / 255 - 1024, a centre crop to the short side, torchvision
``Resize(224)`` (bilinear, antialiased); then ``DenseNet(weights="densenet121-res224-all").features2``
(ReLU and global average pool of the last feature map: 1024-d).

Grayscale policy: the 1 channel becomes RGB by replication (as a grayscale PNG read as RGB), so
the one resize of the grey channel here is the resize of each of the three channels there, and
``rgb_to_grayscale`` then weighs them 0.2989 + 0.587 + 0.114 (= 0.9999, kept as RoentGen has it).
The centre crop is the identity on clean-fid's square 299 x 299 output and is not repeated.

Weights: a local file only (``weights`` option), nothing is downloaded; read by
``cxrbench.metrics.xrv_weights`` without unpickling code (the published file is a pickled whole
model). By default the file must be the published one (``verify``; its hash is not published by
torchxrayvision, see ``xrv_weights``); ``verify = false`` accepts other DenseNet-121 weights and
marks every row computed with them ``published_weights: false``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cxrbench.errors import UnavailableError
from cxrbench.metrics import FEATURE_EXTRACTORS
from cxrbench.metrics.feature_extractor import PUBLISHED_WEIGHTS_FIELD, ExtractorContext, FeatureExtractor
from cxrbench.metrics.xrv_weights import (
    CONVERT_COMMAND,
    PUBLISHED_FILE,
    PUBLISHED_SHA256,
    PUBLISHED_SIZE,
    PUBLISHED_URL,
    densenet_from_tensors,
    import_torchxrayvision,
    read_xrv_weights,
)

CLEAN_FID_SIZE = 299
XRV_INPUT_SIZE = 224
FEATURE_DIM = 1024
PREPROCESSING = (
    "gray-to-rgb,clean-fid-pil-bicubic-float-299,rgb-to-grayscale,2048x/255-1024,"
    "center-crop,torchvision-bilinear-antialias-224"
)
HOW_TO_FIX = (
    f'set weights = "PATH" in [feature_options.xrv-densenet] to a copy of {PUBLISHED_FILE} '
    f"(torchxrayvision's densenet121-res224-all, {PUBLISHED_URL}) or to the safetensors file "
    f"`{CONVERT_COMMAND}` makes of it"
)


def clean_fid_resize(channel: np.ndarray) -> np.ndarray:
    """clean-fid's "clean" resize of one channel: uint8 [H, W] -> float32 [299, 299] in [0, 255]
    (PIL bicubic on the float32 image, then clipped)."""
    image = Image.fromarray(channel.astype(np.float32))  # mode "F"
    resized = image.resize((CLEAN_FID_SIZE, CLEAN_FID_SIZE), resample=Image.Resampling.BICUBIC)
    return np.asarray(resized).clip(0, 255)


def roentgen_xrv_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 [B, 1, H, W] -> float32 [B, 1, 224, 224] in about [-1024, 1024]: what RoentGen's XRV-FID
    gives the DenseNet for the same images stored as grayscale PNG files."""
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.functional import resize, rgb_to_grayscale

    grey = torch.from_numpy(np.stack([clean_fid_resize(image[0]) for image in images.cpu().numpy()]))
    grey = rgb_to_grayscale(grey[:, None].expand(-1, 3, -1, -1))  # the replicated channel, weighed as RGB
    scaled = 2048 * (grey / 255) - 1024
    return resize(scaled, [XRV_INPUT_SIZE], interpolation=InterpolationMode.BILINEAR, antialias=True)


@FEATURE_EXTRACTORS.register("xrv-densenet")
class XrvDenseNetExtractor(FeatureExtractor):
    """torchxrayvision DenseNet-121 1024-d features, RoentGen's XRV-FID protocol (needs a local weights file).

    weights: the published densenet121-res224-all file, a state dict of it, or its safetensors
    conversion (``cxrbench convert-weights xrv-densenet SRC DST``).
    verify: require the published weights (by the sha256 of the file, or of the file a conversion
    came from); False accepts other DenseNet-121 weights, their rows marked published_weights: false.
    batch_size: images per forward pass (memory grows with it, not with the number of images).
    """

    name = "xrv-densenet"

    def __init__(self, weights: str | Path | None = None, verify: bool = True, batch_size: int = 32) -> None:
        self.weights = Path(weights).expanduser() if weights else None
        self.verify = verify
        self.batch_size = batch_size
        self.loaded = None  # XrvWeights, set by prepare
        self.network = None

    def prepare(self, context: ExtractorContext) -> None:
        self.device = context.device
        import_torchxrayvision()  # first: without the package there is nothing to fix in the file
        if self.weights is None:
            raise UnavailableError(f"no torchxrayvision DenseNet weights given (nothing is downloaded); {HOW_TO_FIX}")
        if not self.weights.is_file():
            raise UnavailableError(f"torchxrayvision weights file {self.weights} does not exist; {HOW_TO_FIX}")
        loaded = read_xrv_weights(self.weights)
        if self.verify and not loaded.published:
            raise UnavailableError(
                f"{self.weights} is not torchxrayvision's published densenet121-res224-all weights (sha256 "
                f"{loaded.source_sha256[:8]}...; expected the {PUBLISHED_SIZE:,}-byte file, {PUBLISHED_SHA256[:8]}..., "
                f"or its conversion); {HOW_TO_FIX}; for other "
                "DenseNet-121 weights set verify = false in [feature_options.xrv-densenet]"
            )
        self.network = densenet_from_tensors(loaded.tensors, self.weights).to(self.device)
        self.loaded = loaded

    @torch.inference_mode()
    def extract(self, images: torch.Tensor) -> dict[str, np.ndarray]:
        if self.network is None:
            raise RuntimeError("xrv-densenet.extract called before prepare")
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 1:
            raise TypeError(f"xrv-densenet takes uint8 [B, 1, H, W] images, got {images.dtype} {tuple(images.shape)}")
        features = np.empty((len(images), FEATURE_DIM))
        for start in range(0, len(images), self.batch_size):
            batch = roentgen_xrv_input(images[start : start + self.batch_size]).to(self.device)
            features[start : start + len(batch)] = self.network.features2(batch).double().cpu().numpy()
        return {"features": features}

    def identity(self) -> dict:
        """weights_sha256: the sha256 of the weights file, or for a converted safetensors file that of
        the file it was converted from (so both give numbers in one column)."""
        identity = {
            "name": self.name,
            "weights_sha256": self.loaded.source_sha256 if self.loaded else "",
            "preprocessing": PREPROCESSING,
            "dim": FEATURE_DIM,
        }
        if self.loaded is not None and not self.loaded.published:
            identity[PUBLISHED_WEIGHTS_FIELD] = False
        return identity

    def report(self) -> dict:
        if self.loaded is None:
            return self.identity()
        return {
            **self.identity(),
            "weights_file": str(self.weights),
            "weights_file_sha256": self.loaded.file_sha256,
            "weights_layout": self.loaded.layout,
        }
