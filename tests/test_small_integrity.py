"""Data integrity and honest messages: a user's own CSV is not sent to a dataset release, counts leave
out files that do not decode, `evaluate` that scores nothing says so (exit 2), and an Inception file
other than the published FID weights is accepted only on request and marked in every row."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from test_bad_input import FINDING_COLUMNS, assert_one_line, cli, noise_pngs, png
from test_inception import _context

from cxrbench.config import load_config
from cxrbench.data import DATASETS
from cxrbench.errors import ConfigError, CxrbenchError, UnavailableError
from cxrbench.metrics import FEATURE_EXTRACTORS
from cxrbench.metrics import extractor_inception_v3 as inception
from cxrbench.metrics.extractor_inception_v3 import InceptionV3Extractor
from cxrbench.results import read_rows

RELEASE_HINT = "dataset release"


# -- 1. the folder dataset's CSV is the user's own ----------------------------------------------------
@pytest.mark.parametrize(
    "text,problem",
    [
        ("", "labels.csv is empty"),
        (f"path,{FINDING_COLUMNS}\n", "labels.csv has no rows below its header"),
        ("\xff\xfe binary \x00".encode("latin-1"), "is not a readable CSV"),
        (f"path,{FINDING_COLUMNS}\na.png,0,0,1,0\nb.png,0,0,1,0,1,1,1\n", "is not a readable CSV (Error tokenizing"),
        (f"file,{FINDING_COLUMNS}\na.png,0,0,1,0\n", "lacks columns ['path']"),
    ],
)
def test_a_bad_folder_csv_is_explained_not_sent_to_a_release(tmp_path, capsys, text, problem):
    root = tmp_path / "mine"
    root.mkdir()
    (root / "labels.csv").write_bytes(text if isinstance(text, bytes) else text.encode())
    code, _, err = cli(capsys, "data", "check", "--data", "folder", "--data-root", str(root))
    line = assert_one_line(
        code, err, problem, "path, atelectasis, lung_opacity, pleural_effusion, enlarged_cardiac_silhouette"
    )
    assert RELEASE_HINT not in line and "official release" not in line
    assert ("header row" in line) and ("one row per image" in line or "rename those columns" in line)


def test_official_tables_keep_the_restore_hint(tmp_path):
    nih = tmp_path / "nih"
    nih.mkdir()
    (nih / "Data_Entry_2017.csv").write_text("")
    with pytest.raises(
        CxrbenchError, match="nih-cxr14: .*Data_Entry_2017.csv is empty; restore the file from the dataset release"
    ):
        DATASETS.build("nih-cxr14", {"root": str(nih)})[0].records()
    (nih / "Data_Entry_2017.csv").write_text("Image Index,Sex\na.png,F\n")
    with pytest.raises(CxrbenchError, match="lacks columns .*official release.*restore it from the dataset release"):
        DATASETS.build("nih-cxr14", {"root": str(nih)})[0].records()


# -- 2. counts leave out files that do not decode ---------------------------------------------------
def _dataset_with_bad_files(tmp_path: Path) -> Path:
    """Six images of three patients (a, b, c, two each), all in train; both of patient a's are bad."""
    root = tmp_path / "mine"
    lines = [f"path,patient,{FINDING_COLUMNS}"]
    for i, patient in enumerate("aabbcc"):
        lines.append(f"{i}.png,{patient},0,0,{1 if i % 2 == 0 else 0},0")
        if patient != "a":
            png(root / f"{i}.png", value=40 * i)
    (root / "0.png").write_bytes(b"not a png")  # 1.png is missing
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return root


def test_counts_after_loading_leave_out_skipped_files_and_keep_the_fingerprint(tmp_path):
    root = _dataset_with_bad_files(tmp_path)
    options = {"root": str(root), "split_fractions": [1, 0, 0], "patient_column": "patient", "on_bad_image": "skip"}
    dataset, _ = DATASETS.build("folder", options)
    before = dataset.describe()  # as a run does before loading: every record counts
    assert before["counts"]["train"]["images"] == 6 and before["counts"]["train"]["patients"] == 3
    dataset.load("train", 16)
    after = dataset.describe()
    train = after["counts"]["train"]
    assert (train["images"], train["patients"]) == (4, 2)
    assert train["pleural_effusion"] == {"present": 2, "absent": 2, "uncertain": 0}
    assert after["skipped_files"] == 2
    assert after["fingerprint"] == before["fingerprint"]  # the files on disk are the same
    fresh, _ = DATASETS.build("folder", options)
    assert fresh.fingerprint() == before["fingerprint"]


def test_data_check_prints_counts_without_the_bad_files(tmp_path, capsys):
    root = _dataset_with_bad_files(tmp_path)
    config = tmp_path / "check.toml"
    config.write_text('[data_options]\nsplit_fractions = [1, 0, 0]\npatient_column = "patient"\n')
    code, out, err = cli(capsys, "data", "check", "--data", "folder", "--data-root", str(root), "--config", str(config))
    assert_one_line(code, err, "2 bad image files")
    train = next(line for line in out.splitlines() if "train" in line)
    assert [cell.strip() for cell in train.split("│")[1:4]] == ["train", "4", "2"], out
    assert "2 bad files left out" in out
    dataset, _ = DATASETS.build("folder", {"root": str(root), "split_fractions": [1, 0, 0]})
    assert len(dataset.check()) == 2 and dataset.counts()["train"]["images"] == 4


