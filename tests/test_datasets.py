"""Real-data adapters on small files written here in each dataset's official layout."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cxrbench.data import DATASETS
from cxrbench.data.image_io import BadImageError, read_image
from cxrbench.data.preprocess import to_square
from cxrbench.data.splits import assign_splits
from cxrbench.errors import ConfigError, CxrbenchError
from cxrbench.tasks import FINDINGS

AT, LO, PE, ECS = (FINDINGS.index(f) for f in FINDINGS)
NIH_HEADER = (
    "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
    "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y]"
)
CHEXPERT_HEADER = (
    "Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,"
    "Lung Opacity,Lung Lesion,Edema,Consolidation,Pneumonia,Atelectasis,Pneumothorax,"
    "Pleural Effusion,Pleural Other,Fracture,Support Devices"
)


def _png(path, value=128, size=(40, 30), mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value if mode == "L" else (value,) * len(mode)).save(path)


# -- NIH ChestX-ray14 -------------------------------------------------------------------------------
NIH_ROWS = [  # image, labels, patient, view
    ("00000001_000.png", "Cardiomegaly|Effusion", "00000001", "PA"),
    ("00000001_001.png", "No Finding", "00000001", "PA"),
    ("00000002_000.png", "Infiltration", "00000002", "PA"),
    ("00000003_000.png", "Edema", "00000003", "PA"),
    ("00000004_000.png", "Atelectasis|Pneumonia", "00000004", "AP"),
    ("00000005_000.png", "Consolidation", "00000005", "PA"),
]


@pytest.fixture
def nih_root(tmp_path):
    root = tmp_path / "nih"
    lines = [NIH_HEADER] + [f"{i},{labels},0,{p},60,M,{v},2500,2048,0.143,0.143" for i, labels, p, v in NIH_ROWS]
    root.mkdir()
    (root / "Data_Entry_2017_v2020.csv").write_text("\n".join(lines) + "\n")
    for k, (image, *_rest) in enumerate(NIH_ROWS):  # split over two folders, as NIH ships them
        _png(root / f"images_00{1 + k % 2}" / "images" / image, value=20 * k + 10)
    return root


def test_nih_labels_views_and_maps(nih_root):
    dataset, _ = DATASETS.build("nih-cxr14", {"root": str(nih_root), "view": "both"})
    table = dataset.records().set_index("image_id")
    assert list(table.loc["00000001_000.png", list(FINDINGS)]) == [0, 0, 1, 1]
    assert table.loc["00000002_000.png", "lung_opacity"] == 1  # Infiltration
    assert table.loc["00000005_000.png", "lung_opacity"] == 1  # Consolidation
    assert table.loc["00000003_000.png", "lung_opacity"] == 0  # Edema is left out of lung opacity
    assert list(table.loc["00000004_000.png", ["atelectasis", "lung_opacity"]]) == [1, 1]
    pa_only, _ = DATASETS.build("nih-cxr14", {"root": str(nih_root)})
    assert "00000004_000.png" not in set(pa_only.records()["image_id"])  # PA is the default view


def test_nih_official_test_list_and_patient_splits(nih_root):
    (nih_root / "test_list.txt").write_text("00000001_000.png\n00000001_001.png\n")
    dataset, _ = DATASETS.build("nih-cxr14", {"root": str(nih_root), "view": "both"})
    table = dataset.records()
    assert set(table.loc[table["patient_id"] == "1", "split"]) == {"test"}
    assert set(table.loc[table["patient_id"] != "1", "split"]) <= {"train", "val"}
    images = dataset.load("test", 16)
    assert images.images.shape == (2, 1, 16, 16) and images.labels[0, ECS] == 1


def test_nih_pixels_cached_and_reused(nih_root, tmp_path):
    dataset, _ = DATASETS.build("nih-cxr14", {"root": str(nih_root), "view": "both", "split_fractions": [1, 0, 0]})
    first = dataset.load("train", 8, tmp_path / "cache")
    cached = list((tmp_path / "cache" / "datasets" / "nih-cxr14").glob("*.npy"))
    assert len(cached) == 2
    again, _ = DATASETS.build("nih-cxr14", {"root": str(nih_root), "view": "both", "split_fractions": [1, 0, 0]})
    assert np.array_equal(again.load("train", 8, tmp_path / "cache").images, first.images)


def test_bad_images_fail_up_front_or_are_skipped(nih_root, tmp_path):
    (nih_root / "images_001" / "images" / "00000001_000.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    strict, _ = DATASETS.build("nih-cxr14", {"root": str(nih_root), "view": "both"})
    with pytest.raises(CxrbenchError, match=r"00000001_000.png cannot be decoded .*Data_Entry_2017_v2020.csv row 2"):
        strict.load("train", 8)
    assert len(strict.check()) == 1 and "row 2" in strict.check()[0]
    lenient, _ = DATASETS.build("nih-cxr14", {"root": str(nih_root), "view": "both", "on_bad_image": "skip"})
    total = sum(len(lenient.load(s, 8)) for s in ("train", "val", "test"))
    assert total == len(NIH_ROWS) - 1 and lenient.describe()["skipped_files"] == 1


def test_nih_errors_name_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="is not a folder; pass --data-root"):
        DATASETS.build("nih-cxr14", {"root": str(tmp_path / "nope")})
    (tmp_path / "empty").mkdir()
    with pytest.raises(CxrbenchError, match="no Data_Entry_2017"):
        DATASETS.build("nih-cxr14", {"root": str(tmp_path / "empty")})[0].records()
    with pytest.raises(ConfigError, match="view='LL'"):
        DATASETS.build("nih-cxr14", {"root": str(tmp_path / "empty"), "view": "LL"})


# -- CheXpert -------------------------------------------------------------------------------------
def _chexpert_line(path, frontal, ap_pa, atelectasis="", opacity="", effusion="", cardiomegaly=""):
    labels = ["", "", cardiomegaly, opacity, "", "", "", "", atelectasis, "", effusion, "", "", ""]
    return f"{path},Female,68,{frontal},{ap_pa}," + ",".join(labels)


@pytest.fixture
def chexpert_root(tmp_path):
    root = tmp_path / "CheXpert-v1.0-small"
    train = [
        _chexpert_line(
            "CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg",
            "Frontal",
            "PA",
            atelectasis="-1.0",
            effusion="1.0",
        ),
        _chexpert_line(
            "CheXpert-v1.0-small/train/patient00001/study1/view2_lateral.jpg", "Lateral", "", atelectasis="1.0"
        ),
        _chexpert_line(
            "CheXpert-v1.0-small/train/patient00002/study1/view1_frontal.jpg",
            "Frontal",
            "PA",
            opacity="0.0",
            cardiomegaly="1.0",
        ),
    ]
    valid = [
        _chexpert_line(
            "CheXpert-v1.0-small/valid/patient64541/study1/view1_frontal.jpg", "Frontal", "PA", atelectasis="0.0"
        )
    ]
    root.mkdir()
    (root / "train.csv").write_text("\n".join([CHEXPERT_HEADER, *train]) + "\n")
    (root / "valid.csv").write_text("\n".join([CHEXPERT_HEADER, *valid]) + "\n")
    for line in train + valid:
        relative = line.split(",")[0].split("/", 1)[1]
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (32, 40), 90).save(path, format="JPEG")
    return root


@pytest.mark.parametrize("policy,expected", [("ignore", -1), ("negative", 0), ("positive", 1)])
def test_chexpert_uncertain_policies(chexpert_root, policy, expected):
    dataset, _ = DATASETS.build("chexpert", {"root": str(chexpert_root), "uncertain": policy})
    table = dataset.records().set_index("patient_id")
    assert table.loc["patient00001", "atelectasis"] == expected
    assert table.loc["patient00001", "pleural_effusion"] == 1
    assert len(table) == 3  # the lateral view is dropped
    assert table.loc["patient64541", "split"] == "test"  # valid.csv is the official evaluation set
    assert table.loc["patient00002", "enlarged_cardiac_silhouette"] == 1


def test_uncertain_ignored_means_in_neither_condition(chexpert_root):
    from cxrbench.tasks import TASKS

    dataset, _ = DATASETS.build("chexpert", {"root": str(chexpert_root), "split_fractions": [1, 0, 0]})
    train = dataset.load("train", 16)
    present, absent = TASKS.get("atelectasis").conditions()
    assert len(train.matching(present)) == 0 and len(train.matching(absent)) == 1


def test_chexpert_bad_label_value_names_row_and_column(chexpert_root):
    text = (chexpert_root / "train.csv").read_text().replace(",-1.0,", ",2.0,", 1)
    (chexpert_root / "train.csv").write_text(text)
    with pytest.raises(CxrbenchError, match=r"train.csv row 2, column 'Atelectasis': label 2.0"):
        DATASETS.build("chexpert", {"root": str(chexpert_root)})[0].records()


# -- MIMIC-CXR-JPG ----------------------------------------------------------------------------------
@pytest.fixture
def mimic_root(tmp_path):
    root = tmp_path / "mimic-cxr-jpg" / "2.0.0"
    root.mkdir(parents=True)
    labels = pd.DataFrame({"subject_id": [10000032, 10000032, 11000011], "study_id": [50414267, 53189527, 56699142]})
    for column in (
        "Atelectasis",
        "Cardiomegaly",
        "Consolidation",
        "Edema",
        "Enlarged Cardiomediastinum",
        "Fracture",
        "Lung Lesion",
        "Lung Opacity",
        "No Finding",
        "Pleural Effusion",
        "Pleural Other",
        "Pneumonia",
        "Pneumothorax",
        "Support Devices",
    ):
        labels[column] = np.nan
    labels["Pleural Effusion"] = [1.0, -1.0, np.nan]
    labels["Lung Opacity"] = [np.nan, 1.0, 0.0]
    with gzip.open(root / "mimic-cxr-2.0.0-chexpert.csv.gz", "wt") as handle:
        labels.to_csv(handle, index=False)
    images = [
        ("02aa804e-bde0afdd-112c0b34-7bc16630-4e384014", 10000032, 50414267, "PA", "train"),
        ("174413ec-4ec4c1f7-34ea26b7-c5f994f8-79ef1962", 10000032, 50414267, "LATERAL", "train"),
        ("2a2277a9-b0ded155-c0de8eb9-c124d10e-82c5caab", 10000032, 53189527, "PA", "train"),
        ("68b5c4b1-227d0485-9cc38c3f-7b84ab51-4b472714", 11000011, 56699142, "PA", "test"),
    ]
    pd.DataFrame(
        {
            "dicom_id": [i[0] for i in images],
            "study_id": [i[2] for i in images],
            "subject_id": [i[1] for i in images],
            "split": [i[4] for i in images],
        }
    ).to_csv(root / "mimic-cxr-2.0.0-split.csv.gz", index=False, compression="gzip")
    pd.DataFrame(
        {
            "dicom_id": [i[0] for i in images],
            "subject_id": [i[1] for i in images],
            "study_id": [i[2] for i in images],
            "PerformedProcedureStepDescription": "CHEST (PA AND LAT)",
            "ViewPosition": [i[3] for i in images],
            "Rows": 3056,
            "Columns": 2544,
        }
    ).to_csv(root / "mimic-cxr-2.0.0-metadata.csv", index=False)
    for dicom, subject, study, *_ in images:
        path = root / "files" / f"p{str(subject)[:2]}" / f"p{subject}" / f"s{study}" / f"{dicom}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (30, 36), 70).save(path, format="JPEG")
    return root


def test_mimic_joins_labels_views_and_official_split(mimic_root):
    dataset, _ = DATASETS.build("mimic-cxr-jpg", {"root": str(mimic_root)})
    table = dataset.records().set_index("image_id")
    assert len(table) == 3  # the lateral image is dropped
    first = table.loc["02aa804e-bde0afdd-112c0b34-7bc16630-4e384014"]
    assert (first["pleural_effusion"], first["split"]) == (1, "train")
    assert table.loc["2a2277a9-b0ded155-c0de8eb9-c124d10e-82c5caab", "pleural_effusion"] == -1
    assert table.loc["68b5c4b1-227d0485-9cc38c3f-7b84ab51-4b472714", "split"] == "test"
    assert len(dataset.load("test", 8)) == 1 and not dataset.check()


# -- folder + CSV, DICOM -----------------------------------------------------------------------------
def _dicom(path, pixels, photometric="MONOCHROME2", bits=12, window=None):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, bits, bits - 1, 0
    if window:
        ds.WindowCenter, ds.WindowWidth = window
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def test_dicom_photometric_window_and_bit_depth(tmp_path):
    ramp = np.tile(np.linspace(0, 4095, 64).astype(np.uint16), (8, 1))
    _dicom(tmp_path / "m2.dcm", ramp)
    _dicom(tmp_path / "m1.dcm", ramp, photometric="MONOCHROME1")
    _dicom(tmp_path / "win.dcm", ramp, window=(1024, 512))
    plain, inverted, windowed = (read_image(tmp_path / n) for n in ("m2.dcm", "m1.dcm", "win.dcm"))
    assert plain.dtype == np.uint8 and plain[0, 0] == 0 and plain[0, -1] == 255  # 12 bits -> 8 bits, min-max
    assert np.array_equal(inverted, 255 - plain)  # MONOCHROME1: dense is bright after inversion
    assert windowed[0, 0] == 0 and windowed[0, -1] == 255
    inside = (ramp[0] > 800) & (ramp[0] < 1250)
    assert (windowed[0, ramp[0] < 760] == 0).all() and (windowed[0, ramp[0] > 1290] == 255).all()
    assert np.all(np.diff(windowed[0, inside].astype(int)) >= 0) and windowed[0, inside].std() > 30


def test_raster_modes_and_broken_files(tmp_path):
    deep = (np.arange(64 * 8).reshape(8, 64) * 100).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    assert read_image(tmp_path / "deep.png").max() == 255
    _png(tmp_path / "rgba.png", value=200, mode="RGBA")
    assert read_image(tmp_path / "rgba.png").shape == (30, 40)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff not really")
    with pytest.raises(BadImageError, match="broken.jpg cannot be decoded"):
        read_image(tmp_path / "broken.jpg")
    with pytest.raises(BadImageError, match="is missing"):
        read_image(tmp_path / "gone.png")


def test_folder_dataset_with_mapped_columns_and_dicom(tmp_path):
    root = tmp_path / "mine"
    _dicom(root / "a.dcm", np.full((20, 30), 3000), photometric="MONOCHROME1")
    _png(root / "sub" / "b.png")
    _png(root / "c.png")
    (root / "labels.csv").write_text(
        "file,pid,ATL,OPAC,EFF,CARDIO,split\na.dcm,p1,1,0,,0,\nsub/b.png,p2,0,-1,1,0,test\nc.png,p3,0,0,0,1,\n"
    )
    options = {
        "root": str(root),
        "path_column": "file",
        "patient_column": "pid",
        "split_column": "split",
        "columns": {
            "atelectasis": "ATL",
            "lung_opacity": "OPAC",
            "pleural_effusion": "EFF",
            "enlarged_cardiac_silhouette": "CARDIO",
        },
    }
    dataset, full = DATASETS.build("folder", options)
    table = dataset.records().set_index("image_id")
    assert list(table.loc["sub/b.png", list(FINDINGS)]) == [0, -1, 1, 0]
    assert table.loc["a.dcm", "pleural_effusion"] == 0  # blank = not mentioned = absent
    assert table.loc["sub/b.png", "split"] == "test"
    assert len(table) == 3  # no view column: no view filter
    assert full["view"] == "PA" and full["aspect"] == "crop"
    with pytest.raises(ConfigError, match="has no option 'colums'"):
        DATASETS.build("folder", {"root": str(root), "colums": {}})


def test_square_policies():
    image = np.arange(20 * 40, dtype=np.uint8).reshape(20, 40)
    assert to_square(image, 20, "crop").tolist() == image[:, 10:30].tolist()
    padded = to_square(image, 40, "pad")
    assert padded.shape == (40, 40) and (padded[:10] == 0).all() and padded[10:30].tolist() == image.tolist()
    assert to_square(image, 8, "crop").shape == (8, 8)


def test_splits_keep_patients_together_and_respect_official():
    records = pd.DataFrame({"patient_id": [f"p{i // 3}" for i in range(300)]})
    first = assign_splits(records, {"train": 0.7, "val": 0.1, "test": 0.2}, seed=4)
    assert first.equals(assign_splits(records, {"train": 0.7, "val": 0.1, "test": 0.2}, seed=4))
    assert (first.groupby(records["patient_id"]).nunique() == 1).all()
    assert 0.55 < (first == "train").mean() < 0.85
    records["official_split"] = [("test" if i < 30 else None) for i in range(300)]
    second = assign_splits(records, {"train": 0.7, "val": 0.1, "test": 0.2}, seed=4)
    assert (second[:30] == "test").all() and set(second[30:]) == {"train", "val"}
    records.loc[30, "official_split"] = "val"  # patient p10 is now in test and val
    with pytest.raises(CxrbenchError, match="patient p10 is in more than one split"):
        assign_splits(records, {"train": 0.7, "val": 0.1, "test": 0.2}, seed=4)


# -- the real NIH ChestX-ray14 sample in ../shared (skipped when absent) -------------------------------
@pytest.fixture(scope="module")
def nih_sample():
    from conftest import NIH_SAMPLE

    if not (NIH_SAMPLE / "Data_Entry_2017_v2020_subset.csv").is_file():
        pytest.skip(f"the NIH ChestX-ray14 sample is not at {NIH_SAMPLE}")
    return NIH_SAMPLE


@pytest.mark.nih
def test_nih_sample_reads_with_patient_disjoint_splits(nih_sample):
    dataset, _ = DATASETS.build("nih-cxr14", {"root": str(nih_sample)})
    counts = dataset.counts()
    assert sum(counts[s]["images"] for s in counts) == 936  # the sample's PA views
    table = dataset.records()
    assert (table.groupby("patient_id")["split"].nunique() == 1).all()
    both, _ = DATASETS.build("nih-cxr14", {"root": str(nih_sample), "view": "both"})
    labels = both.records()
    assert len(labels) == 1605
    assert int(labels["atelectasis"].sum()) == 198 and int(labels["pleural_effusion"].sum()) == 171
    assert int(labels["enlarged_cardiac_silhouette"].sum()) == 72
    test = dataset.load("test", 32)
    assert test.images.dtype.is_floating_point is False and test.images.shape[1:] == (1, 32, 32)
    assert 40 < float(test.images.float().mean()) < 200


@pytest.mark.nih
def test_benchmark_runs_on_the_nih_sample(nih_sample, tiny_config):
    from cxrbench.benchmark.runner import run_benchmark

    config = tiny_config(
        data="nih-cxr14",
        data_root=str(nih_sample),
        data_options={"view": "both"},
        n_samples=10,
        bootstrap=0,
        models="pca-gaussian,real-holdout",
        metrics="fd@cxr-evaluator,frd@radiomics,memorisation",  # each space on real radiographs; utility elsewhere
    )
    summary = run_benchmark(config)
    for metric in ("fd@cxr-evaluator", "frd@radiomics"):
        rows = [r for r in summary.rows if r.metric == metric]
        assert len(rows) == 4 and {r.dataset for r in rows} == {"nih-cxr14"}
        assert all(r.status == "ok" and r.value > 0 for r in rows)
    assert {r.status for r in summary.rows if r.metric == "memorisation"} == {"ok"}
    assert summary.manifest["dataset"]["counts"]["train"]["images"] > 900


def test_data_check_command_lists_bad_files_and_counts(nih_root):
    from conftest import run_cli

    good = run_cli("data", "check", "--data", "nih-cxr14", "--data-root", str(nih_root))
    assert good.returncode == 0, good.stderr
    assert "all images decode" in good.stdout and "train" in good.stdout
    (nih_root / "images_002" / "images" / "00000001_001.png").unlink()
    bad = run_cli("data", "check", "--data", "nih-cxr14", "--data-root", str(nih_root))
    assert bad.returncode == 2
    assert "00000001_001.png is missing (Data_Entry_2017_v2020.csv row 3)" in bad.stdout.replace("\n", "")
    assert "1 bad image files" in bad.stderr
