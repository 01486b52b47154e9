"""The ORH analysis against the published analysis of the Van Dyke et al. (1993) MRMC ROC study.

The dataset (tests/data/vandyke.lrc): CINE MRI (treatment "0") against spin-echo MRI ("1") for
thoracic aortic dissection, 5 radiologists, 69 negative and 45 positive cases, five-point ratings;
as distributed with RJafroc (``inst/extdata/datasets/VD.lrc``, dataset02) and MRMCaov (``VanDyke``).

Published numbers, from the raw ratings, by MRMCaov (Smith & Hillis):
- README of MRMCaov 0.1.8: RRRC, empirical AUC, jackknife;
- the package's JSS manuscript (docs/jss/MRMCaov.tex): FRRC, RRFC, DeLong, sensitivity at rating >= 3,
  cases nested within readers and within treatments.
Sample sizes: RJafroc's tests (tests/testthat/test-SsSampleSize.R) and Chakraborty's book chapter on
sample size (RJafrocBook), from the same data.
"""

from __future__ import annotations

import csv
import itertools
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from cxrbench.reader_study.design import ReaderStudyError
from cxrbench.reader_study.mrmc import or_analysis
from cxrbench.reader_study.mrmc_data import AUC, Ratings, delong_covariance, jackknife_covariance, sensitivity
from cxrbench.reader_study.mrmc_files import _lrc_records, read_mrmc_file
from cxrbench.reader_study.planning import Pilot, cases_needed, power

VANDYKE = Path(__file__).parent / "data" / "vandyke.lrc"


def printed(value: float, text: str) -> None:
    """``value`` equals the published ``text`` to the precision it was printed with."""
    unit = Decimal(1).scaleb(Decimal(text).as_tuple().exponent)
    assert abs(Decimal(repr(float(value))) - Decimal(text)) <= unit / 2 + unit / 1000, (value, text)


@pytest.fixture(scope="module")
def vandyke() -> Ratings:
    return read_mrmc_file(VANDYKE)


def test_the_file_is_the_published_dataset(vandyke):
    assert vandyke.treatments == ("0", "1") and vandyke.readers == ("0", "1", "2", "3", "4")
    assert len(vandyke.cases) == 114 and int(vandyke.truth.sum()) == 45 and vandyke.factorial
    # MRMCaov's single-reader AUCs (FRRC "Single reader 95% CIs"), treatment 1 = "0", 2 = "1".
    published = [
        ["0.9196457", "0.8587762", "0.9038647", "0.9731079", "0.8297907"],
        ["0.9478261", "0.9053140", "0.9217391", "0.9993559", "0.9299517"],
    ]
    figures = or_analysis(vandyke).figures
    for row, texts in zip(figures, published):
        for value, text in zip(row, texts):
            printed(value, text)


def test_rrrc_jackknife_matches_mrmcaov(vandyke):
    a = or_analysis(vandyke)
    c = a.components
    for value, text in (
        (c.var_r, "0.0015349993"),
        (c.var_tr, "0.0002004025"),
        (c.var, "0.0008022883"),
        (c.cov1, "0.0003466137"),
        (c.cov2, "0.0003440748"),
        (c.cov3, "0.0002390284"),
        (c.ms_t, "0.004796171"),
        (c.ms_tr, "0.0005510306"),
    ):
        printed(value, text)
    rrrc = a.inferences["RRRC"]
    printed(rrrc.test.denominator, "0.001076263")
    printed(rrrc.test.statistic, "4.456319")
    printed(rrrc.test.ddf, "15.25967")
    printed(rrrc.test.p_value, "0.05166569")
    (d,) = rrrc.differences
    for value, text in (
        (d.value, "-0.04380032"),
        (d.stderr, "0.02074862"),
        (d.ci_low, "-0.0879594986"),
        (d.ci_high, "0.0003588544"),
        (d.statistic, "-2.110999"),
        (d.p_value, "0.05166569"),
    ):
        printed(value, text)
    for t, texts in zip(
        rrrc.treatments,
        (
            ("0.8970370", "0.03317360", "12.74465", "0.8252236", "0.9688505"),
            ("0.9408374", "0.02156637", "12.71019", "0.8941378", "0.9875369"),
        ),
    ):
        for value, text in zip((t.value, t.stderr, t.df, t.ci_low, t.ci_high), texts):
            printed(value, text)


