"""The metrics of issue 5 against references: torch-fidelity, pytorch-msssim, hand-made cases; caching; CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import run_cli
from PIL import Image

from cxrbench.benchmark.evaluate import EvaluateConfig, evaluate_folders
from cxrbench.benchmark.paired_compare import paired_compare
from cxrbench.benchmark.runner import run_benchmark
from cxrbench.metrics.feature_cache import cached_extract
from cxrbench.metrics.frechet import GaussianStats, frechet_distance_features, frechet_distance_stats
from cxrbench.metrics.metric import INTENDED, MetricInputs
from cxrbench.metrics.metric_conditional_accuracy import ConditionalAuroc
from cxrbench.metrics.metric_diversity import Diversity, group_ms_ssim
from cxrbench.metrics.metric_memorisation import DcrRatio, NearCopies
from cxrbench.metrics.metric_utility import synthetic_set
from cxrbench.results import read_rows
from cxrbench.tasks import TASKS

CONDITION = TASKS.get("pleural_effusion").condition("present")


def _write_pngs(folder, images: np.ndarray) -> None:
    folder.mkdir(parents=True)
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{i:03d}.png")


def _smooth_images(seed: int, n: int, size: int = 48) -> np.ndarray:
    rng = np.random.default_rng(seed)
    grid = torch.from_numpy(rng.normal(size=(n, 1, 6, 6)))
    images = torch.nn.functional.interpolate(grid, size=(size, size), mode="bicubic", align_corners=False)
    return (128 + 50 * images[:, 0]).clamp(0, 255).round().to(torch.uint8).numpy()


def test_fid_and_kid_equal_torch_fidelity_on_the_same_images_and_weights(random_weights, tmp_path):
    import torch_fidelity

    _write_pngs(tmp_path / "real", _smooth_images(0, 24))
    _write_pngs(tmp_path / "fake", _smooth_images(1, 20))
    vetted = tmp_path / "vetted.pth"  # torch-fidelity unpickles freely; give it a file of plain tensors
    torch.save(torch.load(random_weights, weights_only=True), vetted)
    theirs = torch_fidelity.calculate_metrics(
        input1=str(tmp_path / "fake"),
        input2=str(tmp_path / "real"),
        fid=True,
        kid=True,
        kid_subset_size=20,
        feature_extractor_weights_path=str(vetted),
        cuda=False,
        verbose=False,
        cache=False,
    )
    rows = evaluate_folders(
        EvaluateConfig(
            real=tmp_path / "real",
            fake=tmp_path / "fake",
            out=tmp_path / "out",
            metrics=("fid", "kid"),
            bootstrap=0,
            device="cpu",
            feature_options={"inception-v3": {"weights": random_weights, "verify": False}},
        )
    )
    ours = {r.metric: r.value for r in rows}
    assert ours["fd@inception-v3"] == pytest.approx(theirs["frechet_inception_distance"], rel=1e-5)
    assert ours["kid@inception-v3"] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-5)


def test_gaussian_statistics_of_shards_merge_exactly():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(300, 16)), rng.normal(0.2, 1.1, size=(250, 16))
    shards = [GaussianStats.of(part) for part in np.array_split(real, 7)]
    merged = shards[0]
    for shard in shards[1:]:
        merged = merged.merge(shard)
    whole = GaussianStats.of(real)
    assert merged.count == 300 and np.allclose(merged.cov, np.cov(real, rowvar=False), rtol=1e-12)
    assert frechet_distance_stats(merged, GaussianStats.of(fake)) == pytest.approx(
        frechet_distance_stats(whole, GaussianStats.of(fake)), rel=1e-12
    )
    assert frechet_distance_stats(merged, GaussianStats.of(fake)) == pytest.approx(
        frechet_distance_features(real, fake), rel=1e-9
    )


def test_memorisation_flags_copies_of_training_images_only():
    rng = np.random.default_rng(1)
    train = rng.normal(size=(200, 32))
    held_out = rng.normal(size=(40, 32))
    copies = train[rng.permutation(200)[:40]] + 1e-6 * rng.normal(size=(40, 32))
    novel = rng.normal(size=(40, 32))
    for fake, copy_rate in ((copies, 1.0), (novel, None)):
        inputs = MetricInputs({"features": held_out}, {"features": fake}, CONDITION, {"features": train})
        rate, ratio = NearCopies().compute(inputs), DcrRatio().compute(inputs)
        if copy_rate is not None:
            assert rate == copy_rate and ratio < 1e-4
        else:
            assert rate <= 0.05 and 0.7 < ratio < 1.4


def test_memorisation_review_gallery_shows_closest_pairs(tmp_path):
    rng = np.random.default_rng(2)
    train_images = torch.from_numpy(rng.integers(0, 255, (30, 1, 8, 8), dtype=np.uint8))
    train = train_images.double().flatten(1).numpy()
    inputs = MetricInputs({"features": train[:10] + 5}, {"features": train[[4, 7]]}, CONDITION, {"features": train})
    NearCopies().review(inputs, train_images[[4, 7]], train_images, tmp_path)
    pairs = json.loads((tmp_path / "closest_pairs.json").read_text())
    assert [p["train_index"] for p in pairs] == [4, 7] and all(p["distance"] == 0 for p in pairs)
    assert Image.open(tmp_path / "closest_pairs.png").size == (16, 16)


def test_diversity_is_pytorch_msssim_over_the_six_pairs_of_each_group():
    from pytorch_msssim import ms_ssim

    images = _smooth_images(3, 8, size=64)[:, None]
    per_group = group_ms_ssim(images)
    big = torch.nn.functional.interpolate(
        torch.from_numpy(images[:4]).double(), size=(256, 256), mode="bilinear", antialias=True, align_corners=False
    )
    pairs = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    expected = np.mean([float(ms_ssim(big[[i]], big[[j]], data_range=255.0)) for i, j in pairs])
    assert per_group.shape == (2,) and per_group[0] == pytest.approx(expected, rel=1e-9)
    same = np.repeat(images[:1], 4, axis=0)
    assert Diversity().compute(MetricInputs({}, {"images": same}, CONDITION)) == pytest.approx(1.0)


def test_conditional_auroc_separates_present_from_absent_sets():
    probabilities = np.zeros((6, 4))
    probabilities[:, CONDITION.finding_index] = [0.9, 0.8, 0.7, 0.3, 0.2, 0.75]
    fake = {"probabilities": probabilities, INTENDED: np.array([1, 1, 1, 0, 0, 0])}
    assert ConditionalAuroc().compute(MetricInputs({}, fake, CONDITION)) == pytest.approx(8 / 9)


def test_synthetic_images_are_labelled_by_their_condition():
    present, absent = TASKS.get("atelectasis").conditions(absent="no_finding")
    images = torch.zeros(3, 1, 8, 8, dtype=torch.uint8)
    data = synthetic_set({present: images[:2], absent: images[2:]})
    assert data.labels.tolist() == [[1, -1, -1, -1], [1, -1, -1, -1], [0, 0, 0, 0]]


class _CountingExtractor:
    name = "counting"

    def __init__(self):
        self.calls = 0

    def extract(self, images):
        self.calls += 1
        return {"features": images.double().flatten(1).numpy()}

    def identity(self):
        return {"name": self.name}


def test_feature_cache_reuses_only_identical_images(tmp_path):
    extractor = _CountingExtractor()
    images = torch.zeros(4, 1, 8, 8, dtype=torch.uint8)
    first = cached_extract(extractor, images, tmp_path)
    again = cached_extract(extractor, images.clone(), tmp_path)
    assert extractor.calls == 1 and np.array_equal(first["features"], again["features"])
    changed = images.clone()
    changed[0, 0, 0, 0] = 1
    assert cached_extract(extractor, changed, tmp_path)["features"][0, 0] == 1 and extractor.calls == 2


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, session_cache):
    from conftest import TINY_FEATURES, TINY_PHANTOM

    from cxrbench.config import RunConfig

    config = RunConfig(
        models=("train-copy", "noise"),
        tasks=("pleural_effusion",),
        resolution=32,
        n_samples=12,
        bootstrap=20,
        device="cpu",
        out=tmp_path_factory.mktemp("run") / "run",
        cache_dir=session_cache,
        data_options=dict(TINY_PHANTOM),
        feature_options=dict(TINY_FEATURES),
        metrics=("cxr_fd", "precision", "coverage", "memorisation", "conditional_auroc", "diversity"),
    )
    return config, run_benchmark(config)


def test_run_adds_the_floor_and_flags_train_copy(small_run):
    config, summary = small_run
    rows = {(r.model, r.condition, r.metric): r for r in summary.rows}
    assert ("real-holdout", "present", "fd@cxr-evaluator") in rows  # the real-vs-real floor, never asked for
    assert rows["train-copy", "present", "memorisation"].value == 1.0
    assert rows["real-holdout", "present", "memorisation"].value == 0.0
    assert rows["noise", "both", "conditional_auroc"].status == "ok"
    assert rows["train-copy", "present", "fd@cxr-evaluator"].ci_method == "bias-shifted"
    gallery = config.out / "reviews" / "train-copy" / "pleural_effusion" / "present" / "memorisation"
    assert (gallery / "closest_pairs.png").is_file()


def test_paired_comparison_recomputes_the_rows_and_brackets_the_difference(small_run):
    config, summary = small_run
    rows = {(r.model, r.condition, r.metric): r.value for r in summary.rows}
    changes, notes = paired_compare(config.out, "train-copy", "noise")
    by_key = {(c.condition, c.metric): c for c in changes}
    fd = by_key["present", "fd@cxr-evaluator"]
    assert fd.a == pytest.approx(rows["train-copy", "present", "fd@cxr-evaluator"], rel=1e-12)
    assert fd.b == pytest.approx(rows["noise", "present", "fd@cxr-evaluator"], rel=1e-12)
    assert fd.ci_low is not None and fd.ci_low < fd.delta < fd.ci_high and fd.verdict == "B worse"
    assert ("both", "conditional_auroc") in by_key and any("memorisation" in n for n in notes)
    result = run_cli("compare", str(config.out), "--models", "train-copy,noise")
    assert result.returncode == 0 and "B worse" in result.stdout


def test_evaluate_scores_two_folders_and_refuses_metrics_it_cannot_compute(tmp_path, capsys):
    from test_bad_input import cli  # in this process: four commands without four interpreter start-ups

    _write_pngs(tmp_path / "real", _smooth_images(4, 16))
    _write_pngs(tmp_path / "fake", _smooth_images(5, 16))
    folders = ["evaluate", "--real", str(tmp_path / "real"), "--fake", str(tmp_path / "fake")]
    common = [*folders, "--out", str(tmp_path / "out"), "--bootstrap", "10", "--device", "cpu"]
    code, _, err = cli(capsys, *common, "--metrics", "precision,recall,density,coverage,fid", "--features", "pixels")
    assert code == 0, err
    rows = {r.metric: r for r in read_rows(tmp_path / "out" / "results.jsonl")}
    assert rows["precision@pixels"].status == "ok" and rows["precision@pixels"].feature_space == "pixels"
    assert rows["fd@pixels"].feature_space == "pixels"  # --features moves every distribution metric
    assert {r.model for r in rows.values()} == {"fake"}  # the fake folder's name, unless --name gives one
    named = ("--out", str(tmp_path / "named"), "--metrics", "fd", "--features", "pixels", "--bootstrap", "0")
    code, _, err = cli(capsys, *folders, *named, "--name", "mygan")
    assert code == 0, err
    assert {r.model for r in read_rows(tmp_path / "named" / "results.jsonl")} == {"mygan"}
    code, _, err = cli(capsys, *common, "--metrics", "utility")
    assert code == 2 and "cxrbench run" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli(
        capsys,
        "evaluate",
        "--real",
        str(tmp_path / "nope"),
        "--fake",
        str(tmp_path / "fake"),
        "--out",
        str(tmp_path / "o2"),
    )
    assert code == 2 and "does not exist" in err
