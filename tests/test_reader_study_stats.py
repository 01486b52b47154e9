"""Reader statistics against scipy, worked textbook examples and hand counts on made-up answer tables."""

from __future__ import annotations

import math

import numpy as np
import pytest
from reader_study_helpers import write_study
from scipy import stats

from cxrbench.metrics.reader_measures import reader_schema
from cxrbench.reader_study.agreement import cohen_kappa, fleiss_kappa
from cxrbench.reader_study.design import REAL
from cxrbench.reader_study.statistics import auc, binomial_p, rank_correlations, study_statistics, wilson_interval
from cxrbench.reader_study.store import Answer


def hand_wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval written out (Wilson 1927; Agresti and Coull 1998, eq. 2)."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


@pytest.mark.parametrize("k,n", [(0, 5), (3, 10), (17, 20), (40, 40), (51, 100)])
def test_wilson_and_binomial_test_match_scipy_and_the_formula(k, n):
    low, high = wilson_interval(k, n)
    ref = stats.binomtest(k, n, 0.5).proportion_ci(method="wilson")
    assert (low, high) == pytest.approx((ref.low, ref.high), abs=1e-12)
    assert (low, high) == pytest.approx(hand_wilson(k, n), abs=1e-9)
    assert binomial_p(k, n) == pytest.approx(stats.binomtest(k, n, 0.5).pvalue)


def test_binomial_p_by_hand():
    # 9 of 10 correct: P(X >= 9) + P(X <= 1) = 2 * (10 + 1) / 1024
    assert binomial_p(9, 10) == pytest.approx(22 / 1024)


def test_fleiss_kappa_on_the_worked_example():
    # The worked example of Fleiss' kappa (Wikipedia, "Fleiss' kappa"): 10 subjects, 14 raters, 5 categories;
    # P-bar = 0.378, P_e = 0.2128, kappa = 0.210.
    table = np.array(
        [
            [0, 0, 0, 0, 14],
            [0, 2, 6, 4, 2],
            [0, 0, 3, 5, 6],
            [0, 3, 9, 2, 0],
            [2, 2, 8, 1, 1],
            [7, 7, 0, 0, 0],
            [3, 2, 6, 3, 0],
            [2, 5, 3, 2, 2],
            [6, 5, 2, 1, 0],
            [0, 2, 2, 3, 7],
        ]
    )
    p_bar, p_e = 0.37802197802197807, 0.21275510204081635  # recomputed from the table just below
    assert p_bar == pytest.approx(sum((r * (r - 1)).sum() / (14 * 13) for r in table) / 10)
    assert p_e == pytest.approx(sum((c / 140) ** 2 for c in table.sum(axis=0)))
    assert fleiss_kappa(table) == pytest.approx((p_bar - p_e) / (1 - p_e))
    assert fleiss_kappa(table) == pytest.approx(0.2099, abs=1e-4)


def test_fleiss_kappa_edge_cases():
    assert fleiss_kappa(np.array([[3, 0], [0, 3]])) == pytest.approx(1.0)  # perfect agreement
    assert math.isnan(fleiss_kappa(np.array([[3, 0], [3, 0]])))  # one category only: undefined
    with pytest.raises(ValueError):
        fleiss_kappa(np.array([[2, 0], [1, 0]]))  # unequal numbers of raters


def test_cohen_kappa_on_the_worked_example_and_against_an_independent_implementation():
    # Cohen's worked example (Wikipedia, "Cohen's kappa"): 50 items, yes/yes 20, yes/no 5, no/yes 10, no/no 15;
    # p_o = 0.7, p_e = 0.5, kappa = 0.4.
    a = [5] * 20 + [5] * 5 + [1] * 10 + [1] * 15
    b = [5] * 20 + [1] * 5 + [5] * 10 + [1] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    from sklearn import metrics

    rng = np.random.default_rng(1)
    for _ in range(5):
        x, y = rng.integers(1, 6, 30).tolist(), rng.integers(1, 6, 30).tolist()
        assert cohen_kappa(x, y) == pytest.approx(metrics.cohen_kappa_score(x, y))


def test_auc_counts_pairs_with_ties_as_half():
    positive, negative = [5, 4, 3], [1, 3, 4, 2]
    wins = sum((p > q) + 0.5 * (p == q) for p in positive for q in negative)
    assert auc(positive, negative) == pytest.approx(wins / 12)