def test_frrc_matches_mrmcaov_with_per_reader_differences(vandyke):
    frrc = or_analysis(vandyke).inferences["FRRC"]
    printed(frrc.test.denominator, "0.0008758604")
    printed(frrc.test.statistic, "5.475953")
    printed(frrc.test.p_value, "0.01927984")
    (d,) = frrc.differences
    for value, text in (
        (d.stderr, "0.01871748"),
        (d.ci_low, "-0.08048591"),
        (d.ci_high, "-0.00711473"),
        (d.statistic, "-2.340075"),
    ):
        printed(value, text)
    for t, texts in zip(
        frrc.treatments, (("0.02428971", "0.8494301", "0.9446440"), ("0.01677632", "0.9079564", "0.9737183"))
    ):
        for value, text in zip((t.stderr, t.ci_low, t.ci_high), texts):
            printed(value, text)
    published = [
        ("-0.02818035", "0.02551213", "-0.078183215", "0.021822507", "0.26933885"),
        ("-0.04653784", "0.02630183", "-0.098088476", "0.005012792", "0.07683102"),
        ("-0.01787440", "0.03120965", "-0.079044180", "0.043295388", "0.56683414"),
        ("-0.02624799", "0.01729129", "-0.060138290", "0.007642316", "0.12901715"),
        ("-0.10016103", "0.04405746", "-0.186512066", "-0.013809995", "0.02300099"),
    ]
    for e, texts in zip(frrc.reader_differences, published):
        for value, text in zip((e.value, e.stderr, e.ci_low, e.ci_high, e.p_value), texts):
            printed(value, text)
    single = {e.label: e for e in frrc.readers}
    printed(single["3: 0"].stderr, "0.0173388332")
    assert single["3: 0"].ci_high == 1.0  # clipped to the AUC's range, as published
    printed(single["4: 1"].stderr, "0.0262023046")
    printed(single["4: 1"].ci_low, "0.8785961")


def test_rrfc_matches_mrmcaov(vandyke):
    rrfc = or_analysis(vandyke).inferences["RRFC"]
    printed(rrfc.test.statistic, "8.704")
    assert rrfc.test.ddf == 4
    printed(rrfc.test.p_value, "0.04195875")
    (d,) = rrfc.differences
    for value, text in ((d.stderr, "0.01484629"), (d.ci_low, "-0.08502022"), (d.ci_high, "-0.00258042")):
        printed(value, text)
    for t, texts in zip(
        rrfc.treatments, (("0.02482994", "0.8280981", "0.9659760"), ("0.01615303", "0.8959894", "0.9856854"))
    ):
        for value, text in zip((t.stderr, t.ci_low, t.ci_high), texts):
            printed(value, text)


def test_delong_covariances_match_mrmcaov(vandyke):
    a = or_analysis(vandyke, covariance="delong")
    c = a.components
    for value, text in (
        (c.var_r, "0.0015364254"),
        (c.var_tr, "0.0002045840"),
        (c.var, "0.0007921325"),
        (c.cov1, "0.0003420090"),
        (c.cov2, "0.0003395265"),
        (c.cov3, "0.0002358497"),
    ):
        printed(value, text)
    rrrc = a.inferences["RRRC"]
    printed(rrrc.test.statistic, "4.484854")
    printed(rrrc.test.ddf, "15.06611")
    printed(rrrc.test.p_value, "0.05123303")
    printed(rrrc.differences[0].ci_high, "0.0002665519")


