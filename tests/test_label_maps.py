"""Datasets own their label maps; a run's label columns are the four findings, then its plugin tasks.

An extra task is registered here in-process (the registry's tables patched for the test), so that the
rules are tested without a subprocess; tests/test_plugin_guides.py runs a real plugin task end to end.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_datasets import nih_root  # noqa: F401  (the fixture)

from cxrbench.benchmark.setup import build_dataset, run_conditions, run_tasks
from cxrbench.config import RunConfig
from cxrbench.data import DATASETS
from cxrbench.errors import ConfigError, CxrbenchError
from cxrbench.tasks import FINDINGS, TASKS, label_findings
from cxrbench.tasks.task import Presence, Task

FIVE = (*FINDINGS, "pneumothorax")


@pytest.fixture
def pneumothorax(monkeypatch):
    """A fifth task in the registry for this test only."""
    monkeypatch.setattr(TASKS, "_entries", dict(TASKS._entries))
    monkeypatch.setattr(TASKS, "_loaded", dict(TASKS._loaded))
    prompts = {Presence.PRESENT: "pneumothorax", Presence.ABSENT: "no findings"}
    return TASKS.register("pneumothorax")(
        Task("pneumothorax", "Pneumothorax", prompts, {p: (f"{p.value} pneumothorax.",) for p in Presence})
    )


def test_label_columns_are_the_four_then_the_runs_other_tasks():
    assert label_findings(["pleural_effusion"]) == FINDINGS  # a run of some of the four shares their vector
    assert label_findings(["pneumothorax", "atelectasis", "edema", "pneumothorax"]) == (
        *FINDINGS,
        "pneumothorax",
        "edema",
    )


def test_conditions_target_the_runs_label_columns(pneumothorax):
    present = pneumothorax.condition("present", findings=FIVE)
    assert present.target == (None, None, None, None, 1) and present.finding_index == 4
    strict = TASKS.get("atelectasis").condition("absent", absent="no_finding", findings=FIVE)
    assert strict.target == (0, 0, 0, 0, 0)
    # the default vector and the repr (which keys cached rows) are those of the four
    assert repr(TASKS.get("atelectasis").condition("present")) == repr(
        TASKS.get("atelectasis").condition("present", findings=FINDINGS)
    )
    assert "findings" not in repr(present)


def test_a_dataset_labels_a_plugin_finding_through_its_own_map(nih_root, pneumothorax):  # noqa: F811
    dataset = build_dataset(RunConfig(data="nih-cxr14", data_root=str(nih_root), data_options={"view": "both"}))
    assert dataset.findings == FIVE  # "all" takes the plugin task: NIH maps its own Pneumothorax label
    plain, _ = DATASETS.build("nih-cxr14", {"root": str(nih_root), "view": "both"})
    assert dataset.fingerprint() != plain.fingerprint()  # work keyed on the four is not reused for five
    assert dataset.fingerprint_parts()["files"] == plain.fingerprint_parts()["files"]
    train = dataset.load("train", 32)
    assert train.findings == FIVE and train.labels.shape[1] == 5
    assert dataset.counts()["train"]["pneumothorax"]["present"] == 0  # no row of NIH_ROWS has one
    assert [c.key for c in run_conditions(RunConfig(tasks=("pneumothorax",)), FIVE)] == [
        "pneumothorax/present",
        "pneumothorax/absent",
    ]


def test_a_finding_the_dataset_cannot_label_is_left_out_of_all_and_refused_by_name(pneumothorax):
    dataset = build_dataset(RunConfig(data_options={"n_images": 40}))
    assert dataset.findings == FINDINGS  # the phantom draws the four only: "all" leaves pneumothorax out
    assert "pneumothorax" not in run_tasks(RunConfig(), dataset.findings)
    with pytest.raises(ConfigError) as refused:
        build_dataset(RunConfig(tasks=("pneumothorax",), data_options={"n_images": 40}))
    message = str(refused.value)
    assert "dataset phantom does not label finding 'pneumothorax'" in message and "\n" not in message
    assert "atelectasis, lung_opacity" in message  # what it does label


def test_the_folder_dataset_reads_any_finding_from_its_column(tmp_path, pneumothorax):
    from test_datasets import _png

    root = tmp_path / "mine"
    lines = ["path,atelectasis,lung_opacity,pleural_effusion,enlarged_cardiac_silhouette,PTX"]
    for i in range(6):
        _png(root / f"{i}.png", value=30 * i)
        lines.append(f"{i}.png,0,0,0,0,{i % 2}")
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    config = RunConfig(data="folder", data_root=str(root), data_options={"columns": {"pneumothorax": "PTX"}})
    records = build_dataset(config).records()
    assert list(records["pneumothorax"]) == [0, 1, 0, 1, 0, 1]
    unmapped = RunConfig(data="folder", data_root=str(root), tasks=("pneumothorax",))
    with pytest.raises(CxrbenchError, match=r"labels.csv lacks columns \['pneumothorax'\]"):  # named, not mapped
        build_dataset(unmapped).records()
    np.testing.assert_array_equal(records[list(FINDINGS)].to_numpy(), 0)