# -- the statistics of a hand-made study -------------------------------------------------------------
def test_single_design_by_hand(tmp_path):
    key = {f"s{i}": {"model": "m", "task": "t", "condition": "present", "kind": "synthetic"} for i in range(4)}
    key |= {f"r{i}": {"model": REAL, "task": "t", "condition": "present", "kind": "real"} for i in range(4)}
    study = write_study(tmp_path, "single", key)
    # reader a: synthetic 5,4,2,3 (2 right, 1 fooled, 1 cannot tell); real 1,2,4,1 (3 right, 1 wrong)
    # reader b: synthetic 5,5,5,1; real 2,2,2,2
    responses = {"a": [5, 4, 2, 3, 1, 2, 4, 1], "b": [5, 5, 5, 1, 2, 2, 2, 2]}
    items = [f"s{i}" for i in range(4)] + [f"r{i}" for i in range(4)]
    answers = [Answer(r, item, x, None, 1.0) for r, xs in responses.items() for item, x in zip(items, xs)]
    result = {(e.measure, e.reader): e for e in study_statistics(study, answers).estimates}
    # a: TP 2, FN 1, TN 3, FP 1 -> accuracy 5/7; b: TP 3, FN 1, TN 4 -> 7/8; pooled 12/15
    for reader, k, n in (("a", 5, 7), ("b", 7, 8), ("", 12, 15)):
        e = result[("accuracy", reader)]
        assert (e.k, e.n, e.value) == (k, n, pytest.approx(k / n))
        assert (e.ci_low, e.ci_high) == pytest.approx(hand_wilson(k, n))
        assert result[("p_value", reader)].value == pytest.approx(stats.binomtest(k, n).pvalue)
    assert result[("sensitivity", "")].value == pytest.approx(5 / 7)  # TP 5 of decided synthetic 7
    assert result[("specificity", "")].value == pytest.approx(7 / 8)
    assert result[("fooled", "")].value == pytest.approx(2 / 8)  # judged real / all synthetic answers
    assert result[("undecided", "a")].value == pytest.approx(1 / 8)
    # AUC of reader a: synthetic [5,4,2,3] against real [1,2,4,1]
    wins = sum((p > q) + 0.5 * (p == q) for p in [5, 4, 2, 3] for q in [1, 2, 4, 1])
    assert result[("auc", "a")].value == pytest.approx(wins / 16)
    # Agreement over the 8 items both readers answered, counted by hand per category 1..5.
    table = np.array([[sum(responses[r][i] == c for r in "ab") for c in range(1, 6)] for i in range(8)])
    assert result[("fleiss_kappa", "")].value == pytest.approx(fleiss_kappa(table))
    assert result[("cohen_kappa", "a-b")].value == pytest.approx(cohen_kappa(responses["a"], responses["b"]))
    # Two raters: Fleiss' kappa and Cohen's kappa differ only in how chance is estimated; both by hand here.
    p_o = sum(x == y for x, y in zip(responses["a"], responses["b"])) / 8  # 2 of 8
    marg_a = [responses["a"].count(c) / 8 for c in range(1, 6)]
    marg_b = [responses["b"].count(c) / 8 for c in range(1, 6)]
    assert result[("cohen_kappa", "a-b")].value == pytest.approx(
        (p_o - sum(x * y for x, y in zip(marg_a, marg_b))) / (1 - sum(x * y for x, y in zip(marg_a, marg_b)))
    )
    pooled = [(x + y) / 2 for x, y in zip(marg_a, marg_b)]  # both raters together
    assert result[("fleiss_kappa", "")].value == pytest.approx(
        (p_o - sum(p * p for p in pooled)) / (1 - sum(p * p for p in pooled))
    )


def test_paired_design_by_hand(tmp_path):
    sides = ["right", "left", "right", "left", "right"]
    key = {
        f"p{i}": {"model": "m", "task": "t", "condition": "absent", "synthetic_side": s, "real": f"test:{i}"}
        for i, s in enumerate(sides)
    }
    study = write_study(tmp_path, "paired", key)
    # right picks are 4-5, left picks 1-2: p0 right (correct), p1 right (wrong), p2 cannot tell,
    # p3 left (correct), p4 left (wrong)
    answers = [
        Answer("a", "p0", 5, "soft_tissue", 2.0),
        Answer("a", "p1", 4, "other", 2.0),
        Answer("a", "p2", 3, None, 2.0),
        Answer("a", "p3", 1, "soft_tissue", 2.0),
        Answer("a", "p4", 2, "bone_structure", 2.0),
    ]
    statistics = study_statistics(study, answers)
    result = {(e.measure, e.reader): e for e in statistics.estimates}
    assert (result[("accuracy", "")].k, result[("accuracy", "")].n) == (2, 4)
    assert result[("fooled", "")].value == pytest.approx(2 / 5)
    assert result[("reason.soft_tissue", "")].value == pytest.approx(2 / 5)  # both correct picks cite it
    assert result[("reason.bone_structure", "")].value == 0  # cited only by a wrong pick
    # AUC: responses of pairs with the synthetic image right [5, 3, 2] against left [4, 1]
    assert result[("auc", "")].value == pytest.approx(
        sum((p > q) + 0.5 * (p == q) for p in [5, 3, 2] for q in [4, 1]) / 6
    )
    counts = {r["reason"]: r["count"] for r in statistics.reasons if r["reader"] == ""}
    assert counts == {"soft_tissue": 2, "bone_structure": 1, "external_devices": 0, "image_artifacts": 0, "other": 1}


