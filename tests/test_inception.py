"""inception-v3: the real loading code on a random-weights file the test makes (no download here)."""

from __future__ import annotations

import pickle

import pytest
import torch

from cxrbench.data.phantom.dataset import PhantomDataset
from cxrbench.errors import UnavailableError
from cxrbench.metrics.extractor_inception_v3 import InceptionV3Extractor
from cxrbench.metrics.feature_extractor import ExtractorContext


def _context(tmp_path) -> ExtractorContext:
    data = PhantomDataset(n_images=40, seed=0)
    split = data.load("train", 32)
    return ExtractorContext(train=split, val=split, test=split, device=torch.device("cpu"), seed=0,
                            cache_dir=tmp_path, dataset_fingerprint=data.fingerprint())


def test_features_from_a_local_file(random_weights, tmp_path):
    extractor = InceptionV3Extractor(weights=random_weights, verify=False, batch_size=2)
    extractor.prepare(_context(tmp_path))
    images = PhantomDataset(n_images=40, seed=0).load("train", 32).images[:3]
    features = extractor.extract(images)["features"]
    assert features.shape == (3, 2048) and features.dtype.name == "float64"
    assert extractor.identity()["weights_sha256"] and abs(features).sum() > 0


def test_the_published_file_check_refuses_other_files(random_weights, tmp_path):
    with pytest.raises(UnavailableError, match="is not the FID Inception weights file .*--inception-weights"):
        InceptionV3Extractor(weights=random_weights).prepare(_context(tmp_path))
    with pytest.raises(UnavailableError, match="no FID Inception weights given"):
        InceptionV3Extractor().prepare(_context(tmp_path))
    with pytest.raises(UnavailableError, match="does not exist"):
        InceptionV3Extractor(weights=tmp_path / "gone.pth").prepare(_context(tmp_path))


class _Payload:
    def __reduce__(self):
        return (print, ("unpickled code ran",))


def test_a_file_with_pickled_code_is_not_loaded(tmp_path):
    evil = tmp_path / "evil.pth"
    torch.save({"x": torch.zeros(1), "payload": _Payload()}, evil, pickle_module=pickle)
    with pytest.raises(pickle.UnpicklingError):
        InceptionV3Extractor(weights=evil, verify=False).prepare(_context(tmp_path))