def test_sensitivity_as_figure_of_merit_matches_mrmcaov(vandyke):
    # MRMCaov: binary_sens(truth, rating >= 3); only the positive cases enter (and are jackknifed).
    a = or_analysis(vandyke, fom=sensitivity(3))
    assert a.n_cases == 45
    c = a.components
    for value, text in (
        (c.var_r, "0.0049747475"),
        (c.var_tr, "0.0007828283"),
        (c.var, "0.0023681257"),
        (c.cov1, "0.0009943883"),
        (c.cov2, "0.0010145903"),
        (c.cov3, "0.0006604938"),
    ):
        printed(value, text)
    rrrc = a.inferences["RRRC"]
    printed(rrrc.test.statistic, "6.689493")
    printed(rrrc.test.ddf, "15.71732")
    printed(rrrc.test.p_value, "0.02008822")
    assert rrrc.treatments[1].ci_high == 1.0  # 0.92 + t * 0.0374 clipped, as published
    printed(rrrc.treatments[1].df, "7.575855")


@pytest.mark.parametrize(
    "nesting,published",
    [
        (
            "reader",
            {
                "var_r": "1.293517e-03",
                "var_tr": "9.213005e-05",
                "var": "8.079682e-04",
                "cov1": "3.490676e-04",
                "F": "8.704",
                "ddf": "4",
                "p": "0.04195875",
            },
        ),
        (
            "treatment",
            {
                "var_r": "1.642585e-03",
                "var_tr": "9.078969e-05",
                "var": "8.058382e-04",
                "cov2": "3.455973e-04",
                "F": "2.104491",
                "ddf": "68.42325",
                "p": "0.1514363",
            },
        ),
    ],
)
def test_nested_designs_match_mrmcaov(nesting, published):
    # MRMCaov's case2 / case3 codings: the same ratings with cases made distinct per reader / per treatment.
    records = _lrc_records(VANDYKE)
    key = (lambda t, r, c: f"{r}.{c}") if nesting == "reader" else (lambda t, r, c: f"{t}.{c}")
    a = or_analysis(Ratings.from_records([(t, r, key(t, r, c), y, x) for t, r, c, y, x in records]))
    c = a.components
    for name in ("var_r", "var_tr", "var", "cov1", "cov2"):
        if name in published:
            printed(getattr(c, name), published[name])
    zero = ("cov2", "cov3") if nesting == "reader" else ("cov1", "cov3")
    assert all(getattr(c, name) == 0 for name in zero)
    test = a.inferences["RRRC"].test
    printed(test.statistic, published["F"])
    printed(test.ddf, published["ddf"])
    printed(test.p_value, published["p"])


def brute_auc(truth, rating) -> float:
    pos, neg = rating[truth == 1], rating[truth == 0]
    return sum((p > q) + 0.5 * (p == q) for p in pos for q in neg) / (len(pos) * len(neg))


def test_jackknife_covariance_against_brute_force_recomputation():
    rng = np.random.default_rng(3)
    truth = np.array([0] * 7 + [1] * 5)
    records = [(t, r, f"c{k}", truth[k], int(rng.integers(1, 6))) for t in "AB" for r in "xyz" for k in range(12)]
    data = Ratings.from_records(records)
    cov = jackknife_covariance(data, AUC)
    leave_out = np.array(
        [[brute_auc(np.delete(g.truth, k), np.delete(g.rating, k)) for g in data.groups] for k in range(12)]
    )
    centred = leave_out - leave_out.mean(axis=0)
    assert cov == pytest.approx(11 / 12 * centred.T @ centred, abs=1e-15)


def test_delong_covariance_against_brute_force_structural_components():
    rng = np.random.default_rng(4)
    truth = np.array([0] * 6 + [1] * 4)
    data = Ratings.from_records(
        [(t, r, f"c{k}", truth[k], float(rng.normal() + truth[k])) for t in "AB" for r in "xy" for k in range(10)]
    )
    cov = delong_covariance(data)
    m, n = 4, 6
    positives, negatives = [i for i in range(10) if truth[i] == 1], [j for j in range(10) if truth[j] == 0]

    def psi(g, i, j):
        return (g.rating[i] > g.rating[j]) + 0.5 * (g.rating[i] == g.rating[j])

    v10 = [[sum(psi(g, i, j) for j in negatives) / n for i in positives] for g in data.groups]
    v01 = [[sum(psi(g, i, j) for i in positives) / m for j in negatives] for g in data.groups]
    theta = [brute_auc(g.truth, g.rating) for g in data.groups]
    for a, b in itertools.product(range(4), repeat=2):
        s10 = sum((v10[a][i] - theta[a]) * (v10[b][i] - theta[b]) for i in range(m)) / (m - 1)
        s01 = sum((v01[a][j] - theta[a]) * (v01[b][j] - theta[b]) for j in range(n)) / (n - 1)
        assert cov[a, b] == pytest.approx(s10 / m + s01 / n, abs=1e-15)


