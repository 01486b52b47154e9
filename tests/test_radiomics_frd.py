"""frd: the log Frechet distance of features z-scored against the reference set (FRDv1), checked
against an independent computation, on degenerate features, on images, and through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import tiny_toml_text
from scipy import linalg
from test_bad_input import cli
from test_feature_spaces_run import TINY_RUN, _png_folder, rows_of

from cxrbench.data.phantom.dataset import PhantomDataset
from cxrbench.errors import CxrbenchError
from cxrbench.metrics import FEATURE_EXTRACTORS, METRICS
from cxrbench.metrics.metric import MetricInputs
from cxrbench.metrics.metric_frd import FD_FLOOR, frd_value
from cxrbench.results import OK, read_rows
from cxrbench.tasks.task import Condition, Presence

CONDITION = Condition("folder", Presence.PRESENT, (None,) * 4, "")


def fd_by_sqrtm(a: np.ndarray, b: np.ndarray) -> float:
    """The textbook Frechet distance, with scipy's matrix square root (not cxrbench's frechet.py)."""
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(s1 @ s2).real
    diff = a.mean(axis=0) - b.mean(axis=0)
    return float(diff @ diff + np.trace(s1 + s2 - 2 * root))


def features(seed: int, n: int = 60, shift: float = 0.0) -> np.ndarray:
    """[n, 6] features on wildly different scales, like radiomics' (Energy ~1e9, probabilities ~1e-3)."""
    rng = np.random.default_rng(seed)
    scales = np.array([1e9, 1e-3, 1.0, 50.0, 1e4, 0.2])
    x = rng.normal(size=(n, 6)) @ np.triu(np.ones((6, 6))) / 3 + shift
    return x * scales


def test_frd_is_the_log_fd_of_features_zscored_against_the_reference():
    real, fake = features(0), features(1, n=45, shift=0.4)
    mean, sd = real.mean(axis=0), real.std(axis=0)  # FRDv1: np.mean / np.std of the first set
    expected = np.log(fd_by_sqrtm((real - mean) / sd, (fake - mean) / sd))
    assert frd_value(real, fake) == pytest.approx(expected, rel=1e-9)
    assert frd_value(real, fake, paper_log=True) == pytest.approx(expected / 2, rel=1e-9)  # paper's Eq. 3
    metric = METRICS.build("frd")[0]
    assert metric.compute(MetricInputs({"features": real}, {"features": fake}, CONDITION)) == frd_value(real, fake)
    # z-scoring makes it blind to each feature's unit, which is why frd needs no standardised space
    rescale = np.array([3.0, 1e5, 0.01, 7.0, 1.0, 2.0])
    assert frd_value(real * rescale + 5, fake * rescale + 5) == pytest.approx(frd_value(real, fake), rel=1e-9)


def test_frd_of_a_set_against_itself_is_its_minimum():
    real = features(2)
    itself = frd_value(real, real)
    assert itself == pytest.approx(np.log(FD_FLOOR * 6)) and np.isfinite(itself)
    others = [frd_value(real, features(seed, shift=shift)) for seed, shift in ((3, 0.0), (4, 0.2), (5, 1.0))]
    assert all(itself < other for other in others)
    assert others[0] < others[1] < others[2]  # further away, larger


def test_features_constant_on_the_reference_are_dropped_never_nan():
    real, fake = features(6), features(7, shift=0.3)
    with_constants = np.c_[real, np.full(len(real), 4.0), np.full(len(real), 0.1)]  # 0.1: constant up to rounding
    fake_varying = np.c_[fake, np.random.default_rng(0).normal(size=(len(fake), 2))]
    value = frd_value(with_constants, fake_varying)
    assert np.isfinite(value) and value == pytest.approx(frd_value(real, fake), rel=1e-12)
    with pytest.raises(CxrbenchError, match="no feature varies over the reference"):
        frd_value(np.ones((10, 3)), fake[:, :3])


def test_noise_scores_worse_than_real_like_images_and_flat_ones_are_finite():
    images = PhantomDataset(n_images=120, seed=1).load("train", 32).images
    extractor = FEATURE_EXTRACTORS.build("radiomics")[0]
    real = extractor.extract(images[:25])["features"]
    held = extractor.extract(images[25:50])["features"]
    noise = extractor.extract(
        torch.randint(0, 256, (25, 1, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    )["features"]
    with_flat = held.copy()
    with_flat[:3] = extractor.extract(torch.full((3, 1, 32, 32), 90, dtype=torch.uint8))["features"]
    floor, noisy = frd_value(real, held), frd_value(real, noise)
    assert np.isfinite(frd_value(real, with_flat)) and floor < noisy
    assert frd_value(real, real) < floor


def test_frd_declares_itself_and_works_in_other_spaces():
    schema = METRICS.build("frd")[0].schema()
    assert (schema["name"], schema["display_name"], schema["direction"]) == ("frd@radiomics", "FRD", "lower")
    assert schema["feature_space"] == "radiomics" and schema["interval"] == "bias-shifted"
    assert METRICS.build("frd", {"feature_space": "pixels"})[0].schema()["display_name"] == "FRD (pixels)"


# -- through the command line ------------------------------------------------------------------


@pytest.mark.slow
def test_evaluate_scores_frd_and_fd_in_the_radiomics_space(capsys, tmp_path):
    images = PhantomDataset(n_images=40, seed=0).load("train", 32).images
    real, fake = _png_folder(tmp_path / "real", images[:12]), _png_folder(tmp_path / "fake", images[12:24])
    out = tmp_path / "out"
    code, stdout, err = cli(
        capsys,
        "evaluate",
        "--real",
        str(real),
        "--fake",
        str(fake),
        "--metrics",
        "frd,fd@radiomics",
        "--bootstrap",
        "0",
        "--device",
        "cpu",
        "--out",
        str(out),
    )
    assert code == 0, err
    rows = read_rows(out / "results.jsonl")
    assert [r.metric for r in rows] == ["frd@radiomics", "fd@radiomics"]
    assert all(r.status == OK and np.isfinite(r.value) and r.feature_space == "radiomics" for r in rows), rows
    assert rows[0].comparability["standardised"] == "none"  # no training split in evaluate
    assert "frd@radiomics" in stdout


@pytest.mark.slow
def test_run_scores_frd_and_fd_in_the_radiomics_space(capsys, tmp_path, session_cache):
    config = tmp_path / "tiny.toml"
    config.write_text(tiny_toml_text(session_cache))
    out = tmp_path / "run"
    code, _, err = cli(
        capsys, "run", *TINY_RUN, "--metrics", "frd,fd@radiomics", "--config", str(config), "--out", str(out)
    )
    assert code == 0, err
    rows = rows_of(out)
    assert set(rows) == {(c, m) for c in ("present", "absent") for m in ("frd@radiomics", "fd@radiomics")}
    for row in rows.values():
        assert row.status == OK and np.isfinite(row.value) and row.ci_low <= row.ci_high, row
        assert row.comparability["standardised"].startswith("train-split z-score")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["feature_spaces"]["radiomics"]["dim"] == 693
    board = (out / "leaderboard.md").read_text()
    assert "FRD ↓" in board and "FD (radiomics) ↓" in board
