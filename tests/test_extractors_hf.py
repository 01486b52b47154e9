"""rad-dino, dinov2, clip: each equals its reference code (transformers' processor or the published
transforms on PIL RGB images, then transformers' forward) on tiny random models in the published layout."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from hf_helpers import REFERENCES, TINY, chexgenbench, write_local_copy

from cxrbench.cache import sha256_file
from cxrbench.data.phantom.dataset import PhantomDataset
from cxrbench.errors import ConfigError, UnavailableError
from cxrbench.metrics import FEATURE_EXTRACTORS
from cxrbench.metrics.feature_extractor import ExtractorContext

NAMES = ("rad-dino", "dinov2", "clip")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from threads, and on a shared machine 2 OpenMP threads wait on each other
    (a 1154 x 32 linear: 0.17 ms on 1 thread, 40 ms on 2 at load average 10)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def local_copies(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("hf")
    return {name: write_local_copy(name, root / name, TINY[name], seed=i) for i, name in enumerate(NAMES)}


def _context(tmp_path) -> ExtractorContext:
    return ExtractorContext(None, None, None, torch.device("cpu"), 0, tmp_path, "none")


def _images(height: int, width: int) -> torch.Tensor:
    """5 phantom chest X-rays, uint8 [5, 1, height, width] (a centred cut when not square)."""
    side = max(height, width)
    images = PhantomDataset(n_images=40, seed=0).load("train", side).images[:5]
    top, left = (side - height) // 2, (side - width) // 2
    return images[:, :, top : top + height, left : left + width].contiguous()


@pytest.mark.parametrize("shape", [(64, 64), (48, 64)])
@pytest.mark.parametrize("name", NAMES)
def test_features_equal_the_reference_code(name, shape, local_copies, tmp_path):
    extractor, _ = FEATURE_EXTRACTORS.build(name, {"weights": str(local_copies[name]), "batch_size": 2})
    extractor.prepare(_context(tmp_path))
    images = _images(*shape)
    reference = REFERENCES[name](local_copies[name])
    # the model's input is the reference's, bit for bit; the features then agree to float rounding
    assert torch.equal(extractor.pipeline(images, torch.device("cpu")), reference.pixels(images))
    features = extractor.extract(images)["features"]
    expected = reference(images)
    assert features.dtype == np.float64 and features.shape == expected.shape == (5, extractor.dim)
    np.testing.assert_allclose(features, expected, rtol=0, atol=1e-6)
    assert np.abs(features).max() > 0.1  # not trivially equal
    identity = extractor.identity()
    assert identity["weights_sha256"] == sha256_file(local_copies[name] / "model.safetensors")
    assert identity["dim"] == extractor.dim and identity["preprocessing"].startswith("gray-to-rgb")


def test_rad_dino_without_chexgenbench_first_resize(local_copies, tmp_path):
    extractor, _ = FEATURE_EXTRACTORS.build("rad-dino", {"weights": str(local_copies["rad-dino"]), "pre_resize": 0})
    extractor.prepare(_context(tmp_path))
    images = _images(64, 64)
    expected = chexgenbench(local_copies["rad-dino"], pre_resize=0)(images)
    np.testing.assert_allclose(extractor.extract(images)["features"], expected, rtol=0, atol=1e-6)
    default, _ = FEATURE_EXTRACTORS.build("rad-dino", {"weights": str(local_copies["rad-dino"])})
    default.prepare(_context(tmp_path))
    assert default.identity()["preprocessing"] != extractor.identity()["preprocessing"]
    with pytest.raises(ConfigError, match="pre_resize = -1"):
        FEATURE_EXTRACTORS.build("rad-dino", {"pre_resize": -1})


def test_clip_vision_tower_alone_gives_the_same_features(local_copies, tmp_path):
    from transformers import CLIPVisionModelWithProjection

    tower = tmp_path / "tower"
    CLIPVisionModelWithProjection.from_pretrained(local_copies["clip"]).save_pretrained(tower)
    shutil.copy(local_copies["clip"] / "preprocessor_config.json", tower)
    spaces = []
    for directory in (local_copies["clip"], tower):
        extractor, _ = FEATURE_EXTRACTORS.build("clip", {"weights": str(directory)})
        extractor.prepare(_context(tmp_path))
        spaces.append(extractor.extract(_images(64, 64))["features"])
    np.testing.assert_allclose(spaces[0], spaces[1], rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(spaces[0], axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_missing_weights_say_how_to_set_them(name, tmp_path):
    fix = rf'\[feature_options.{name}\] weights = "DIR".*hf download'
    with pytest.raises(UnavailableError, match=f"no {name} weights given; set {fix}"):
        FEATURE_EXTRACTORS.build(name)[0].prepare(_context(tmp_path))
    with pytest.raises(UnavailableError, match=f"does not exist; set {fix}"):
        FEATURE_EXTRACTORS.build(name, {"weights": str(tmp_path / "gone")})[0].prepare(_context(tmp_path))


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))  # unpickling would create the marker file


def test_a_pickle_only_directory_is_refused_unread(local_copies, tmp_path):
    directory, marker = tmp_path / "pickled", tmp_path / "unpickled-code-ran"
    directory.mkdir()
    shutil.copy(local_copies["rad-dino"] / "config.json", directory)
    shutil.copy(local_copies["rad-dino"] / "preprocessor_config.json", directory)
    torch.save({"payload": _Payload(marker)}, directory / "pytorch_model.bin")
    extractor = FEATURE_EXTRACTORS.build("rad-dino", {"weights": str(directory)})[0]
    with pytest.raises(
        UnavailableError, match="holds pytorch_model.bin but no model.safetensors: .*safetensors only.*save_pretrained"
    ):
        extractor.prepare(_context(tmp_path))
    assert not marker.exists()


def test_another_kind_of_model_is_refused(local_copies, tmp_path):
    with pytest.raises(UnavailableError, match="holds a 'clip' model, not microsoft/rad-dino"):
        FEATURE_EXTRACTORS.build("rad-dino", {"weights": str(local_copies["clip"])})[0].prepare(_context(tmp_path))


def test_weights_that_do_not_fit_the_config_are_refused(local_copies, tmp_path):
    directory = tmp_path / "resized"
    shutil.copytree(local_copies["dinov2"], directory)
    config = json.loads((directory / "config.json").read_text())
    (directory / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 3}))  # one layer more
    with pytest.raises(UnavailableError, match="do not fit Dinov2Model .*missing or of another shape"):
        FEATURE_EXTRACTORS.build("dinov2", {"weights": str(directory)})[0].prepare(_context(tmp_path))


def test_a_damaged_weights_file_says_so(local_copies, tmp_path):
    directory = tmp_path / "truncated"
    shutil.copytree(local_copies["dinov2"], directory)
    weights = directory / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # an interrupted download
    with pytest.raises(UnavailableError, match="damaged or incomplete .*download them again"):
        FEATURE_EXTRACTORS.build("dinov2", {"weights": str(directory)})[0].prepare(_context(tmp_path))