def test_csv_reads_the_same_study_as_lrc(tmp_path, vandyke):
    path = tmp_path / "vd.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Reader", "Case", "Truth", "Treatment", "Rating"])  # any case, treatment for modality
        for t, r, c, y, x in _lrc_records(VANDYKE):
            writer.writerow([r, c, y, t, x])
    a, b = or_analysis(read_mrmc_file(path)), or_analysis(vandyke)
    assert a.inferences["RRRC"].test == b.inferences["RRRC"].test


def test_bad_rating_sets_are_one_line_errors(tmp_path):
    with pytest.raises(ReaderStudyError, match="every reader must read under every treatment"):
        Ratings.from_records(
            [("A", "x", "c1", 0, 1), ("A", "x", "c2", 1, 5), ("B", "y", "c1", 0, 1), ("B", "y", "c2", 1, 5)]
        )
    with pytest.raises(ReaderStudyError, match="both truths"):
        Ratings.from_records([("A", "x", "c1", 0, 1), ("A", "y", "c1", 1, 5)])
    with pytest.raises(ReaderStudyError, match="positive and negative"):
        Ratings.from_records([("A", "x", "c1", 1, 1), ("A", "x", "c2", 1, 5)])
    nested = Ratings.from_records([(t, "x", f"{t}{k}", k % 2, k) for t in "AB" for k in range(4)])
    with pytest.raises(ReaderStudyError, match="jackknife"):
        or_analysis(nested, covariance="delong")
    bad = tmp_path / "bad.csv"
    bad.write_text("reader,case,truth,rating\nx,c1,0,1\n")
    with pytest.raises(ReaderStudyError, match="missing column.*modality"):
        read_mrmc_file(bad)
    lrc = tmp_path / "bad.lrc"
    lrc.write_text('title\nr1\n"A" "B"\nL X\n1 2\n*\n')
    with pytest.raises(ReaderStudyError, match="line 4"):
        read_mrmc_file(lrc)


def test_one_reader_gets_the_fixed_reader_analysis_only():
    data = Ratings.from_records(
        [(t, "x", f"c{k}", k % 2, (k * 7 + len(t)) % 5) for t in ("A", "BB") for k in range(10)]
    )
    a = or_analysis(data)
    assert set(a.inferences) == {"FRRC"}


def test_planner_reproduces_rjafroc_sample_sizes(vandyke):
    pilot = Pilot.from_analysis(or_analysis(vandyke))
    assert pilot.n_cases == 114
    printed(pilot.effect, "-0.04380032")
    printed(power(pilot, readers=6, cases=111, effect=pilot.effect), "0.5526116")
    assert cases_needed(pilot, readers=6, effect=pilot.effect)[0] == 251
    k, achieved = cases_needed(pilot, readers=10, effect=pilot.effect)
    assert k == 163
    printed(achieved, "0.8015625")
    k, achieved = cases_needed(pilot, readers=10, effect=pilot.effect, target=0.9)
    assert k == 236
    printed(achieved, "0.9003501")
    k, achieved = cases_needed(pilot, readers=10, effect=pilot.effect, analysis="FRRC")
    assert k == 133
    printed(achieved, "0.801")


