"""Every registered model adapter honours the contract (parametrised: new adapters are tested on day one)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import TINY_MODELS

from cxrbench.benchmark.model_store import ready_adapter
from cxrbench.benchmark.runner import collect_images
from cxrbench.data.phantom.dataset import PhantomDataset
from cxrbench.errors import AdapterError, ConfigError, CxrbenchError, UnavailableError
from cxrbench.models import MODELS
from cxrbench.models.adapter import Conditioning, FitContext, ModelAdapter
from cxrbench.tasks import TASKS

RESOLUTION = 32


@pytest.fixture(scope="module")
def context() -> FitContext:
    dataset = PhantomDataset(n_images=500, seed=1)
    test = dataset.load("test", RESOLUTION)
    conditions = tuple(c for name in TASKS.names() for c in TASKS.get(name).conditions())
    return FitContext(
        train=dataset.load("train", RESOLUTION),
        holdout=test,
        conditions=conditions,
        resolution=RESOLUTION,
        device=torch.device("cpu"),
        seed=0,
    )


@pytest.mark.parametrize("name", MODELS.names())
def test_adapter_contract(name, context, tmp_path):
    adapter, options = MODELS.build(name, TINY_MODELS.get(name, {}))
    info = ready_adapter(name, adapter, options, context, None, tmp_path, "fp")
    condition = TASKS.get("enlarged_cardiac_silhouette").conditions()[1]
    first = collect_images(adapter, name, condition, range(10), seed=7, batch_size=4, resolution=RESOLUTION)
    again = collect_images(adapter, name, condition, range(10), seed=7, batch_size=4, resolution=RESOLUTION)
    other = collect_images(adapter, name, condition, range(10), seed=8, batch_size=4, resolution=RESOLUTION)
    assert first.dtype == torch.uint8 and first.shape == (10, 1, RESOLUTION, RESOLUTION)
    assert torch.equal(first, again) and not torch.equal(first, other)
    # image i comes from (seed, i) alone: the spans the runner shares out between processes make the same set
    spans = (range(0, 4), range(4, 8), range(8, 10))
    split = torch.cat([collect_images(adapter, name, condition, span, 7, 4, RESOLUTION) for span in spans])
    assert torch.equal(first, split)
    if adapter.trainable:
        assert info["source"] == "trained" and len(info["sha256"]) == 64
        reloaded, _ = MODELS.build(name, TINY_MODELS.get(name, {}))
        cached = ready_adapter(name, reloaded, options, context, None, tmp_path, "fp")
        assert cached["source"] == "cache" and cached["sha256"] == info["sha256"]
        assert torch.equal(first, collect_images(reloaded, name, condition, range(10), 7, 4, RESOLUTION))


def test_unknown_option_names_the_valid_ones():
    with pytest.raises(ConfigError, match="has no option 'componets'; its options: components"):
        MODELS.build("pca-gaussian", {"componets": 3})


def test_real_holdout_refuses_more_images_than_exist(context):
    adapter, _ = MODELS.build("real-holdout", {})
    adapter.fit(context)
    condition = TASKS.get("enlarged_cardiac_silhouette").conditions()[0]
    with pytest.raises(UnavailableError, match="lower --n-samples"):
        collect_images(adapter, "real-holdout", condition, range(10_000), 0, 64, RESOLUTION)


def test_real_holdout_returns_only_images_of_the_condition(context):
    adapter, _ = MODELS.build("real-holdout", {})
    adapter.fit(context)
    condition = TASKS.get("pleural_effusion").conditions()[0]
    images = collect_images(adapter, "real-holdout", condition, range(8), 0, 3, RESOLUTION)
    pool = context.holdout.matching(condition).images
    for image in images:
        assert any(torch.equal(image, candidate) for candidate in pool)


class _Broken(ModelAdapter):
    """Yields whatever batch it is given: for testing the runner's contract checks."""

    conditioning = Conditioning.UNCONDITIONAL

    def __init__(self, batch: torch.Tensor) -> None:
        self.batch = batch

    def generate(self, condition, indices, seed, batch_size):
        yield self.batch