# -- 3. evaluate that scores nothing exits 2 -------------------------------------------------------
def test_evaluate_exits_2_when_no_metric_could_be_scored(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CXRBENCH_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("CXRBENCH_CACHE", str(tmp_path / "cache"))
    real, fake = noise_pngs(tmp_path / "real", 12, 0), noise_pngs(tmp_path / "fake", 12, 1)
    out = tmp_path / "out"
    code, stdout, err = cli(
        capsys, "evaluate", "--real", str(real), "--fake", str(fake), "--out", str(out), "--bootstrap", "0"
    )
    line = assert_one_line(
        code,
        err,
        "nothing was scored",
        "no FID Inception weights given",
        "--inception-weights PATH",
        "trained on a labelled dataset",
        "--features pixels",
        str(out / "results.jsonl"),
    )
    assert line.count("no FID Inception weights given") == 1  # six rows, two distinct reasons
    rows = read_rows(out / "results.jsonl")
    assert len(rows) == 6 and {r.status for r in rows} == {"unavailable"}  # written all the same
    assert stdout.count("unavailable:") == 6
    code, _, err = cli(
        capsys,
        "evaluate",
        "--real",
        str(real),
        "--fake",
        str(fake),
        "--out",
        str(out),
        "--bootstrap",
        "0",
        "--metrics",
        "fid,conditional_accuracy",
        "--features",
        "pixels",
    )
    assert code == 0, err  # one row scored: as before
    assert {r.metric: r.status for r in read_rows(out / "results.jsonl")} == {
        "fd@pixels": "ok",
        "conditional_accuracy": "unavailable",
    }
    code, _, err = cli(
        capsys,
        "evaluate",
        "--real",
        str(real),
        "--fake",
        str(fake),
        "--out",
        str(out),
        "--bootstrap",
        "0",
        "--metrics",
        "conditional_accuracy",
        "--features",
        "pixels",
    )
    line = assert_one_line(code, err, "nothing was scored", "cxr-evaluator")
    assert "--features pixels" not in line  # it would not move this metric


# -- 4. verify = false: an Inception-v3 file of one's own, marked as such ------------------------------
def test_verify_false_accepts_another_file_and_marks_its_identity(random_weights, tmp_path):
    with pytest.raises(
        UnavailableError,
        match=r"is not the FID Inception weights file .*verify = false in "
        r"\[feature_options.inception-v3\]",
    ):
        InceptionV3Extractor(weights=random_weights).prepare(_context(tmp_path))
    own = InceptionV3Extractor(weights=random_weights, verify=False, fused=False)
    own.prepare(_context(tmp_path))
    assert own.identity()["published_weights"] is False
    assert own.identity()["weights_sha256"] == hashlib.sha256(Path(random_weights).read_bytes()).hexdigest()


def test_the_published_file_stays_published_with_verify_false(random_weights, tmp_path, monkeypatch):
    digest = hashlib.sha256(Path(random_weights).read_bytes()).hexdigest()
    monkeypatch.setattr(inception, "FID_WEIGHTS_SIZE", Path(random_weights).stat().st_size)  # "publish" it
    monkeypatch.setattr(inception, "FID_WEIGHTS_SHA256_PREFIX", digest[:8])
    identities = []
    for verify in (True, False):
        extractor = InceptionV3Extractor(weights=random_weights, verify=verify, fused=False)
        extractor.prepare(_context(tmp_path))
        identities.append(extractor.identity())
    assert identities[0] == identities[1] and "published_weights" not in identities[0]
    assert inception.is_published_fid_weights(Path(random_weights).stat().st_size, digest)
    assert not inception.is_published_fid_weights(Path(random_weights).stat().st_size + 1, digest)


def test_verify_false_reaches_the_extractor_from_toml(tmp_path):
    path = tmp_path / "own.toml"
    path.write_text('[feature_options.inception-v3]\nweights = "w.pth"\nverify = false\n')
    config = load_config(path)
    extractor, options = FEATURE_EXTRACTORS.build("inception-v3", config.feature_options["inception-v3"])
    assert extractor.verify is False and options["verify"] is False
    path.write_text('[feature_options.inception-v3]\nverify = "no"\n')
    with pytest.raises(ConfigError, match="option verify = 'no' .*wrong type"):
        FEATURE_EXTRACTORS.build("inception-v3", load_config(path).feature_options["inception-v3"])


def test_evaluate_with_an_own_inception_file_says_so_once(random_weights, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CXRBENCH_CACHE", str(tmp_path / "cache"))

    # The file is loaded for real; the forward pass (seconds per image on a CPU) is not the point here.
    def corner_pixels(self, images):
        return {"features": images[:, 0, :4, :4].reshape(len(images), -1).double().numpy()}

    monkeypatch.setattr(InceptionV3Extractor, "extract", corner_pixels)
    real, fake = noise_pngs(tmp_path / "real", 12, 0), noise_pngs(tmp_path / "fake", 12, 1)
    common = [
        "evaluate",
        "--real",
        str(real),
        "--fake",
        str(fake),
        "--out",
        str(tmp_path / "out"),
        "--metrics",
        "fid,kid",
        "--bootstrap",
        "0",
        "--device",
        "cpu",
        "--inception-weights",
        str(random_weights),
    ]
    code, _, err = cli(capsys, *common)
    assert_one_line(code, err, "nothing was scored", "is not the FID Inception weights file", "verify = false")
    code, out, err = cli(capsys, *common, "--no-inception-verify")
    assert code == 0, err
    assert out.count("inception-v3 ran with weights that are not its published ones") == 1, out  # two rows, one note
    rows = read_rows(tmp_path / "out" / "results.jsonl")
    assert [r.comparability["published_weights"] for r in rows] == [False, False]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["feature_spaces"]["inception-v3"]["published_weights"] is False
