"""Validity of every feature space on the data in use: the run's check, its verdict in the manifest,
the rows and every leaderboard format, ranking without failed columns, resume, and
`validate-metrics` on the phantom and on the NIH sample.

Two feature spaces are built here: ``test-blocks`` (the mean and standard deviation of 4 x 4 pixel
blocks: it sees blur and noise, so it passes) and ``test-blind`` (the same number for every image:
it fails every check). The runs are conftest's tiny phantom runs (32 px, n = 12) with the fast models.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from conftest import NIH_SAMPLE, TINY_PHANTOM, tiny_toml_text
from test_bad_input import cli

from cxrbench.benchmark import degradations, validation
from cxrbench.benchmark.setup import real_halves
from cxrbench.benchmark.space_validity import CHECKS, check_size, check_space, make_probes
from cxrbench.cli import main
from cxrbench.data.phantom.dataset import PhantomDataset
from cxrbench.leaderboard.latex import render_latex
from cxrbench.leaderboard.markdown import render_markdown
from cxrbench.leaderboard.table import build_leaderboard
from cxrbench.metrics import FEATURE_EXTRACTORS
from cxrbench.metrics.feature_extractor import FeatureExtractor
from cxrbench.results import ResultRow, read_rows

BLIND, BLOCKS = "test-blind", "test-blocks"
RUN_METRICS = f"fd@{BLIND},kid@{BLIND},fd@{BLOCKS},precision@{BLOCKS},memorisation"
RUN = ("run", "--models", "pca-gaussian,noise", "--tasks", "pleural_effusion", "--metrics", RUN_METRICS)


class BlockStats(FeatureExtractor):
    """uint8 [B, 1, H, W] -> float64 [B, 32]: mean and standard deviation of 4 x 4 blocks, in [0, 1]."""

    name = BLOCKS

    def prepare(self, context) -> None:
        """Nothing to load."""

    def extract(self, images: torch.Tensor) -> dict:
        x = images.double() / 255
        mean = F.adaptive_avg_pool2d(x, 4).flatten(1)
        std = (F.adaptive_avg_pool2d(x * x, 4).flatten(1) - mean * mean).clamp(min=0).sqrt()
        return {"features": torch.cat([mean, std], dim=1).numpy()}

    def identity(self) -> dict:
        return {"name": self.name, "preprocessing": "block-mean-std-4", "dim": 32}


class Grain(FeatureExtractor):
    """Only pixel-to-pixel texture: the mean absolute difference of neighbouring pixels in 4 x 4 blocks.
    It sees blur and noise but not anatomy, so smooth blobs look more real to it than a grainy radiograph."""

    name = "test-grain"

    def prepare(self, context) -> None:
        """Nothing to load."""

    def extract(self, images: torch.Tensor) -> dict:
        x = images.double() / 255
        step = (x[..., 1:, 1:] - x[..., :-1, 1:]).abs() + (x[..., 1:, 1:] - x[..., 1:, :-1]).abs()
        return {"features": F.adaptive_avg_pool2d(step, 4).flatten(1).numpy()}

    def identity(self) -> dict:
        return {"name": self.name, "preprocessing": "neighbour-differences-4", "dim": 16}


class Blind(FeatureExtractor):
    """The same features for every image: a space that cannot tell any two sets apart."""

    name = BLIND

    def prepare(self, context) -> None:
        """Nothing to load."""

    def extract(self, images: torch.Tensor) -> dict:
        return {"features": np.ones((len(images), 4))}

    def identity(self) -> dict:
        return {"name": self.name, "preprocessing": "constant", "dim": 4}


@pytest.fixture(scope="module", autouse=True)
def registered_test_spaces():
    """Both spaces registered for this module only (other modules test every registered extractor)."""
    for cls in (BlockStats, Blind):
        FEATURE_EXTRACTORS.register(cls.name)(cls)
    yield
    for cls in (BlockStats, Blind):
        FEATURE_EXTRACTORS._entries.pop(cls.name)
        FEATURE_EXTRACTORS._loaded.pop(cls.name)


@pytest.fixture(scope="module")
def phantom_halves():
    splits = {s: PhantomDataset(**TINY_PHANTOM).load(s, 32) for s in ("train", "test")}
    reference, holdout = real_halves(splits["test"], 0)
    return reference, holdout, splits["train"]


# -- the check ----------------------------------------------------------------------------------------


def test_degradations_live_in_one_module():
    assert validation.blur is degradations.blur and validation.add_noise is degradations.add_noise
    images = torch.full((2, 1, 8, 8), 128, dtype=torch.uint8)
    grainy = degradations.add_noise(images, 20.0, seed=1, grain=2)
    blocks = grainy.reshape(2, 1, 4, 2, 4, 2)
    assert (blocks == blocks[:, :, :, :1, :, :1]).all()  # constant over each 2 x 2 grain
    assert not (grainy == 128).all()
    assert torch.equal(degradations.add_noise(images, 20.0, seed=1), degradations.add_noise(images, 20.0, seed=1))


def test_a_space_that_sees_the_images_passes_and_a_blind_one_fails_every_check(phantom_halves):
    reference, holdout, train = phantom_halves
    n = check_size(12, 100, len(reference), len(holdout))
    assert n == min(100, len(reference), len(holdout))  # n_samples, at least validity_n, at most a half
    assert check_size(12, 10, 500, 500) == 12 and check_size(300, 10, 500, 200) == 200
    probes = make_probes(reference, holdout, train, n, seed=0)
    assert probes.held.shape[0] == probes.noise_model.shape[0] == n
    assert [s for s, _ in probes.blurred] == [0.5, 1.0, 2.0]  # 1, 2, 4 px at 64 px, scaled to 32 px

    blocks = check_space(BLOCKS, BlockStats(), BlockStats().extract(reference.images)["features"], probes, None)
    assert blocks.verdict == "passed" and blocks.failed == [] and blocks.detail() == ""
    fd = blocks.distances
    assert fd["floor"] < min(fd["blur"]) and fd["floor"] < fd["noise_model"]
    assert {c.name for c in blocks.checks} == set(CHECKS)

    blind = check_space(BLIND, Blind(), Blind().extract(reference.images)["features"], probes, None)
    assert blind.verdict == "failed" and set(blind.failed) == set(CHECKS)
    assert "floor<blur: FD real vs real 0" in blind.detail() and "noise monotone" in blind.detail()


def test_a_space_that_finds_smooth_noise_more_real_than_a_grainy_radiograph_fails(phantom_halves):
    reference, holdout, train = phantom_halves
    probes = make_probes(reference, holdout, train, check_size(12, 100, len(reference), len(holdout)), seed=0)
    grain = check_space("test-grain", Grain(), Grain().extract(reference.images)["features"], probes, None)
    fd = grain.distances
    assert fd["noise_model"] < fd["noise"][0]  # the smooth blobs are nearer than the mildest noise
    assert grain.failed == ["mild<noise-model"]  # it sees blur and noise, and the noise model is not at the floor
    assert f"mildest noise {fd['noise'][0]:.4g} (sigma 16 grey levels)" in grain.detail()


def test_too_few_real_images_fail_the_check_and_say_why(phantom_halves):
    reference, holdout, train = phantom_halves
    probes = make_probes(reference, holdout, train, 5, seed=0)
    verdict = check_space(BLOCKS, BlockStats(), BlockStats().extract(reference.images)["features"], probes, None)
    assert verdict.failed == ["enough images"] and "5 real images per half" in verdict.detail()


# -- a run: manifest, rows, every format, ranking, resume ---------------------------------------------


@pytest.fixture(scope="module")
def run(tmp_path_factory, session_cache):
    root = tmp_path_factory.mktemp("validity")
    toml = root / "tiny.toml"
    toml.write_text(tiny_toml_text(session_cache, validity_n=100))
    return root, toml


def cli_here(*args: str) -> tuple[int, str]:
    """``cxrbench ARGS`` in this process, for module fixtures (capsys is per test): exit code and stderr."""
    argv, err = sys.argv, io.StringIO()
    sys.argv = ["cxrbench", *args]
    try:
        with redirect_stdout(io.StringIO()), redirect_stderr(err):
            main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        sys.argv = argv
    return code, err.getvalue()


@pytest.fixture(scope="module")
def finished(run):
    root, toml = run
    out = root / "run"
    code, err = cli_here(*RUN, "--config", str(toml), "--out", str(out))
    assert code == 0, err
    return out


@pytest.mark.slow
def test_the_manifest_holds_each_checked_space_and_no_other(finished):
    validity = json.loads((finished / "manifest.json").read_text())["space_validity"]
    assert set(validity) == {BLIND, BLOCKS}  # pixels is read only by memorisation: not a distribution space
    assert validity[BLOCKS]["verdict"] == "passed" and validity[BLOCKS]["failed"] == []
    assert validity[BLIND]["verdict"] == "failed" and set(validity[BLIND]["failed"]) == set(CHECKS)
    assert {c["name"] for c in validity[BLIND]["checks"] if not c["passed"]} == set(CHECKS)
    assert validity[BLOCKS]["n"] == 100 and validity[BLOCKS]["blur_sigma_px"] == [0.5, 1.0, 2.0]


@pytest.mark.slow
def test_rows_carry_the_verdict_of_their_space(finished):
    rows = read_rows(finished / "results.jsonl")
    by_space = {}
    for row in rows:
        by_space.setdefault(row.feature_space, set()).add((row.validity, bool(row.validity_detail)))
    assert by_space[BLIND] == {("failed", True)}
    assert by_space[BLOCKS] == {("passed", False)}
    assert by_space["pixels"] == {("", False)}  # memorisation: no verdict
    lines = [json.loads(line) for line in (finished / "results.jsonl").read_text().splitlines()]
    memorisation = [line for line in lines if line["metric"] == "memorisation"]
    assert memorisation and all("validity" not in line and "validity_detail" not in line for line in memorisation)
    blind = next(r for r in rows if r.feature_space == BLIND)
    assert "floor<blur" in blind.validity_detail and "floor<noise-model" in blind.validity_detail


@pytest.mark.slow
def test_the_markdown_marks_the_failed_columns_and_ranks_without_them(finished):
    board = (finished / "leaderboard.md").read_text()
    overview = board.split("### Overview")[1].split("### pleural_effusion")[0]
    header = next(line for line in overview.splitlines() if line.startswith("| rank"))
    assert f"FD ({BLIND}) ↓ †" in header and f"KID ({BLIND}) ↓ †" in header
    assert f"FD ({BLOCKS}) ↓ |" in header  # passed: no mark
    assert f"- `{BLIND}` (`fd@{BLIND}`, `kid@{BLIND}`): floor&lt;blur:" in overview
    cells = dict(
        zip(header.split("|"), next(row for row in overview.splitlines() if "`pca-gaussian`" in row).split("|"))
    )
    assert "**" not in cells[f" FD ({BLIND}) ↓ † "] and "**" not in cells[f" FD ({BLOCKS}) ↓ "]  # one competitor
    # With a second competitor, far worse everywhere, the passed column bolds the best; the failed one never.
    import dataclasses

    rows = read_rows(finished / "results.jsonl")
    worse = [
        dataclasses.replace(r, model="other", value=r.value * 10 + 100, ci_low=None, ci_high=None)
        for r in rows
        if r.model == "pca-gaussian" and r.value is not None
    ]
    two = build_leaderboard(rows + worse)
    bold = {two.overview.columns[i].metric for (m, i), cell in two.overview.cells.items() if cell.best}
    assert f"fd@{BLOCKS}" in bold and f"fd@{BLIND}" not in bold and f"kid@{BLIND}" not in bold
    assert f"FD ({BLIND}) ↓ (present) †" in board  # the per-finding tables too

    # Without memorisation (which heads the order: metrics outside their default space come after the
    # default ones), the blind columns come first and are passed over.
    rows = [r for r in read_rows(finished / "results.jsonl") if r.metric != "memorisation"]
    board = build_leaderboard(rows)
    assert [c.metric for c in board.overview.columns][:2] == [f"fd@{BLIND}", f"kid@{BLIND}"]
    assert board.overview.columns[board.overview.ranked_by].metric == f"fd@{BLOCKS}"
    assert f"Ranks follow FD ({BLOCKS}) ↓." in render_markdown(board)
    # Only the blind columns: nothing valid to rank on, and the overview says so.
    blind_only = build_leaderboard([r for r in rows if r.feature_space == BLIND])
    assert blind_only.overview.ranked_by is None and blind_only.unranked_for_validity
    assert set(blind_only.overview.ranks.values()) == {None}
    assert "Not ranked: every column with values is in a feature space that failed" in render_markdown(blind_only)
    assert r"Not ranked" in render_latex(blind_only)


@pytest.mark.slow
def test_latex_csv_and_site_mark_the_failed_columns(finished, tmp_path, capsys):
    code, _, err = cli(capsys, "leaderboard", str(finished), "--format", "latex", "--out", str(tmp_path / "b.tex"))
    assert code == 0, err
    latex = (tmp_path / "b.tex").read_text()
    assert rf"FD ({BLIND}) $\downarrow$$^\dagger$" in latex
    assert r"\texttt{test-blind}: floor\textless{}blur" in latex and "Ranks follow Near-copies" in latex
    assert latex.count("{") == latex.count("}")

    code, _, err = cli(capsys, "leaderboard", str(finished), "--format", "csv", "--out", str(tmp_path / "b.csv"))
    assert code == 0, err
    frame = pd.read_csv(tmp_path / "b.csv", keep_default_na=False)
    assert {"validity", "validity_detail"} <= set(frame)
    assert set(frame.loc[frame.feature_space == BLIND, "validity"]) == {"failed"}
    assert frame.loc[frame.feature_space == BLIND, "validity_detail"].str.contains("floor<blur").all()
    assert set(frame.loc[frame.feature_space == BLOCKS, "validity"]) == {"passed"}
    assert set(frame.loc[frame.metric == "memorisation", "validity"]) == {""}

    code, _, err = cli(capsys, "leaderboard", "publish", str(finished), "--out", str(tmp_path / "site"))
    assert code == 0, err
    html = (tmp_path / "site" / "index.html").read_text()
    assert 'class="invalid" title="' in html and f"FD ({BLIND}) ↓ †</th>" in html
    assert f"<code>{BLIND}</code> (fd@{BLIND}, kid@{BLIND}): floor&lt;blur" in html
    assert f"FD ({BLOCKS}) ↓</th>" in html


@pytest.mark.slow
def test_a_resumed_run_keeps_its_rows_and_restamps_rows_made_before_the_check(finished, run, tmp_path):
    _, toml = run
    folder = shutil.copytree(finished, tmp_path / "run")
    path = folder / "results.jsonl"
    before = read_rows(path)
    code, err = cli_here(*RUN, "--config", str(toml), "--out", str(folder))
    assert code == 0, err
    assert read_rows(path) == before  # the same verdict on the same data: nothing changes

    # As a run made before the check wrote them, with values no recomputation could give back.
    lines = []
    for line in path.read_text().splitlines():
        data = json.loads(line)
        data.pop("validity", None), data.pop("validity_detail", None)
        data["value"] = data["value"] * (1 + 1e-9) if data["value"] else data["value"]
        lines.append(json.dumps(data, sort_keys=True) + "\n")
    path.write_text("".join(lines))
    old = read_rows(path)
    assert {r.validity for r in old} == {""}
    code, err = cli_here(*RUN, "--config", str(toml), "--out", str(folder))
    assert code == 0, err
    again = read_rows(path)
    assert [r.value for r in again] == [r.value for r in old]  # kept, not redone
    assert [(r.validity, r.validity_detail) for r in again] == [(r.validity, r.validity_detail) for r in before]


# -- the leaderboard from rows alone ------------------------------------------------------------------


def _row(model: str, metric: str, value: float, validity: str = "", **extra) -> ResultRow:
    space = metric.partition("@")[2] or "cxr-evaluator"
    base = dict(
        model=model,
        task="atelectasis",
        condition="present",
        metric=metric,
        value=value,
        ci_low=None,
        ci_high=None,
        n_real=10,
        n_fake=10,
        direction="lower",
        feature_space=space,
        dataset="nih-cxr14",
        seed=0,
        cxrbench_version="0",
        resolution=64,
        validity=validity,
        validity_detail="floor<noise-model: FD real vs real 3, noise model 2" if validity == "failed" else "",
    )
    return ResultRow(**{**base, **extra})


def test_the_first_headline_column_that_failed_does_not_rank():
    rows = [
        _row("a", "fd@cxr-evaluator", 1.0, "failed"),
        _row("b", "fd@cxr-evaluator", 2.0, "failed"),
        _row("a", "kid@cxr-evaluator", 0.5, "passed"),
        _row("b", "kid@cxr-evaluator", 0.1, "passed"),
    ]
    board = build_leaderboard(rows)
    assert board.overview.ranks == {"b": 1, "a": 2}  # by CXR-KID: CXR-FD would have put a first
    assert board.overview.columns[board.overview.ranked_by].metric == "kid@cxr-evaluator"
    text = render_markdown(board)
    assert "CXR-FD ↓ †" in text and "Ranks follow CXR-KID ↓." in text
    assert "**1**" not in text and "**0.1**" in text  # a's CXR-FD of 1 is not bolded: that column has no order
    # merged runs that disagree: one failed row marks the column
    mixed = rows + [_row("c", "fd@cxr-evaluator", 0.5, "passed"), _row("c", "kid@cxr-evaluator", 0.3, "passed")]
    assert build_leaderboard(mixed).overview.columns[0].valid is False


# -- validate-metrics ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_validate_metrics_checks_each_space_and_fails_on_a_blind_one(run, tmp_path, capsys):
    _, toml = run
    config = tmp_path / "validate.toml"
    config.write_text(f'metrics = "fd@{BLOCKS},kid@{BLOCKS},precision@{BLOCKS},fd@{BLIND}"\n' + toml.read_text())
    out = tmp_path / "report.md"
    code, stdout, err = cli(capsys, "validate-metrics", "--n", "60", "--config", str(config), "--out", str(out))
    assert code == 1, err  # the blind space fails
    report = out.read_text()
    assert f"Made by `cxrbench validate-metrics --n 60 --config {config} --out {out}`." in report
    assert "dataset = phantom (fingerprint " in report and f"feature spaces = {BLOCKS}, {BLIND}" in report
    assert f"| {BLOCKS} passes the run's feature-space validity check | PASS |" in report
    summary = {
        line.split("|")[1].strip(): line.split("|")[3].strip() for line in report.splitlines() if line.startswith("| `")
    }  # the per-space table: space -> verdict
    for space in (BLOCKS, BLIND):
        failed = [
            line.split("|")[1].strip()
            for line in report.splitlines()
            if line.endswith(" |") and "| FAIL |" in line and space in line.split("|")[1]
        ]
        assert summary[f"`{space}`"] == ("failed: " + "; ".join(failed) if failed else "all passed")
    assert summary[f"`{BLIND}`"].startswith(f"failed: fd@{BLIND} worsens with every blur step;")
    assert f"| {BLIND} passes the run's feature-space validity check | FAIL |" in report
    assert f"| fd@{BLIND} worsens with every blur step | FAIL |" in report
    for check in (
        "worsens with every blur step",
        "worsens with every noise step",
        "is worse for the noise model than the real-vs-real floor",
    ):
        assert f"| fd@{BLOCKS} {check} | PASS |" in report
    assert f"FAIL  {BLIND} passes the run's feature-space validity check" in stdout


@pytest.mark.slow
@pytest.mark.nih
def test_validate_metrics_runs_on_the_nih_sample(run, tmp_path, capsys):
    if not NIH_SAMPLE.is_dir():
        pytest.skip(f"the NIH ChestX-ray14 sample is not at {NIH_SAMPLE}")
    _, toml = run
    config = tmp_path / "nih.toml"
    settings = toml.read_text().split("[data_options]")[0]  # the phantom's data_options do not apply
    config.write_text(
        f'metrics = "fd@{BLOCKS},recall@{BLOCKS},coverage@{BLOCKS},memorisation"\n'
        + settings
        + '[data_options]\nview = "both"\nsplit_fractions = [0.5, 0.1, 0.4]\n'
    )
    out = tmp_path / "nih.md"
    code, _, err = cli(
        capsys,
        "validate-metrics",
        "--data",
        "nih-cxr14",
        "--data-root",
        str(NIH_SAMPLE),
        "--n",
        "40",
        "--config",
        str(config),
        "--out",
        str(out),
    )
    assert code in (0, 1), err  # a report either way; which checks pass on 40 real radiographs is not the point
    report = out.read_text()
    assert "dataset = nih-cxr14 (fingerprint " in report and "n per set = 40" in report
    assert f"{BLOCKS} passes the run's feature-space validity check" in report
    assert f"recall@{BLOCKS} and coverage@{BLOCKS} of the pleural_effusion images fall" in report
    assert "memorisation flags train-copy | PASS" in report


def test_validate_metrics_refuses_an_unknown_feature_option_in_one_line(capsys, tmp_path):
    code, _, err = cli(
        capsys, "validate-metrics", "--feature-option", "test-blok.size=2", "--out", str(tmp_path / "r.md")
    )
    assert code == 2 and "did you mean 'test-blocks'?" in err and not (tmp_path / "r.md").exists()