@pytest.mark.parametrize(
    "batch,message",
    [
        (torch.zeros(5, 1, RESOLUTION, RESOLUTION, dtype=torch.uint8), "yielded 5 images .* asked for 6"),
        (torch.zeros(6, 1, RESOLUTION, RESOLUTION), "yielded torch.float32 .* must yield uint8"),
        (torch.zeros(6, 3, RESOLUTION, RESOLUTION, dtype=torch.uint8), r"yielded torch.uint8 \(6, 3, 32, 32\)"),
    ],
)
def test_broken_adapter_output_is_a_clear_error(batch, message):
    condition = TASKS.get("atelectasis").conditions()[0]
    with pytest.raises(AdapterError, match=message):
        collect_images(_Broken(batch), "broken", condition, range(6), 0, 6, RESOLUTION)


def test_given_checkpoint_that_does_not_exist(context, tmp_path):
    adapter, options = MODELS.build("pca-gaussian", {})
    with pytest.raises(ConfigError, match="checkpoint for 'pca-gaussian' not found"):
        ready_adapter("pca-gaussian", adapter, options, context, str(tmp_path / "nothing"), tmp_path, "fp")


def test_damaged_checkpoint_is_a_clear_error_and_a_damaged_cache_is_rebuilt(context, tmp_path):
    adapter, options = MODELS.build("pca-gaussian", {"components": 4})
    first = ready_adapter("pca-gaussian", adapter, options, context, None, tmp_path, "fp")
    weights = Path(first["path"]) / "model.safetensors"
    weights.write_bytes(b"not a safetensors file")
    with pytest.raises(CxrbenchError, match="is damaged .* train it again"):
        MODELS.build("pca-gaussian", {"components": 4})[0].load(Path(first["path"]))
    rebuilt = ready_adapter(
        "pca-gaussian", MODELS.build("pca-gaussian", {"components": 4})[0], options, context, None, tmp_path, "fp"
    )
    assert rebuilt["source"] == "trained" and rebuilt["sha256"] == first["sha256"]


def test_reference_adapter_refuses_a_checkpoint(context, tmp_path):
    adapter, options = MODELS.build("noise", {})
    (tmp_path / "ckpt").mkdir()
    with pytest.raises(ConfigError, match="'noise' cannot load checkpoints"):
        ready_adapter("noise", adapter, options, context, str(tmp_path / "ckpt"), tmp_path, "fp")


def test_model_fitted_for_one_meaning_of_absent_refuses_the_other(context, tmp_path):
    adapter, options = MODELS.build("pca-gaussian", {"components": 4})
    ready_adapter("pca-gaussian", adapter, options, context, None, tmp_path, "fp")
    strict = TASKS.get("atelectasis").condition("absent", absent="no_finding")
    with pytest.raises(CxrbenchError, match="not fitted for atelectasis/absent with target"):
        collect_images(adapter, "pca-gaussian", strict, range(4), 0, 4, RESOLUTION)
    strict_context = FitContext(**{**context.__dict__, "conditions": (strict,)})
    refit, _ = MODELS.build("pca-gaussian", {"components": 4})
    info = ready_adapter("pca-gaussian", refit, options, strict_context, None, tmp_path, "fp")
    assert info["source"] == "trained"  # another cache entry, not the one fitted for "negative"
    images = collect_images(refit, "pca-gaussian", strict, range(4), 0, 4, RESOLUTION)
    assert images.shape == (4, 1, RESOLUTION, RESOLUTION)


def test_changed_training_settings_never_reuse_cached_weights(context, tmp_path, monkeypatch):
    adapter, options = MODELS.build("pca-gaussian", {"components": 4})
    assert ready_adapter("pca-gaussian", adapter, options, context, None, tmp_path, "fp")["source"] == "trained"
    same, _ = MODELS.build("pca-gaussian", {"components": 4})
    assert ready_adapter("pca-gaussian", same, options, context, None, tmp_path, "fp")["source"] == "cache"
    changed, _ = MODELS.build("pca-gaussian", {"components": 4})
    monkeypatch.setattr(changed, "training_settings", lambda: {"a default that changed": 1})
    assert ready_adapter("pca-gaussian", changed, options, context, None, tmp_path, "fp")["source"] == "trained"
