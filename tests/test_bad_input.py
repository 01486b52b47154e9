"""Bad input and safety: each case gives one line (exit code 2) saying what is wrong and what to do,
or a documented conversion, and loses no finished work (docs/troubleshooting.md lists them).

CLI cases call ``cxrbench.cli.main`` in this process (the function behind the ``cxrbench`` entry
point), so that failures can be injected; one case runs the entry point in a subprocess.
"""

from __future__ import annotations

import errno
import io
import json
import os
import pickle
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from PIL import Image

from cxrbench.cli import main
from cxrbench.data import DATASETS
from cxrbench.data.image_io import ImageTooLargeError, read_image
from cxrbench.errors import CxrbenchError

FINDING_COLUMNS = "atelectasis,lung_opacity,pleural_effusion,enlarged_cardiac_silhouette"


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run ``cxrbench ARGS`` in this process: exit code, stdout, stderr."""
    capsys.readouterr()
    argv = sys.argv
    sys.argv = ["cxrbench", *args]
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        sys.argv = argv
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line(code: int, err: str, *expected: str) -> str:
    """Exit code 2 and exactly one error line (progress lines aside) holding every ``expected`` text."""
    lines = [line for line in err.strip().splitlines() if line.startswith("error:")]
    assert code == 2, err
    assert "Traceback" not in err and len(lines) == 1, err
    assert err.strip().splitlines()[-1] == lines[0], err  # nothing after it
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def png(path: Path, size=(40, 40), value: int = 128, mode: str = "L") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fill = value if mode in ("L", "I;16") else (value,) * len(mode)
    Image.new(mode, size, fill).save(path)
    return path


def noise_pngs(folder: Path, n: int, seed: int, size: int = 32) -> Path:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8)).save(folder / f"{i:03d}.png")
    return folder


def claimed_size_png(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header claims ``width`` x ``height`` (what a decompression bomb looks like)."""
    buffer = io.BytesIO()
    Image.new("L", (4, 4)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


class _Payload:
    """Unpickling this creates the marker file: what a malicious checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def malicious_pickle(path: Path, marker: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps({"weight": _Payload(marker)}, protocol=2))  # torch.save's protocol
    return path


# -- images: the conversions, and the refusals ----------------------------------------------------
def test_16_bit_images_are_scaled_linearly_not_wrapped(tmp_path):
    ramp = np.linspace(1000, 60000, 256).astype(np.uint16)[None].repeat(4, axis=0)
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")  # really stored with 16 bits
    image = read_image(tmp_path / "deep.png")
    expected = np.round((ramp.astype(float) - 1000) * 255 / 59000)
    assert image.dtype == np.uint8 and np.array_equal(image, expected)
    assert np.all(np.diff(image[0].astype(int)) >= 0)  # monotone: a wrap-around would drop back to 0
    Image.fromarray(np.full((4, 4), 40000, dtype=np.uint16)).save(tmp_path / "flat.png")
    assert (read_image(tmp_path / "flat.png") == 0).all()  # no range: black, as documented


def test_rgba_becomes_luminance_with_alpha_dropped(tmp_path):
    pixels = np.zeros((8, 8, 4), dtype=np.uint8)
    pixels[..., 0], pixels[..., 1], pixels[..., 2] = 200, 100, 50
    pixels[:4, ..., 3] = 0  # fully transparent half: same grey as the opaque half
    pixels[4:, ..., 3] = 255
    Image.fromarray(pixels, mode="RGBA").save(tmp_path / "rgba.png")
    grey = read_image(tmp_path / "rgba.png")
    assert grey.shape == (8, 8) and (grey == round(200 * 0.299 + 100 * 0.587 + 50 * 0.114)).all()


@pytest.mark.parametrize("width,height", [(10_000, 10_000), (20_000, 20_000)])  # Pillow: warning, then error
def test_huge_images_are_refused_before_decoding(tmp_path, width, height, recwarn):
    path = claimed_size_png(tmp_path / "bomb.png", width, height)
    with pytest.raises(ImageTooLargeError, match=rf"bomb.png has {width * height:,} pixels, above the limit"):
        read_image(path)
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]


def test_huge_dicom_is_refused_before_decoding(tmp_path):
    pydicom = pytest.importorskip("pydicom")
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.TransferSyntaxUID, meta.MediaStorageSOPInstanceUID = ExplicitVRLittleEndian, generate_uid()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.Rows, ds.Columns, ds.BitsAllocated, ds.SamplesPerPixel = 30_000, 30_000, 16, 1
    ds.PixelData = b"\0\0" * 16  # far too short: decoding it would fail, the size check comes first
    ds.save_as(tmp_path / "huge.dcm", enforce_file_format=True)
    with pytest.raises(ImageTooLargeError, match="huge.dcm has 900,000,000 pixels"):
        read_image(tmp_path / "huge.dcm")


def _folder_root(tmp_path: Path, rows: list[tuple[str, str]]) -> Path:
    """A folder dataset: labels.csv with (path, four labels) rows."""
    root = tmp_path / "mine"
    root.mkdir(exist_ok=True)
    lines = [f"path,{FINDING_COLUMNS}"] + [f"{path},{labels}" for path, labels in rows]
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return root


def test_bad_files_in_a_dataset_fail_up_front_or_are_skipped_and_counted(tmp_path):
    root = _folder_root(tmp_path, [(f"{i}.png", "0,0,1,0") for i in range(6)])
    for i in range(3):
        png(root / f"{i}.png", size=(48, 40))  # non-square: centre-cropped
    (root / "3.png").write_bytes((root / "0.png").read_bytes()[:60])  # truncated
    claimed_size_png(root / "4.png", 10_000, 10_000)  # huge; 5.png is missing
    strict, _ = DATASETS.build("folder", {"root": str(root), "split_fractions": [1, 0, 0]})
    with pytest.raises(
        CxrbenchError,
        match=r"3.png cannot be decoded .*labels.csv row 5\) and 2 more; run "
        r"`cxrbench data check`",
    ):
        strict.load("train", 16)
    assert [p.split(" (")[0] for p in strict.check()] == [
        f"image file {root / '3.png'} cannot be decoded",
        (f"image file {root / '4.png'} has 100,000,000 pixels, above the limit of 89,478,485"),
        f"image file {root / '5.png'} is missing",
    ]
    lenient, _ = DATASETS.build("folder", {"root": str(root), "split_fractions": [1, 0, 0], "on_bad_image": "skip"})
    train = lenient.load("train", 16)
    assert len(train) == 3 and train.images.shape[1:] == (1, 16, 16)
    assert lenient.describe()["skipped_files"] == 3 and sorted(Path(p).name for p in lenient.skipped) == [
        "3.png",
        "4.png",
        "5.png",
    ]


def test_evaluate_refuses_a_bad_file_with_its_name(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CXRBENCH_CACHE", str(tmp_path / "cache"))
    real, fake = noise_pngs(tmp_path / "real", 4, 0), noise_pngs(tmp_path / "fake", 4, 1)
    (fake / "002.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    code, _, err = cli(
        capsys,
        "evaluate",
        "--real",
        str(real),
        "--fake",
        str(fake),
        "--out",
        str(tmp_path / "out"),
        "--metrics",
        "fid",
        "--features",
        "pixels",
        "--bootstrap",
        "0",
    )
    assert_one_line(code, err, str(fake / "002.png"), "cannot be decoded", "replace or remove it")
    claimed_size_png(fake / "002.png", 20_000, 20_000)
    code, _, err = cli(
        capsys,
        "evaluate",
        "--real",
        str(real),
        "--fake",
        str(fake),
        "--out",
        str(tmp_path / "out"),
        "--metrics",
        "fid",
        "--features",
        "pixels",
        "--bootstrap",
        "0",
    )
    assert_one_line(code, err, str(fake / "002.png"), "400,000,000 pixels", "downscale it")


def test_evaluate_crops_non_square_images_to_the_centre(tmp_path):
    from cxrbench.benchmark.evaluate import read_folder

    wide = np.zeros((20, 40), dtype=np.uint8)
    wide[:, 10:30] = 255  # the centre square is white, the sides black
    (tmp_path / "wide").mkdir()
    Image.fromarray(wide).save(tmp_path / "wide" / "a.png")
    images = read_folder(tmp_path / "wide", None)
    assert images.shape == (1, 1, 20, 20) and (images == 255).all()


# -- missing files ----------------------------------------------------------------------------------
@pytest.fixture
def folder_toml(tmp_path) -> Path:
    """A tiny run on a folder dataset: the fast models, two metrics in the pixel space."""
    path = tmp_path / "folder.toml"
    path.write_text(
        'resolution = 32\nn_samples = 4\nbootstrap = 0\ndevice = "cpu"\ntasks = "pleural_effusion"\n'
        'models = "noise"\nmetrics = "fid,precision"\nfloor = false\n'
        '[metric_options.fid]\nfeature_space = "pixels"\n'
        '[metric_options.precision]\nfeature_space = "pixels"\n'
    )
    return path


def test_missing_image_listed_in_the_csv(tmp_path, capsys, folder_toml):
    root = _folder_root(tmp_path, [("a.png", "0,0,1,0"), ("gone.png", "0,0,0,0")])
    png(root / "a.png")
    code, _, err = cli(
        capsys,
        "run",
        "--data",
        "folder",
        "--data-root",
        str(root),
        "--config",
        str(folder_toml),
        "--out",
        str(tmp_path / "run"),
    )
    assert_one_line(code, err, str(root / "gone.png"), "is missing", "labels.csv row 3", "on_bad_image")


@pytest.mark.parametrize(
    "case", ["no data root", "absent data root", "absent config", "config is a folder", "no labels.csv"]
)
def test_missing_paths(tmp_path, capsys, case):
    args = {
        "no data root": ["--data", "folder"],
        "absent data root": ["--data", "folder", "--data-root", str(tmp_path / "nowhere")],
        "absent config": ["--config", str(tmp_path / "nothing.toml")],
        "config is a folder": ["--config", str(tmp_path)],
        "no labels.csv": ["--data", "folder", "--data-root", str(tmp_path)],
    }[case]
    expected = {
        "no data root": "pass --data-root PATH",
        "absent data root": str(tmp_path / "nowhere"),
        "absent config": str(tmp_path / "nothing.toml"),
        "config is a folder": "give --config a readable",
        "no labels.csv": "no labels.csv in",
    }[case]
    code, _, err = cli(capsys, "run", *args, "--out", str(tmp_path / "run"))
    assert_one_line(code, err, expected)
    assert not (tmp_path / "run").exists()  # refused before the output folder is touched


# -- malformed CSV and TOML -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "text,expected",
    [
        ("", "labels.csv is empty"),
        (f"path,{FINDING_COLUMNS}\na.png,0,0,1,0\nb.png,0,0,1,0,1,1,1\n", "is not a readable CSV (Error tokenizing"),
        ("\xff\xfe binary \x00".encode("latin-1"), "is not a readable CSV"),
        (f"file,{FINDING_COLUMNS}\na.png,0,0,1,0\n", "lacks columns ['path']"),
        (f"path,{FINDING_COLUMNS}\na.png,0,0,yes,0\n", "labels.csv row 2, column 'pleural_effusion': label yes"),
    ],
)
def test_malformed_folder_csv(tmp_path, capsys, text, expected):
    root = tmp_path / "mine"
    root.mkdir()
    (root / "labels.csv").write_bytes(text if isinstance(text, bytes) else text.encode())
    code, _, err = cli(capsys, "data", "check", "--data", "folder", "--data-root", str(root))
    assert_one_line(code, err, expected)


def test_malformed_nih_chexpert_and_mimic_tables(tmp_path):
    nih = tmp_path / "nih"
    nih.mkdir()
    (nih / "Data_Entry_2017.csv").write_text('Image Index,Finding Labels\n"a.png,No Finding\n')
    with pytest.raises(CxrbenchError, match="nih-cxr14: .*Data_Entry_2017.csv is not a readable CSV"):
        DATASETS.build("nih-cxr14", {"root": str(nih)})[0].records()
    chexpert = tmp_path / "chexpert"
    chexpert.mkdir()
    (chexpert / "train.csv").write_text("Path,Sex\nx.jpg,F\n")
    with pytest.raises(CxrbenchError, match=r"chexpert: train.csv lacks columns \['Frontal/Lateral', 'AP/PA'\]"):
        DATASETS.build("chexpert", {"root": str(chexpert)})[0].records()
    mimic = tmp_path / "mimic"
    mimic.mkdir()
    (mimic / "mimic-cxr-2.0.0-chexpert.csv.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(CxrbenchError, match="mimic-cxr-jpg: .*chexpert.csv.gz is not a readable CSV"):
        DATASETS.build("mimic-cxr-jpg", {"root": str(mimic)})[0].records()


@pytest.mark.parametrize(
    "text,expected",
    [
        ("resolution = 64\nresolution = 32\n", "is not valid TOML"),
        ("n_sampels = 12\n", "unknown key in {path} 'n_sampels'; did you mean 'n_samples'?"),
        ('resolution = "big"\n', "{path}: setting resolution = 'big' (str) has the wrong type; it must be a whole"),
        ("n_samples = 2.5\n", "setting n_samples = 2.5 (float) has the wrong type"),
        ('resume = "yes"\n', "setting resume = 'yes' (str) has the wrong type; it must be true or false"),
        ("models = 3\n", "setting models = 3 (int) has the wrong type"),
        ("data_options = 5\n", "setting data_options = 5 (int) has the wrong type; it must be a table"),
        (
            "[model_options.pca-gausian]\ncomponents = 8\n",
            "model_options: unknown model 'pca-gausian'; did you mean 'pca-gaussian'?",
        ),
        ("[metric_options.fdi]\nfeature_space = 'pixels'\n", "metric_options: unknown metric 'fdi'; did you mean"),
        ("[data_options]\nn_images = '700'\n", "dataset 'phantom' option n_images = '700' (str) has the wrong type"),
        ("[data_options]\nn_image = 700\n", "dataset 'phantom' has no option 'n_image'"),
        (b"\xff\xfe\x00", "is not UTF-8 text"),
    ],
)
def test_malformed_toml(tmp_path, capsys, text, expected):
    path = tmp_path / "bad.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    code, _, err = cli(capsys, "data", "check", "--config", str(path))
    assert_one_line(code, err, expected.format(path=path))


# -- unknown names ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args,expected",
    [
        (["run", "--models", "noize"], "unknown model 'noize'; did you mean 'noise'?"),
        (["run", "--metrics", "precison"], "unknown metric 'precison'; did you mean 'precision'?"),
        (["run", "--tasks", "pleural_efusion"], "unknown task 'pleural_efusion'; did you mean 'pleural_effusion'?"),
        (["data", "check", "--data", "nih"], "unknown dataset 'nih'"),
        (
            ["evaluate", "--real", ".", "--fake", ".", "--out", "o", "--features", "inceptoin"],
            "unknown feature extractor 'inceptoin'; did you mean 'inception-v3'?",
        ),
        (["evaluate", "--real", ".", "--fake", ".", "--out", "o", "--metrics", "fdi"], "unknown metric 'fdi'"),
        (["train", "pca-gausian", "--out", "o"], "unknown model 'pca-gausian'"),
        (["generate", "noise", "--task", "atelectasi", "--condition", "present", "--out", "o"], "unknown task"),
    ],
)
def test_unknown_names(tmp_path, capsys, monkeypatch, args, expected):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capsys, *args)
    assert_one_line(code, err, expected, "known:")
    assert not (tmp_path / "o" / "results.jsonl").exists()


# -- NaN or infinite features ----------------------------------------------------------------------
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nan_or_infinite_features_are_refused_naming_the_set(tmp_path, capsys, monkeypatch, value):
    import torch

    from cxrbench.benchmark.evaluate import read_folder
    from cxrbench.metrics.extractor_pixels import PixelsExtractor

    cache = tmp_path / "cache"
    monkeypatch.setenv("CXRBENCH_CACHE", str(cache))
    real, fake = noise_pngs(tmp_path / "real", 12, 0), noise_pngs(tmp_path / "fake", 12, 1)
    original, fake_images = PixelsExtractor.extract, read_folder(fake, None)

    def broken(self, images):
        outputs = original(self, images)
        if torch.equal(images, fake_images):  # only the fake set goes wrong
            outputs["features"][2, 0] = value
        return outputs

    monkeypatch.setattr(PixelsExtractor, "extract", broken)
    for metric in ("fid", "kid", "precision"):
        code, _, err = cli(
            capsys,
            "evaluate",
            "--real",
            str(real),
            "--fake",
            str(fake),
            "--out",
            str(tmp_path / "o"),
            "--metrics",
            metric,
            "--features",
            "pixels",
            "--bootstrap",
            "0",
        )
        shown = {"fid": "fd"}.get(metric, metric)  # rows and messages name the metric in its space
        assert_one_line(
            code,
            err,
            f"{shown}@pixels: the pixels features of fake's images",
            "NaN or infinite values (1 of 12 images)",
            "feature extractor 'pixels'",
        )
    assert not list(cache.rglob("*.npz")) or all(
        np.isfinite(np.load(p)["features"]).all() for p in cache.rglob("*.npz")
    )  # never cached
    monkeypatch.setattr(PixelsExtractor, "extract", original)
    code, _, err = cli(
        capsys,
        "evaluate",
        "--real",
        str(real),
        "--fake",
        str(fake),
        "--out",
        str(tmp_path / "o"),
        "--metrics",
        "fid",
        "--features",
        "pixels",
        "--bootstrap",
        "0",
    )
    assert code == 0, err
    assert np.isfinite(json.loads((tmp_path / "o" / "results.jsonl").read_text().splitlines()[0])["value"])


# -- empty image sets -------------------------------------------------------------------------------
def test_empty_folders_for_evaluate(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not an image")
    real = noise_pngs(tmp_path / "real", 3, 0)
    code, _, err = cli(
        capsys, "evaluate", "--real", str(real), "--fake", str(tmp_path / "empty"), "--out", str(tmp_path / "o")
    )
    assert_one_line(code, err, f"{tmp_path / 'empty'} holds no PNG, JPEG or DICOM files")


def test_a_condition_without_real_images_is_recorded_not_scored(tmp_path, capsys, folder_toml):
    rows = [(f"{i:02d}.png", "0,0,0,0") for i in range(40)]  # no image has pleural effusion
    root = _folder_root(tmp_path, rows)
    for i in range(40):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (32, 32), dtype=np.uint8)).save(root / rows[i][0])
    out = tmp_path / "run"
    (tmp_path / "split.toml").write_text(
        folder_toml.read_text().replace('metrics = "fid,precision"', 'metrics = "precision"')
        + "[data_options]\nsplit_fractions = [0.5, 0.1, 0.4]\n"
    )
    code, _, err = cli(
        capsys,
        "run",
        "--data",
        "folder",
        "--data-root",
        str(root),
        "--config",
        str(tmp_path / "split.toml"),
        "--out",
        str(out),
    )
    assert code == 0, err
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    present = [r for r in results if r["condition"] == "present"]
    absent = [r for r in results if r["condition"] == "absent"]
    assert present and all(r["status"] == "unavailable" and "the reference set has 0" in r["reason"] for r in present)
    assert absent and all(r["status"] == "ok" for r in absent), [r["reason"] for r in absent]


# -- pickled payloads ---------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["pickle named model.safetensors", "pickle only (model.pt)"])
def test_checkpoint_with_a_pickle_payload_is_refused(tmp_path, capsys, tiny_toml, layout):
    marker = tmp_path / "payload-ran"
    checkpoint = tmp_path / "ckpt"
    name = "model.safetensors" if layout.startswith("pickle named") else "model.pt"
    malicious_pickle(checkpoint / name, marker)
    (checkpoint / "config.json").write_text("{}")
    code, _, err = cli(
        capsys,
        "generate",
        "pca-gaussian",
        "--task",
        "pleural_effusion",
        "--condition",
        "present",
        "--n",
        "2",
        "--out",
        str(tmp_path / "pngs"),
        "--checkpoint",
        str(checkpoint),
        "--config",
        str(tiny_toml),
    )
    expected = "damaged or not safetensors" if name == "model.safetensors" else "has no model.safetensors"
    assert_one_line(code, err, str(checkpoint), expected)
    assert not marker.exists()


def test_torch_files_are_read_as_tensors_only(tmp_path):
    from cxrbench.checkpoint import load_torch_tensors
    from cxrbench.metrics.extractor_inception_v3 import InceptionV3Extractor

    marker = tmp_path / "payload-ran"
    evil = malicious_pickle(tmp_path / "weights.pth", marker)
    with pytest.raises(CxrbenchError, match="weights.pth cannot be read safely.*nothing was unpickled") as caught:
        load_torch_tensors(evil, "restore the file")
    assert len(str(caught.value).splitlines()) == 1
    extractor = InceptionV3Extractor(weights=str(evil), verify=False)  # even without the hash check
    with pytest.raises(CxrbenchError, match="cannot be read safely"):
        extractor.prepare(type("Context", (), {"device": "cpu"})())
    assert not marker.exists()


def test_gan_training_state_with_a_pickle_payload_is_refused(tmp_path):
    from cxrbench.models.gan.training import STATE_FILE, resume_state

    marker = tmp_path / "payload-ran"
    malicious_pickle(tmp_path / "work" / STATE_FILE, marker)
    with pytest.raises(CxrbenchError, match="cannot be read safely.*delete it to start the training over"):
        resume_state(tmp_path / "work", {}, None)
    assert not marker.exists()


# -- path traversal -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "given,problem",
    [
        ("../secret.png", "leads outside the data root"),
        ("sub/../../secret.png", "leads outside the data root"),
        ("{outside}", "leads outside the data root"),
        ('""', "is empty"),
    ],
)
def test_image_paths_outside_the_data_root_are_refused(tmp_path, capsys, given, problem):
    outside = png(tmp_path / "secret.png")
    root = _folder_root(tmp_path, [("a.png", "0,0,1,0"), (given.format(outside=outside), "0,0,0,0")])
    png(root / "a.png")
    code, out, err = cli(capsys, "data", "check", "--data", "folder", "--data-root", str(root))
    assert_one_line(code, err, "labels.csv row 3", problem, "relative to the data root")
    assert "secret" not in out  # nothing was read or reported from outside


def test_chexpert_paths_outside_the_root_are_refused(tmp_path):
    root = tmp_path / "CheXpert-v1.0-small"
    root.mkdir()
    (root / "train.csv").write_text(
        "Path,Frontal/Lateral,AP/PA,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,"
        "Lung Opacity,Lung Lesion,Edema,Consolidation,Pneumonia,Atelectasis,Pneumothorax,"
        "Pleural Effusion,Pleural Other,Fracture,Support Devices\n"
        "CheXpert-v1.0-small/../../etc/passwd,Frontal,PA" + "," * 14 + "\n"
    )
    with pytest.raises(CxrbenchError, match="train.csv row 2: image path .*leads outside the data root"):
        DATASETS.build("chexpert", {"root": str(root)})[0].records()


# -- read-only or full output folder ----------------------------------------------------------------
def _fail_writes_after(monkeypatch, module, name: str, calls: int, error: OSError) -> None:
    """Let ``module.name`` run ``calls`` times, then raise ``error`` (a full or read-only disk)."""
    original = getattr(module, name)
    done = []

    def failing(*args, **kwargs):
        if len(done) >= calls:
            raise error
        done.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, failing)


@pytest.mark.parametrize(
    "error,expected",
    [
        (OSError(errno.ENOSPC, "No space left on device"), "no space left (disk full or quota); free space"),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), "no space left"),
        (PermissionError(errno.EACCES, "Permission denied"), "no permission to write (Permission denied); make it"),
    ],
)
def test_full_or_read_only_run_folder_keeps_finished_work(tmp_path, capsys, monkeypatch, tiny_toml, error, expected):
    from cxrbench.benchmark import runner

    config = tmp_path / "pixels.toml"  # the tiny run, its two metrics in the pixel space (no evaluator to train)
    config.write_text(
        tiny_toml.read_text() + '\n[metric_options.fid]\nfeature_space = "pixels"\n'
        '[metric_options.precision]\nfeature_space = "pixels"\n'
    )
    args = [
        "run",
        "--models",
        "noise,pca-gaussian",
        "--metrics",
        "fid,precision",
        "--no-floor",
        "--config",
        str(config),
    ]
    whole = tmp_path / "whole"
    assert cli(capsys, *args, "--out", str(whole))[0] == 0
    expected_rows = sorted((whole / "results.jsonl").read_text().splitlines())
    assert len(expected_rows) == 8

    out = tmp_path / "run"
    _fail_writes_after(monkeypatch, runner, "append_row", 5, error)  # the 6th row does not fit
    code, _, err = cli(capsys, *args, "--out", str(out))
    assert_one_line(code, err, f"cannot write to {out}", expected, "choose another --out", "rerun the same command")
    kept = (out / "results.jsonl").read_text().splitlines()
    assert len(kept) == 5 and set(kept) <= set(expected_rows)
    finished = out / "samples" / "noise" / "pleural_effusion" / "present"
    assert (finished / ".complete.json").is_file()
    made = (finished / "00000.png").stat().st_mtime_ns
    monkeypatch.undo()  # the disk has room again: the same command finishes the run
    code, _, err = cli(capsys, *args, "--out", str(out))
    assert code == 0, err
    assert sorted((out / "results.jsonl").read_text().splitlines()) == expected_rows
    assert (finished / "00000.png").stat().st_mtime_ns == made  # the finished sample set was not made again


def test_unwritable_out_for_evaluate(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CXRBENCH_CACHE", str(tmp_path / "cache"))
    real, fake = noise_pngs(tmp_path / "real", 3, 0), noise_pngs(tmp_path / "fake", 3, 1)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.geteuid() == 0:  # root writes anyway: simulate the refusal
            from cxrbench import run_dir

            def refuse(self, *args, **kwargs):
                raise PermissionError(errno.EACCES, "Permission denied", str(self.root))

            monkeypatch.setattr(run_dir.RunDirectory, "prepare", refuse)
        code, _, err = cli(
            capsys,
            "evaluate",
            "--real",
            str(real),
            "--fake",
            str(fake),
            "--out",
            str(locked / "out"),
            "--metrics",
            "fid",
            "--features",
            "pixels",
            "--bootstrap",
            "0",
        )
    finally:
        locked.chmod(0o700)
    assert_one_line(code, err, "cannot write to", str(locked), "make it writable or choose another --out")


def test_other_os_errors_stay_tracebacks(tmp_path, capsys, monkeypatch):
    from cxrbench import run_dir

    def broken(self, *args, **kwargs):
        raise OSError(errno.EIO, "Input/output error", str(self.root))

    monkeypatch.setattr(run_dir.RunDirectory, "prepare", broken)
    real = noise_pngs(tmp_path / "real", 3, 0)
    with pytest.raises(OSError, match="Input/output error"):
        cli(
            capsys,
            "evaluate",
            "--real",
            str(real),
            "--fake",
            str(real),
            "--out",
            str(tmp_path / "o"),
            "--metrics",
            "fid",
            "--features",
            "pixels",
            "--bootstrap",
            "0",
        )


def test_entry_point_prints_one_line_for_a_huge_image(tmp_path):
    real = noise_pngs(tmp_path / "real", 3, 0)
    claimed_size_png(real / "001.png", 10_000, 10_000)
    result = run_cli("evaluate", "--real", str(real), "--fake", str(real), "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"{real / '001.png'} has 100,000,000 pixels" in result.stderr


def test_mrmc_and_plan_mistakes_are_one_line(capsys, tmp_path):
    from test_reader_study_mrmc import VANDYKE, single_design_study

    from cxrbench.reader_study.store import AnswerStore

    code, _, err = cli(capsys, "reader-study", "mrmc", str(tmp_path / "none.csv"))
    assert_one_line(code, err, "does not exist")
    bad = tmp_path / "bad.csv"
    bad.write_text("reader,case,truth,modality,rating\nx,c1,2,A,1\n")
    code, _, err = cli(capsys, "reader-study", "mrmc", str(bad))
    assert_one_line(code, err, "truth must be 0")
    code, _, err = cli(capsys, "reader-study", "mrmc", str(VANDYKE), "--fom", "sensitivity", "--cov", "delong")
    assert_one_line(code, err, "DeLong", "jackknife")
    code, _, err = cli(capsys, "reader-study", "plan", str(VANDYKE), "--readers", "six")
    assert_one_line(code, err, "--readers")
    study, _, answers = single_design_study(tmp_path / "study")
    AnswerStore(study.answers_path).add_all(answers)
    code, _, err = cli(capsys, "reader-study", "plan", str(study.root))  # 3 models: which difference?
    assert_one_line(code, err, "exactly two treatments", "--effect")
    code, out, err = cli(capsys, "reader-study", "plan", str(study.root), "--effect", "0.1", "--readers", "3")
    assert code == 0, err
    assert "pilot: 3 treatments x 3 readers, 24 cases" in out and "| RRRC | 3 |" in out
    code, _, err = cli(capsys, "reader-study", "plan")
    assert_one_line(code, err, "pilot", "--components")
    code, _, err = cli(capsys, "reader-study", "plan", "--components", "cases=114,var=1")
    assert_one_line(code, err, "--components needs exactly")


def _commands(group, path=()):
    """Every (path, command) of the command line, groups included."""
    yield path, group
    for name, command in getattr(group, "commands", {}).items():
        yield from _commands(command, (*path, name))


def test_every_command_line_mistake_is_one_line_with_exit_2(capsys):
    import typer

    from cxrbench.cli import app

    root = typer.main.get_command(app)
    walked = 0
    for path, command in _commands(root):
        if getattr(command, "commands", None):  # a group: an unknown subcommand, spelled close to a real one
            real = sorted(command.commands)[0]
            code, _, err = cli(capsys, *path, real + "x")
            assert_one_line(code, err, f"No such command '{real}x'", f"Did you mean '{real}'?")
        code, _, err = cli(capsys, *path, "--no-such-option")
        assert_one_line(code, err, "no such option --no-such-option", "--help")
        walked += 1
    assert walked >= 20  # every command and group of the CLI
    code, _, err = cli(capsys, "run", "--modelz", "cgan")
    assert_one_line(code, err, "did you mean --models?")
    code, _, err = cli(capsys, "list", "modelz")
    assert_one_line(code, err, "Did you mean 'models'?")
