"""The phantom: deterministic, anatomically ordered, labelled by construction, split by patient."""

from __future__ import annotations

import numpy as np
import pytest

from cxrbench.data import DATASETS
from cxrbench.data.phantom.anatomy import sample_anatomy
from cxrbench.data.phantom.dataset import PhantomDataset, render_image
from cxrbench.data.phantom.findings import Findings
from cxrbench.data.phantom.render import render
from cxrbench.errors import ConfigError
from cxrbench.tasks import FINDINGS


def _findings(**overrides) -> Findings:
    base = dict(
        enlarged_heart=False,
        cardiothoracic_ratio=None,
        effusion_sides=(),
        effusion_severity=0.0,
        atelectasis_side=None,
        atelectasis_kind=None,
        atelectasis_severity=0.0,
        opacity_blobs=0,
    )
    return Findings(**{**base, **overrides})


def _draw(findings: Findings, resolution: int = 128, patient: int = 11) -> np.ndarray:
    anatomy = sample_anatomy(np.random.default_rng([0, patient]))
    return render(anatomy, findings, resolution, np.random.default_rng(5)).astype(np.float64)


def test_same_seed_same_pixels_and_labels():
    a, info_a = render_image(0, 4, 0, 64)
    b, info_b = render_image(0, 4, 0, 64)
    c, _ = render_image(1, 4, 0, 64)
    assert np.array_equal(a, b) and info_a == info_b
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("resolution", [32, 100, 1024])
def test_any_square_resolution(resolution):
    image, _ = render_image(0, 0, 0, resolution)
    assert image.shape == (resolution, resolution) and image.dtype == np.uint8
    assert 20 < image.mean() < 235


def test_lungs_are_dark_and_mediastinum_bright():
    image = _draw(_findings())
    right_lung, left_lung = image[45:70, 28:45].mean(), image[45:70, 83:100].mean()
    mediastinum = image[40:70, 60:68].mean()
    assert mediastinum > right_lung + 30 and mediastinum > left_lung + 30


def test_effusion_fills_the_base_of_its_side_only():
    normal = _draw(_findings())
    right = _draw(_findings(effusion_sides=("right",), effusion_severity=1.0))
    base_right, base_left = (slice(78, 90), slice(20, 45)), (slice(78, 90), slice(83, 108))
    assert right[base_right].mean() > normal[base_right].mean() + 20  # patient's right is on the image left
    assert abs(right[base_left].mean() - normal[base_left].mean()) < 3


def test_enlarged_heart_widens_the_silhouette():
    normal = _draw(_findings())
    enlarged = _draw(_findings(enlarged_heart=True, cardiothoracic_ratio=0.65))
    band = (slice(60, 80), slice(0, 128))
    assert enlarged[band].mean() > normal[band].mean() + 5


@pytest.mark.parametrize("kind", ["plate", "lobar"])
def test_atelectasis_adds_density(kind):
    normal = _draw(_findings())
    collapsed = _draw(_findings(atelectasis_side="left", atelectasis_kind=kind, atelectasis_severity=1.0))
    assert collapsed[:, 64:].mean() > normal[:, 64:].mean() + 0.5
    assert abs(collapsed[:, :50].mean() - normal[:, :50].mean()) < 1.0


def test_opacity_adds_density_inside_the_lungs():
    normal = _draw(_findings())
    opaque = _draw(_findings(opacity_blobs=4))
    assert opaque[20:95, 15:113].mean() > normal[20:95, 15:113].mean() + 1


def test_labels_follow_construction_and_prevalence():
    dataset = PhantomDataset(n_images=1500, seed=0)
    train = dataset.load("train", 32)
    prevalence = train.labels.float().mean(0).numpy()
    for value, (low, high) in zip(prevalence, [(0.12, 0.32), (0.22, 0.45), (0.10, 0.28), (0.10, 0.28)]):
        assert low < value < high
    ecs = train.labels[:, FINDINGS.index("enlarged_cardiac_silhouette")].numpy().astype(bool)
    ctr = np.array(train.meta["cardiothoracic_ratio"])
    assert (ctr[ecs] > 0.5).all() and (ctr[~ecs] <= 0.5).all()
    effusion = train.labels[:, FINDINGS.index("pleural_effusion")].numpy().astype(bool)
    atelectasis = train.labels[:, FINDINGS.index("atelectasis")].numpy().astype(bool)
    assert atelectasis[effusion].mean() > atelectasis[~effusion].mean() + 0.15  # co-occurrence


def test_splits_are_disjoint_by_patient_and_cover_everything():
    dataset = DATASETS.get("phantom")(n_images=400, seed=2)
    splits = {s: dataset.load(s, 32) for s in ("train", "val", "test")}
    patients = {s: set(x.patient_ids) for s, x in splits.items()}
    assert not patients["train"] & patients["val"] and not patients["train"] & patients["test"]
    assert not patients["val"] & patients["test"]
    assert sum(len(x) for x in splits.values()) == 400
    assert any(len(set(x.image_ids)) > len(patients[s]) for s, x in splits.items())  # follow-up studies exist
    first, second = splits["test"].split_by_patient(seed=1)
    assert not set(first.patient_ids) & set(second.patient_ids)
    assert len(first) + len(second) == len(splits["test"])


def test_fingerprint_changes_with_options_and_bad_options_fail():
    assert PhantomDataset(100, 0).fingerprint() == PhantomDataset(100, 0).fingerprint()
    assert PhantomDataset(100, 0).fingerprint() != PhantomDataset(100, 1).fingerprint()
    with pytest.raises(ConfigError):
        PhantomDataset(100, 0).load("train", 2048)
    with pytest.raises(ConfigError):
        PhantomDataset(100, 0).load("holdout", 32)
