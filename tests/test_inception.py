"""inception-v3: the real loading code on a random-weights file the test makes (no download here)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from cxrbench.data.phantom.dataset import PhantomDataset
from cxrbench.errors import CxrbenchError, UnavailableError
from cxrbench.metrics.extractor_inception_v3 import InceptionV3Extractor
from cxrbench.metrics.feature_extractor import ExtractorContext


def _context(tmp_path) -> ExtractorContext:
    data = PhantomDataset(n_images=40, seed=0)
    split = data.load("train", 32)
    return ExtractorContext(
        train=split,
        val=split,
        test=split,
        device=torch.device("cpu"),
        seed=0,
        cache_dir=tmp_path,
        dataset_fingerprint=data.fingerprint(),
    )


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
    with pytest.raises(CxrbenchError, match="cannot be read safely.*nothing was unpickled"):
        InceptionV3Extractor(weights=evil, verify=False).prepare(_context(tmp_path))


def _randomise_batch_norms(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    generator = torch.Generator().manual_seed(seed)
    for bn in (m for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        bn.running_mean.normal_(0, 0.2, generator=generator)
        bn.running_var.uniform_(0.5, 2.0, generator=generator)
        bn.weight.data.uniform_(0.5, 1.5, generator=generator)
        bn.bias.data.normal_(0, 0.2, generator=generator)
    return module.eval()


@pytest.mark.parametrize("kind", ["A", "B", "C", "D", "E_1", "E_2"])
def test_each_fused_block_computes_torch_fidelity_block(kind):
    import torch_fidelity.feature_extractor_inceptionv3 as tf

    from cxrbench.metrics import inception_fused as fused

    torch.manual_seed(0)
    block, channels = {
        "A": (lambda: tf.InceptionA(40, pool_features=8), 40),
        "B": (lambda: tf.InceptionB(40), 40),
        "C": (lambda: tf.InceptionC(48, channels_7x7=16), 48),
        "D": (lambda: tf.InceptionD(48), 48),
        "E_1": (lambda: tf.InceptionE_1(64), 64),
        "E_2": (lambda: tf.InceptionE_2(64), 64),
    }[kind]
    block = _randomise_batch_norms(block(), 1)
    rebuilt = {
        "A": fused.FusedA,
        "B": fused.FusedB,
        "C": fused.FusedC,
        "D": fused.FusedD,
        "E_1": lambda b: fused.FusedE(b, max_pool=False),
        "E_2": lambda b: fused.FusedE(b, max_pool=True),
    }[kind]
    rebuilt = rebuilt(block).eval()
    x = torch.rand(3, channels, 11, 11)
    with torch.inference_mode():
        expected = block(x)
        got = rebuilt(x.contiguous(memory_format=torch.channels_last))
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-5 * expected.abs().max().item())


def test_fused_extractor_equals_torch_fidelity_forward_at_any_batch_size(random_weights, tmp_path):
    images = PhantomDataset(n_images=40, seed=0).load("train", 32).images[:5]
    outputs = {}
    for fused, batch_size in ((False, 5), (True, 5), (True, 2)):
        extractor = InceptionV3Extractor(weights=random_weights, verify=False, batch_size=batch_size, fused=fused)
        extractor.prepare(_context(tmp_path))
        outputs[fused, batch_size] = extractor.extract(images)["features"]
    plain = outputs[False, 5]
    for key in ((True, 5), (True, 2)):
        assert outputs[key].shape == (5, 2048)
        assert np.allclose(outputs[key], plain, rtol=1e-5, atol=1e-6 * abs(plain).max())
    assert np.allclose(outputs[True, 2], outputs[True, 5], rtol=1e-6, atol=1e-7 * abs(plain).max())
