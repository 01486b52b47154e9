"""Preparing blinded studies, importing answers (all or nothing) and writing reader rows into the run."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from conftest import run_cli
from reader_study_helpers import N_SAMPLES, TASK, make_run

from cxrbench.reader_study.design import Design, ReaderStudyError
from cxrbench.reader_study.importing import import_answers, parse_columns
from cxrbench.reader_study.prepare import PrepareConfig, prepare_study
from cxrbench.reader_study.rows import score_study
from cxrbench.reader_study.store import Answer, AnswerStore
from cxrbench.reader_study.study import Study
from cxrbench.results import read_rows

READERS = ("r1", "r2", "r3")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("reader-run") / "run")


def prepare(run: Path, out: Path, design: str = "paired", **options) -> Study:
    config = dict(
        run_dir=run,
        out=out,
        design=Design(design),
        n_items=4,
        readers=READERS,
        seed=5,
        cache_dir=Path(__import__("os").environ["CXRBENCH_CACHE"]),
    )
    return prepare_study(PrepareConfig(**{**config, **options}))


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_recreates_the_study_and_another_seed_does_not(run, tmp_path):
    first, second = prepare(run, tmp_path / "a"), prepare(run, tmp_path / "b")
    a, b = files(first.root), files(second.root)
    a.pop("readers.json"), b.pop("readers.json")  # link tokens are secrets, fresh each time
    assert a == b
    third = files(prepare(run, tmp_path / "c", seed=6).root)
    assert third["served/items.json"] != a["served/items.json"] and third["key.json"] != a["key.json"]
    assert json.loads(first.root.joinpath("readers.json").read_text()) != json.loads(
        second.root.joinpath("readers.json").read_text()
    )


@pytest.mark.parametrize("design", ["single", "paired", "finding"])
def test_served_files_are_blind_and_the_key_is_apart(run, tmp_path, design):
    study = prepare(run, tmp_path / design, design=design)
    n_cells = 3 * 2  # models x conditions
    expected = {"paired": 4 * n_cells, "single": 4 * n_cells + 4 * 2, "finding": 4 * n_cells + 4 * 2}[design]
    assert len(study.items) == expected == len(study.key)
    served = {str(p.relative_to(study.served)) for p in study.served.rglob("*") if p.is_file()}
    assert served == {"items.json"} | {f"images/{i}.png" for i in study.image_ids}
    assert not (study.served / "key.json").exists() and (study.root / "key.json").is_file()
    text = (study.served / "items.json").read_text()
    for secret in ("alpha", "beta", "gamma", "real", "samples", "present", "absent", "synthetic", TASK):
        assert secret not in text, secret
    assert all(re.fullmatch(r"[0-9a-f]{12}", i) for i in study.item_ids | study.image_ids)
    assert [item["id"] for item in study.items] == sorted(study.item_ids)  # served in id order, not model order
    assert all(len(item["images"]) == (2 if design == "paired" else 1) for item in study.items)
    if design == "finding":
        assert {item["finding"] for item in study.items} == {"Pleural effusion"}
    if design == "paired":
        sides = [truth["synthetic_side"] for truth in study.key.values()]
        assert 0 < sides.count("left") < len(sides)
        # The synthetic image is the one at the side the key names: same pixels as the sample file.
        import numpy as np
        from PIL import Image

        item = study.items[0]
        truth = study.key[item["id"]]
        shown = item["images"][0 if truth["synthetic_side"] == "left" else 1]
        served_pixels = np.asarray(Image.open(study.served / "images" / f"{shown}.png"))
        assert (served_pixels == np.asarray(Image.open(run / truth["synthetic"]))).all()


def test_reading_order_is_per_reader_and_reproducible(run, tmp_path):
    study = prepare(run, tmp_path / "s")
    orders = {r: study.order(r) for r in READERS}
    assert all(sorted(o) == sorted(study.item_ids) for o in orders.values())
    assert len({tuple(o) for o in orders.values()}) == 3
    assert Study(study.root).order("r1") == orders["r1"]


@pytest.mark.parametrize(
    "options,message",
    [
        ({"models": ("delta",)}, "model 'delta' has no finished sample set"),
        ({"n_items": N_SAMPLES + 1}, f"fewer than --n {N_SAMPLES + 1}"),
        ({"tasks": ("atelectasis",)}, "task 'atelectasis' has no finished sample set"),
        ({"readers": ("Dr Smith",)}, "reader id 'Dr Smith' is not valid"),
        ({"n_items": 0}, "at least 1 item"),
    ],
)
def test_bad_prepare_options_are_user_errors(run, tmp_path, options, message):
    with pytest.raises(ReaderStudyError, match=re.escape(message)):
        prepare(run, tmp_path / "s", **options)
    assert not (tmp_path / "s").exists()


def test_an_existing_study_is_never_overwritten(run, tmp_path):
    prepare(run, tmp_path / "s")
    with pytest.raises(ReaderStudyError, match="already holds a study"):
        prepare(run, tmp_path / "s")


def test_cli_prepare_errors_are_one_line(run, tmp_path):
    result = run_cli(
        "reader-study",
        "prepare",
        str(run),
        "--out",
        str(tmp_path / "s"),
        "--design",
        "single",
        "--readers",
        "r1",
        "--models",
        "delta",
    )
    assert result.returncode == 2 and "model 'delta' has no finished sample set" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# -- import -----------------------------------------------------------------------------------------
def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_csv_import_all_or_nothing_with_row_numbers(run, tmp_path):
    study = prepare(run, tmp_path / "s")
    ids = sorted(study.item_ids)
    header = "reader_id,item_id,response,confidence,reason,seconds"
    good = [
        f"r1,{ids[0]},left,definitely,soft_tissue,3.5",
        f"r1,{ids[1]},cannot_tell,,,2",
        f"r2,{ids[0]},4,,image_artifacts,",
    ]
    bad = good + [
        "r2,nosuchitem,left,probably,other,1",  # row 5
        f"r2,{ids[2]},left,,other,1",  # row 6: no confidence
        f"r2,{ids[3]},right,probably,,-4",  # row 7: negative time
        f"r3,{ids[4]},cannot_tell,,other,1",  # row 8: reason for cannot tell
        f"r1,{ids[0]},right,probably,other,1",
    ]  # row 9: second answer to the same item
    with pytest.raises(ReaderStudyError) as caught:
        import_answers(study, [write_csv(tmp_path / "bad.csv", header, bad)])
    message = str(caught.value)
    assert "5 bad row(s), nothing imported" in message and "\n" not in message
    for row in (5, 6, 7, 8, 9):
        assert f"row {row}:" in message
    assert "row 2:" not in message and "row 9: reader r1 answers item" in message
    assert AnswerStore(study.answers_path).answers() == []  # nothing partially imported

    (report,) = import_answers(study, [write_csv(tmp_path / "good.csv", header, good)])
    assert (report.rows, report.added, report.already_stored) == (3, 3, 0)
    stored = {(a.reader, a.item): a for a in AnswerStore(study.answers_path).answers()}
    assert (stored[("r1", ids[0])].response, stored[("r1", ids[0])].reason, stored[("r1", ids[0])].seconds) == (
        1,
        "soft_tissue",
        3.5,
    )
    assert stored[("r1", ids[1])].response == 3 and stored[("r2", ids[0])].seconds is None
    # Importing the same file again adds nothing; a different answer for a stored pair is a bad row.
    (again,) = import_answers(study, [tmp_path / "good.csv"])
    assert (again.added, again.already_stored) == (0, 3)
    with pytest.raises(ReaderStudyError, match="row 2: reader r1 already has a different stored answer"):
        import_answers(study, [write_csv(tmp_path / "other.csv", header, [f"r1,{ids[0]},right,probably,other,1"])])


def test_generic_csv_with_a_column_mapping(run, tmp_path):
    study = prepare(run, tmp_path / "s", design="finding")
    ids = sorted(study.item_ids)
    path = write_csv(
        tmp_path / "tool.csv",
        "Rater,Case,Answer,Sure,Time",
        [f"r1,{ids[0]},yes,probably,4.2", f"r1,{ids[1]},no,definitely,1.0"],
    )
    with pytest.raises(ReaderStudyError, match="has no column 'reader_id'"):
        import_answers(study, [path])
    mapping = parse_columns("reader_id=Rater,item_id=Case,response=Answer,confidence=Sure,seconds=Time")
    import_answers(study, [path], mapping)
    assert [(a.item, a.response) for a in AnswerStore(study.answers_path).answers()] == [(ids[0], 4), (ids[1], 1)]
    with pytest.raises(ReaderStudyError, match="unknown schema column 'rater'"):
        parse_columns("rater=Rater")


def test_import_another_answers_database(run, tmp_path):
    study = prepare(run, tmp_path / "s")
    ids = sorted(study.item_ids)
    elsewhere = AnswerStore(tmp_path / "laptop.sqlite")
    elsewhere.add(Answer("r3", ids[0], 5, "bone_structure", 6.0))
    elsewhere.add(Answer("r3", ids[1], 2, None, 6.0))  # a decided paired answer without a reason is allowed
    import_answers(study, [tmp_path / "laptop.sqlite"])
    assert len(AnswerStore(study.answers_path).answers("r3")) == 2
    with sqlite3.connect(tmp_path / "laptop.sqlite") as db:
        db.execute("INSERT INTO answers VALUES ('r3', 'zzz', 5, NULL, 1.0, 'now', 'app')")
    with pytest.raises(ReaderStudyError, match="row 3: item 'zzz' is not in this study"):
        import_answers(study, [tmp_path / "laptop.sqlite"])


# -- statistics into the run ------------------------------------------------------------------------
def test_scores_become_reader_rows_in_the_run_and_leaderboard(run, tmp_path):
    import shutil

    run_copy = tmp_path / "run"
    shutil.copytree(run, run_copy)
    study = prepare(run_copy, tmp_path / "s", design="single")
    store = AnswerStore(study.answers_path)
    for reader in ("r1", "r2"):
        for item in study.order(reader):
            truth = study.key[item]
            # The readers spot model alpha every time and take the others for real.
            spotted = truth["kind"] == "synthetic" and truth["model"] == "alpha"
            store.add(Answer(reader, item, 5 if spotted else 1, None, 1.0))
    statistics, rows = score_study(study)
    all_rows = read_rows(run_copy / "results.jsonl")
    reader_rows = [r for r in all_rows if r.metric.startswith("reader.")]
    assert reader_rows == rows and len(all_rows) == 6 + len(rows)
    accuracy = {(r.model, r.condition): r.value for r in rows if r.metric == "reader.single.accuracy"}
    assert accuracy[("alpha", "present")] == 1.0 and accuracy[("beta", "present")] == 0.5
    assert {r.n_fake for r in rows} == {N_SAMPLES} and {r.dataset for r in rows} == {"phantom"}
    assert any(r.metric == "reader.single.accuracy.r2" for r in rows)
    assert not any(r.metric == "reader.single.undecided.r2" for r in rows)  # pooled only in the rows
    # Spearman across the three models: readers' accuracy falls as CXR-FD rises (alpha 1, beta 2, gamma 3).
    (rho,) = [c.rho for c in statistics.correlations if c.reader_metric == "reader.single.accuracy"]
    assert rho == pytest.approx(-0.8660254, abs=1e-6)  # ranks (3, 1.5, 1.5) against (1, 2, 3)
    board = (run_copy / "leaderboard.md").read_text()
    overview = board.split("### Overview")[1].split("###")[0]  # one setting: automated and reader columns together
    assert board.count("### Overview") == 1 and "CXR-FD ↓" in overview and "Readers (single): accuracy ↓" in overview
    assert (study.root / "statistics.md").read_text().count("| alpha |") > 5
    # The MRMC rows: alpha is spotted every time (AUC 1), beta and gamma are not (AUC 0.5): gamma (or beta)
    # is the best competitor; alpha's difference from it is 0.5 with its interval and p-value.
    orh = {(r.metric, r.model, r.condition): r for r in rows if ".orh_" in r.metric}
    assert orh[("reader.single.orh_auc", "alpha", "present")].value == 1.0
    assert orh[("reader.single.orh_auc", "beta", "present")].value == 0.5
    diff = orh[("reader.single.orh_auc_diff", "alpha", "present")]
    assert diff.value == pytest.approx(0.5) and diff.ci_method == "orh-rrrc" and diff.ci_low <= 0.5 <= diff.ci_high
    assert 0 <= orh[("reader.single.orh_auc_p", "alpha", "present")].value <= 1
    assert "MRMC auc - best ↓" in overview and "## MRMC analysis" in (study.root / "statistics.md").read_text()
    # Scoring again replaces the rows instead of adding a second copy.
    score_study(study)
    assert len(read_rows(run_copy / "results.jsonl")) == len(all_rows)


def test_cli_import_bad_rows_is_one_line_and_exit_2(run, tmp_path):
    study = prepare(run, tmp_path / "s")
    path = write_csv(tmp_path / "bad.csv", "reader_id,item_id,response", ["r1,nosuchitem,4"])
    result = run_cli("reader-study", "import", str(study.root), str(path))
    assert result.returncode == 2, result.stderr
    assert "1 bad row(s), nothing imported: bad.csv row 2: item 'nosuchitem' is not in this study" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    missing = run_cli("reader-study", "import", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "is not a reader study" in missing.stderr and "Traceback" not in missing.stderr