# -- the analysis of a cxrbench study ------------------------------------------------------------------
def single_design_study(tmp_path):
    """Two models and real-holdout against 6 real images, 6 synthetic images each, read by 3 readers."""
    from reader_study_helpers import write_study

    from cxrbench.reader_study.design import REAL
    from cxrbench.reader_study.store import Answer

    key = {
        f"{m}{i}": {"model": m, "task": "t", "condition": "present", "kind": "synthetic"}
        for m in ("good", "bad", "real-holdout")
        for i in range(6)
    }
    key |= {f"r{i}": {"model": REAL, "task": "t", "condition": "present", "kind": "real"} for i in range(6)}
    study = write_study(tmp_path, "single", key)
    rng = np.random.default_rng(0)
    shift = {"good": 0.5, "bad": 2.0, "real-holdout": 0.0, REAL: 0.0}
    answers = [
        Answer(reader, item, int(np.clip(round(2.5 + shift[truth["model"]] + rng.normal()), 1, 5)), None, 1.0)
        for reader in ("a", "b", "c")
        for item, truth in key.items()
    ]
    return study, key, answers


def test_a_single_design_study_is_analysed_with_real_images_shared_by_every_model(tmp_path):
    from cxrbench.reader_study.statistics import study_statistics

    study, key, answers = single_design_study(tmp_path)
    statistics = study_statistics(study, answers, frozenset({"real", "real-holdout"}))
    records = [
        (key[a.item]["model"], a.reader, a.item, 1, a.response) for a in answers if key[a.item]["model"] != "real"
    ]
    records += [
        (m, a.reader, a.item, 0, a.response)
        for a in answers
        if key[a.item]["model"] == "real"
        for m in ("good", "bad", "real-holdout")
    ]
    expected = or_analysis(Ratings.from_records(records))
    (cell,) = statistics.analyses
    assert cell.analysis.treatments == ("bad", "good", "real-holdout") and cell.n_cases == 24 and cell.n_real == 6
    assert np.array_equal(cell.analysis.figures, expected.figures)
    assert cell.analysis.inferences["RRRC"].test == expected.inferences["RRRC"].test
    found = {(e.measure, e.model): e for e in statistics.estimates if e.measure.startswith("orh_")}
    assert ("orh_auc_diff", "good") not in found  # good is the best competitor: lowest AUC
    diff = expected.difference("RRRC", "bad", "good")
    assert found[("orh_auc_diff", "bad")].value == pytest.approx(diff.value)
    assert (found[("orh_auc_diff", "bad")].ci_low, found[("orh_auc_diff", "bad")].ci_high) == pytest.approx(
        (diff.ci_low, diff.ci_high)
    )
    assert found[("orh_auc_p", "bad")].value == pytest.approx(diff.p_value)
    assert ("orh_auc_p", "real-holdout") in found  # a reference is compared with the best, never the best itself
    rrrc = {t.label: t for t in expected.inferences["RRRC"].treatments}
    assert found[("orh_auc", "good")].ci_low == pytest.approx(rrrc["good"].ci_low)
    assert found[("orh_auc", "good")].ci_method == "orh-rrrc"


def test_cli_mrmc_and_plan_on_the_published_study(tmp_path):
    from typer.testing import CliRunner

    from cxrbench.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["reader-study", "mrmc", str(VANDYKE), "--json", str(tmp_path / "vd.json")])
    assert result.exit_code == 0, result.output
    assert "F(1, 15.25967) = 4.456319, p = 0.05166569" in result.output
    assert '"ddf": 15.25967458914' in (tmp_path / "vd.json").read_text()
    result = runner.invoke(app, ["reader-study", "plan", str(VANDYKE), "--readers", "6,10"])
    assert result.exit_code == 0, result.output
    assert "| RRRC | 6 | 251 | 0.8005 |" in result.output and "| RRRC | 10 | 163 | 0.8016 |" in result.output
    result = runner.invoke(app, ["reader-study", "plan", str(VANDYKE), "--readers", "6", "--cases", "111"])
    assert "| RRRC | 6 | 111 | 0.5526 |" in result.output
    # The same plan from the components as MRMCaov prints them (no ratings needed).
    published = "cases=114,var_tr=0.0002004025,var=0.0008022883,cov1=0.0003466137,cov2=0.0003440748,cov3=0.0002390284"
    result = runner.invoke(
        app, ["reader-study", "plan", "--components", published, "--effect", "0.04380032", "--readers", "6,10"]
    )
    assert result.exit_code == 0, result.output
    assert "| RRRC | 6 | 251 | 0.8005 |" in result.output and "| RRRC | 10 | 163 | 0.8016 |" in result.output