def test_finding_design_agreement_and_auc(tmp_path):
    key = {
        f"{c}{i}": {"model": "m", "task": "t", "condition": c, "kind": "synthetic"}
        for c in ("present", "absent")
        for i in range(3)
    }
    study = write_study(tmp_path, "finding", key)
    responses = {"present0": 5, "present1": 4, "present2": 1, "absent0": 1, "absent1": 3, "absent2": 2}
    estimates = study_statistics(study, [Answer("a", i, x, None, 1.0) for i, x in responses.items()]).estimates
    result = {(e.measure, e.condition, e.reader): e for e in estimates}
    assert result[("agreement", "present", "")].value == pytest.approx(2 / 3)
    assert result[("agreement", "absent", "")].value == pytest.approx(2 / 2)
    assert result[("auc", "both", "")].value == pytest.approx(
        sum((p > q) + 0.5 * (p == q) for p in [5, 4, 1] for q in [1, 3, 2]) / 9
    )


def test_rank_correlation_across_models(tmp_path):
    from cxrbench.reader_study.design import Design
    from cxrbench.reader_study.statistics import Estimate
    from cxrbench.results import ResultRow

    accuracy = {"m1": 0.9, "m2": 0.7, "m3": 0.6, "m4": 0.55}
    fd = {"m1": 40.0, "m2": 10.0, "m3": 12.0, "m4": 3.0}
    estimates = [Estimate("accuracy", m, "t", "present", "", v) for m, v in accuracy.items()]
    rows = [
        ResultRow(m, "t", "present", "cxr_fd", v, None, None, 5, 5, "lower", "x", "d", 0, "0") for m, v in fd.items()
    ]
    (found,) = rank_correlations(estimates, rows, Design.SINGLE)
    expected = stats.spearmanr([0.9, 0.7, 0.6, 0.55], [40, 10, 12, 3])
    assert found.rho == pytest.approx(expected.statistic) and found.rho == pytest.approx(0.8)  # 1 - 6*2/(4*15)
    assert found.metric == "cxr_fd" and found.reader_metric == "reader.single.accuracy"
    assert rank_correlations(estimates[:2], rows, Design.SINGLE) == []  # two models are too few


def test_reader_metric_declarations():
    pooled = reader_schema("reader.paired.accuracy")
    one = reader_schema("reader.paired.accuracy.r2")
    pair = reader_schema("reader.single.cohen_kappa.r1-r2")
    assert pooled["direction"] == "lower" and one["direction"] == "lower" and "(r2)" in one["display_name"]
    assert pair["display_name"].endswith("(r1-r2)")
    assert reader_schema("reader.finding.agreement")["direction"] == "higher"
    assert reader_schema("reader.paired.reason.soft_tissue.r1")["direction"] == "lower"
    assert reader_schema("reader.nonsense") is None and reader_schema("fid") is None


@pytest.mark.parametrize("weights", ["nominal", "linear", "quadratic"])
def test_weighted_kappa_equals_scikit_learn(weights):
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(7)
    for _ in range(10):
        x = rng.integers(1, 6, 25)
        y = np.clip(x + rng.integers(-2, 3, 25), 1, 5)
        expected = cohen_kappa_score(x, y, weights=None if weights == "nominal" else weights, labels=[1, 2, 3, 4, 5])
        assert cohen_kappa(x.tolist(), y.tolist(), weights) == pytest.approx(expected, abs=1e-12)


def test_kappa_bootstrap_intervals_equal_a_loop_over_the_same_resamples():
    from cxrbench.reader_study.agreement import BOOTSTRAP, cohen_kappa_interval, fleiss_kappa_interval

    rng = np.random.default_rng(2)
    x = rng.integers(1, 6, 30)
    y = np.clip(x + rng.integers(-1, 2, 30), 1, 5)
    picks = np.random.default_rng(11).integers(0, 30, size=(BOOTSTRAP, 30))  # what the seed 11 draws
    loop = [cohen_kappa(x[p].tolist(), y[p].tolist(), "quadratic") for p in picks]
    low, high = cohen_kappa_interval(x.tolist(), y.tolist(), "quadratic", seed=11)
    assert (low, high) == pytest.approx(tuple(np.quantile([v for v in loop if not math.isnan(v)], [0.025, 0.975])))
    assert low < cohen_kappa(x.tolist(), y.tolist(), "quadratic") < high
    counts = rng.multinomial(3, [0.4, 0.3, 0.1, 0.1, 0.1], size=20)
    picks = np.random.default_rng(5).integers(0, 20, size=(BOOTSTRAP, 20))
    loop = [fleiss_kappa(counts[p]) for p in picks]
    assert fleiss_kappa_interval(counts, seed=5) == pytest.approx(
        tuple(np.quantile([v for v in loop if not math.isnan(v)], [0.025, 0.975]))
    )


def test_the_measure_declarations_name_every_design_and_only_those():
    from cxrbench.metrics.reader_measures import PREFIX, READER_MEASURES
    from cxrbench.reader_study.design import Design

    assert {name[len(PREFIX) :].split(".")[0] for name in READER_MEASURES} == {d.value for d in Design}
