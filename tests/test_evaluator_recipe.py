"""The cxr-evaluator recipe: augmentation a radiologist accepts (never mirrored), deterministic
training, the 0.1 recipe unchanged, class balancing, epoch scaling, and the recipe keying the cache."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from cxrbench.data.image_set import ImageSet
from cxrbench.errors import ConfigError
from cxrbench.metrics import extractor_cxr_evaluator
from cxrbench.metrics.cxr_classifier import (
    EVALUATOR_RECIPE,
    ClassifierRecipe,
    CxrClassifier,
    affine_augment,
    positive_weights,
    train_classifier,
)
from cxrbench.metrics.extractor_cxr_evaluator import CxrEvaluatorExtractor, recipe_with
from cxrbench.metrics.feature_extractor import ExtractorContext

CPU = torch.device("cpu")
STRONG = ClassifierRecipe(augment="affine", max_shift=4, max_rotation=10.0, max_scale=0.1, intensity=0.1)


def _tiny_set(n: int = 40, size: int = 32, seed: int = 0) -> ImageSet:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 1, size, size), generator=g, dtype=torch.uint8)
    labels = torch.randint(-1, 2, (n, 4), generator=g).to(torch.int8)
    ids = tuple(f"im{i}" for i in range(n))
    return ImageSet(images, labels, ids, ids)


def test_affine_augmentation_never_mirrors_left_and_right():
    # A bright block on the image's left (the patient's right): after any draw it is still on the left
    x = torch.full((512, 1, 64, 64), -1.0)
    x[:, :, 16:48, 8:24] = 1.0
    out = affine_augment(x, STRONG, torch.Generator().manual_seed(0))
    columns = torch.arange(64).float()
    centre = (out.clamp(min=0).sum(dim=(1, 2)) * columns).sum(1) / out.clamp(min=0).sum(dim=(1, 2, 3))
    assert bool((centre < 24).all()) and bool((centre > 8).all())  # never near the mirrored place (col 47.5)
    assert out.shape == x.shape and not torch.equal(out[0], out[1])  # each image has its own draw


def test_affine_augmentation_stays_within_its_limits():
    # one bright pixel near the centre moves at most by the shift plus rotation and scale about the centre
    x = torch.full((256, 1, 64, 64), -1.0)
    x[:, :, 36, 40] = 1.0
    recipe = dataclasses.replace(STRONG, intensity=0.0)
    out = affine_augment(x, recipe, torch.Generator().manual_seed(1))
    flat = out.view(256, -1).argmax(1)
    rows, cols = (flat // 64).float() + 0.5, (flat % 64).float() + 0.5
    moved = torch.hypot(rows - 36.5, cols - 40.5)
    r = math.hypot(36.5 - 32, 40.5 - 32)  # from the centre the image turns and scales about
    reach = r * (2 * math.sin(math.radians(5)) + 0.1 / 0.9) + recipe.max_shift * math.sqrt(2) + 1.0  # + bilinear
    assert bool((moved <= reach).all()) and bool((moved > 1.0).any())


def test_grain_adds_zero_mean_noise_of_each_images_own_strength_up_to_its_limit():
    x = torch.zeros(64, 1, 64, 64)
    recipe = ClassifierRecipe(augment="affine", max_shift=0, grain=8.0)
    noise = affine_augment(x, recipe, torch.Generator().manual_seed(2)) - x
    sigma = noise.std(dim=(1, 2, 3))
    assert bool((sigma <= 8.0 / 127.5 * 1.05).all()) and float(sigma.max() / sigma.min()) > 3  # uniform 0..8
    assert abs(float(noise.mean())) < 1e-3
    assert torch.equal(affine_augment(x, dataclasses.replace(recipe, grain=0.0), torch.Generator()), x)


def test_training_is_deterministic_for_a_seed_and_differs_across_seeds():
    data = _tiny_set()
    recipe = dataclasses.replace(
        STRONG, input_size=32, widths=(4, 8), epochs=1, batch_size=16, standardise=True, blocks=2, balance=True
    )
    a, b, c = (train_classifier(data, recipe, seed, CPU).state_dict() for seed in (3, 3, 4))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_the_0_1_recipe_keeps_its_layers_so_old_checkpoints_load():
    names = list(CxrClassifier(ClassifierRecipe()).state_dict())
    convs = [n for n in names if n.endswith(".weight") and n.count(".") == 2 and n.startswith("body.")]
    assert names[:6] == [
        "body.0.weight",
        "body.1.weight",
        "body.1.bias",
        "body.1.running_mean",
        "body.1.running_var",
        "body.1.num_batches_tracked",
    ]
    assert convs[-2:] == ["body.12.weight", "body.13.weight"] and names[-2:] == ["head.weight", "head.bias"]


def test_a_field_added_later_leaves_the_keys_made_before_it_unchanged():
    # pggan-lco's classifier and the utility metrics key their caches and identities on to_dict()
    assert "grain" not in ClassifierRecipe().to_dict()
    assert ClassifierRecipe(augment="affine", grain=8.0).to_dict()["grain"] == 8.0
    assert "grain" not in EVALUATOR_RECIPE.to_dict() and recipe_with({"grain": 8.0}).to_dict()["grain"] == 8.0


def test_standardising_makes_the_network_blind_to_exposure_and_keeps_gradients():
    model = CxrClassifier(ClassifierRecipe(input_size=32, widths=(4, 8), standardise=True)).eval()
    x = (torch.rand(3, 1, 32, 32) * 1.2 - 0.8).requires_grad_(True)
    assert torch.allclose(model(x), model(0.5 * x - 0.2), atol=1e-5)  # contrast and brightness
    model(x).sum().backward()  # latent class optimisation differentiates through it
    assert x.grad is not None and bool(x.grad.abs().sum() > 0)


def test_positive_weights_are_negatives_over_positives_of_known_labels():
    labels = torch.tensor([[1, 0, -1, 0], [0, 0, -1, 0], [0, 1, 1, 0], [-1, 0, 0, 0]], dtype=torch.int8)
    assert positive_weights(labels).tolist() == [2.0, 3.0, 1.0, 1.0]  # last column: no positive, weight 1


def test_min_steps_raises_the_epochs_of_small_sets_only():
    recipe = ClassifierRecipe(epochs=8, batch_size=16, min_steps=400)
    assert recipe.total_epochs(3600) == 8  # 225 steps an epoch: already past 400 steps
    assert recipe.total_epochs(767) == math.ceil(400 / 48)
    assert ClassifierRecipe().total_epochs(10) == 8


def test_recipe_mistakes_are_config_errors():
    with pytest.raises(ConfigError, match="no field 'epoch'"):
        recipe_with({"epoch": 3})
    with pytest.raises(ConfigError, match="augment"):
        ClassifierRecipe(max_rotation=10.0)  # rotation without the affine augmentation would be ignored
    with pytest.raises(ConfigError, match="grain need augment"):
        ClassifierRecipe(grain=8.0)
    with pytest.raises(ConfigError, match="unknown"):
        ClassifierRecipe(augment="flip")
    assert recipe_with({"epochs": 3, "widths": [4, 8]}) == dataclasses.replace(
        EVALUATOR_RECIPE, epochs=3, widths=(4, 8)
    )


def test_a_changed_recipe_retrains_and_the_same_recipe_reuses_the_cache(tmp_path, monkeypatch):
    data = _tiny_set(48)
    context = ExtractorContext(
        train=data,
        val=_tiny_set(16, seed=1),
        test=_tiny_set(16, seed=2),
        device=CPU,
        seed=0,
        cache_dir=tmp_path,
        dataset_fingerprint="tiny",
    )
    small = {"input_size": 32, "widths": [4, 8], "epochs": 1}
    first = CxrEvaluatorExtractor(recipe=small)
    first.prepare(context)
    changed = CxrEvaluatorExtractor(recipe={**small, "max_shift": 2})
    changed.prepare(context)
    assert changed.key != first.key
    trained = []
    monkeypatch.setattr(extractor_cxr_evaluator, "train_classifier", lambda *a, **k: trained.append(a))
    again = CxrEvaluatorExtractor(recipe=small)
    again.prepare(context)
    assert again.key == first.key and trained == []
    assert torch.equal(again.model.head.weight, first.model.head.weight)
