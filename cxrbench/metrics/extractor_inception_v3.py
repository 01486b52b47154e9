"""inception-v3: FID's Inception network through torch-fidelity, from a local weights file.

No file is downloaded here: the path comes from the run config (the CLI fills it from
``--inception-weights`` or ``CXRBENCH_INCEPTION_WEIGHTS``). By default the file must be the
published FID weights (95,628,359 bytes, sha256 6726825d...); ``verify = false`` accepts another
file of the same network (a user's own Inception-v3 variant), and every row computed with it then
carries ``published_weights: false`` in its comparability. The file is read with
``torch.load(weights_only=True)`` and only then handed to torch-fidelity, re-saved by us, because
torch-fidelity itself would unpickle the original file without restrictions.
Grayscale policy: the 1 channel is replicated to 3; resize: torch-fidelity's TF1-compatible
bilinear resize to 299 px inside the network. By default the network runs rebuilt for inference
(``cxrbench.metrics.inception_fused``: BatchNorm folded, shared 1x1 convolutions merged,
channels-last), which equals torch-fidelity's forward up to float rounding; ``fused=False`` runs
torch-fidelity's forward as it is (the reference that benchmarks and tests compare against).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from cxrbench.cache import sha256_file
from cxrbench.checkpoint import load_torch_tensors
from cxrbench.errors import UnavailableError
from cxrbench.metrics import FEATURE_EXTRACTORS
from cxrbench.metrics.feature_extractor import PUBLISHED_WEIGHTS_FIELD, ExtractorContext, FeatureExtractor
from cxrbench.metrics.inception_fused import FusedInceptionV3

FID_WEIGHTS_SIZE = 95_628_359
FID_WEIGHTS_SHA256_PREFIX = "6726825d"
# Marks the identity of features from any other file: their FIDs are not comparable with published ones.
HOW_TO_FIX = (
    "pass --inception-weights PATH (or set CXRBENCH_INCEPTION_WEIGHTS) to a copy of "
    "weights-inception-2015-12-05-6726825d.pth"
)


@FEATURE_EXTRACTORS.register("inception-v3")
class InceptionV3Extractor(FeatureExtractor):
    """FID Inception-v3 2048-d pool features via torch-fidelity (needs a local weights file).

    verify: check the file's size and sha256 against the published FID weights (True) or accept any
    file of torch-fidelity's Inception-v3 layout (False: a user's own variant, e.g. retrained on
    radiographs; tests use it for small random-weight files). Either way the identity says whether
    the file is the published one, so rows of another file are never taken for published FIDs.
    fused: run the inference rebuild of the network (same features up to float rounding, 1.8x
    the images per CPU second on one core, docs/performance.md); False: torch-fidelity's own forward.
    batch_size: images per forward pass (memory grows with it, not with the number of images).
    """

    name = "inception-v3"

    def __init__(
        self, weights: str | Path | None = None, verify: bool = True, batch_size: int = 32, fused: bool = True
    ) -> None:
        self.weights = Path(weights).expanduser() if weights else None
        self.verify = verify
        self.batch_size = batch_size
        self.fused = fused
        self.sha256 = ""
        self.published = False  # set by prepare: is the file the published FID weights?
        self.network = None

    def prepare(self, context: ExtractorContext) -> None:
        self.device = context.device
        if self.weights is None:
            raise UnavailableError(f"no FID Inception weights given (nothing is downloaded); {HOW_TO_FIX}")
        if not self.weights.is_file():
            raise UnavailableError(f"Inception weights file {self.weights} does not exist; {HOW_TO_FIX}")
        self.sha256 = sha256_file(self.weights)
        size = self.weights.stat().st_size
        self.published = is_published_fid_weights(size, self.sha256)
        if self.verify and not self.published:
            raise UnavailableError(
                f"{self.weights} is not the FID Inception weights file (size {size:,} bytes, sha256 "
                f"{self.sha256[:8]}...; expected {FID_WEIGHTS_SIZE:,} bytes, {FID_WEIGHTS_SHA256_PREFIX}...); "
                f"{HOW_TO_FIX}; for an Inception-v3 variant of your own set verify = false in "
                "[feature_options.inception-v3] (evaluate: --no-inception-verify)"
            )
        state_dict = load_torch_tensors(self.weights, HOW_TO_FIX)
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        with tempfile.TemporaryDirectory() as scratch:
            vetted = Path(scratch) / "inception.pth"
            torch.save(state_dict, vetted)  # only tensors we just loaded safely
            self.network = FeatureExtractorInceptionV3(
                "inception-v3-compat", ["2048"], feature_extractor_weights_path=str(vetted)
            ).to(self.device)
        if self.fused:
            self.network = FusedInceptionV3(self.network).to(self.device)

    @torch.inference_mode()
    def extract(self, images: torch.Tensor) -> dict[str, np.ndarray]:
        if self.network is None:
            raise RuntimeError("inception-v3.extract called before prepare")
        features = np.empty((len(images), 2048))
        for start in range(0, len(images), self.batch_size):
            batch = images[start : start + self.batch_size].to(self.device)
            if self.fused:
                out = self.network(batch)
            else:
                out = self.network(batch.expand(-1, 3, -1, -1).contiguous())[0]
            features[start : start + len(batch)] = out.double().cpu().numpy()
        return {"features": features}

    def identity(self) -> dict:
        identity = {
            "name": self.name,
            "weights_sha256": self.sha256,
            "preprocessing": "gray-to-rgb,tf1-bilinear-299",
            "dim": 2048,
        }
        if not self.published:  # only then: the identity of published-weight rows stays as before
            identity[PUBLISHED_WEIGHTS_FIELD] = False
        return identity


def is_published_fid_weights(size: int, sha256: str) -> bool:
    """Whether a file of ``size`` bytes and hex ``sha256`` is the published FID Inception weights file."""
    return size == FID_WEIGHTS_SIZE and sha256.startswith(FID_WEIGHTS_SHA256_PREFIX)
