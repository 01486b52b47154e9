"""Reader statistics per model x task x condition, per reader and pooled.

Definitions (decisions as in ``design.py``; "cannot tell" answers are not decisions):

- accuracy: correct decisions / decisions (single: synthetic called synthetic, real called real,
  the cell's synthetic items together with the real items of the same task and condition;
  paired: the synthetic image picked). Wilson 95% interval; ``p_value``: two-sided exact
  binomial test against 0.5 (pooled over readers it assumes independent answers, which overstates
  the evidence: the MRMC rows below treat readers and cases as random).
- sensitivity / specificity (single): synthetic called synthetic / decided synthetic items;
  real called real / decided real items.
- auc: Mann-Whitney AUC of the five-point responses (single: synthetic vs real items; paired:
  pairs with the synthetic image right vs left; finding: present vs absent images, condition
  "both"); ties count one half.
- fooled: the synthetic image judged real (single) or the real image picked (paired), over all
  answers to the cell's synthetic items (cannot-tell included).
- undecided: share of "cannot tell" answers.
- agreement (finding): decisions that match the intended condition / decisions.
- reason.CATEGORY (paired): correct decisions citing that reason / all answers: how often the
  cue gave the synthetic image away.
- fleiss_kappa / cohen_kappa (nominal) / cohen_kappa_linear / cohen_kappa_quadratic: agreement of
  the readers' five-point responses, on the cell's items answered by all readers of the cell
  (Fleiss) or by both readers of a pair (Cohen); percentile bootstrap intervals over items
  (``agreement.py``).
- orh_auc (every design) and orh_sensitivity (finding: "probably yes" or "definitely yes" on the
  intended finding's images), each with _diff and _p: the Obuchowski-Rockette-Hillis analysis of the
  cell (``study_mrmc.py``, ``mrmc.py``): each model's reader-averaged figure with its random-reader
  random-case interval, its difference from the best competitor in the cell with that interval, and
  the difference's p-value.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from cxrbench.metrics.reader_measures import REASONS
from cxrbench.reader_study.agreement import (
    WEIGHTS,
    cohen_kappa,
    cohen_kappa_interval,
    fleiss_kappa,
    fleiss_kappa_interval,
)
from cxrbench.reader_study.design import REAL, SCALE, Design, decision
from cxrbench.reader_study.store import Answer
from cxrbench.reader_study.study import Judgment, Study
from cxrbench.reader_study.study_mrmc import CellAnalysis, study_analyses
from cxrbench.seeds import derive_seed

BOTH = "both"
CONFIDENCE_LEVEL = 0.95
MIN_MODELS_FOR_CORRELATION = 3


@dataclass(frozen=True)
class Estimate:
    """One reader statistic of one cell.

    reader: "" pooled over readers, a reader id, or "A-B" for a pair (Cohen's kappa); k / n: the
    successes and trials of a proportion (n: the judgments behind any value); n_real: real images
    among the judged items; ci_*: 95% bounds, else None; ci_method: how they were made (wilson,
    bootstrap, orh-rrrc).
    """

    measure: str
    model: str
    task: str
    condition: str
    reader: str
    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    k: int | None = None
    n: int = 0
    n_real: int = 0
    ci_method: str = ""


@dataclass(frozen=True)
class Correlation:
    """Spearman's rank correlation across models between a pooled reader measure and an automated metric."""

    reader_metric: str
    metric: str
    rho: float | None
    p_value: float | None
    models: tuple[str, ...]


@dataclass
class StudyStatistics:
    estimates: list[Estimate]
    reasons: list[dict] = field(default_factory=list)  # raw reason counts of all decided paired answers
    analyses: list[CellAnalysis] = field(default_factory=list)  # the MRMC analyses, per cell and pooled
    correlations: list[Correlation] = field(default_factory=list)


# -- the building blocks, each checked against scipy or a worked example in the tests ------------------
def wilson_interval(k: int, n: int) -> tuple[float, float]:
    """Wilson score 95% interval of the proportion k / n (n >= 1)."""
    interval = stats.binomtest(k, n).proportion_ci(confidence_level=CONFIDENCE_LEVEL, method="wilson")
    return float(interval.low), float(interval.high)


def binomial_p(k: int, n: int) -> float:
    """Two-sided exact binomial test of k successes in n trials against p = 0.5."""
    return float(stats.binomtest(k, n, 0.5, alternative="two-sided").pvalue)


def auc(positive: list[int], negative: list[int]) -> float:
    """P(score of a positive > score of a negative) + 0.5 P(tie): Mann-Whitney U / (n_pos n_neg)."""
    u = stats.mannwhitneyu(positive, negative, alternative="two-sided").statistic
    return float(u) / (len(positive) * len(negative))


# -- the study -----------------------------------------------------------------------------------------
def _proportion(
    measure: str, cell: tuple[str, str, str], reader: str, k: int, n: int, n_real: int, with_test: bool = False
) -> list[Estimate]:
    """The proportion k / n with its Wilson interval (and its binomial test), or nothing when n = 0."""
    if n == 0:
        return []
    low, high = wilson_interval(k, n)
    out = [Estimate(measure, *cell, reader, k / n, low, high, k, n, n_real, "wilson")]
    if with_test:
        out.append(Estimate("p_value", *cell, reader, binomial_p(k, n), k=k, n=n, n_real=n_real))
    return out


def _single(cell, reader, synthetic: list[Judgment], real: list[Judgment]) -> list[Estimate]:
    calls_s = Counter(decision(j.response) for j in synthetic)
    calls_r = Counter(decision(j.response) for j in real)
    tp, fn, tn, fp = calls_s[1], calls_s[-1], calls_r[-1], calls_r[1]
    n_real = len({j.item for j in real})
    out = _proportion("accuracy", cell, reader, tp + tn, tp + fn + tn + fp, n_real, with_test=True)
    out += _proportion("sensitivity", cell, reader, tp, tp + fn, n_real)
    out += _proportion("specificity", cell, reader, tn, tn + fp, n_real)
    out += _proportion("fooled", cell, reader, fn, len(synthetic), n_real)
    out += _proportion("undecided", cell, reader, calls_s[0] + calls_r[0], len(synthetic) + len(real), n_real)
    if synthetic and real:
        out.append(
            Estimate(
                "auc",
                *cell,
                reader,
                auc([j.response for j in synthetic], [j.response for j in real]),
                n=len(synthetic) + len(real),
                n_real=n_real,
            )
        )
    return out


def _paired(cell, reader, judgments: list[Judgment]) -> list[Estimate]:
    truth = {j.item: (1 if j.truth["synthetic_side"] == "right" else -1) for j in judgments}
    calls = [decision(j.response) for j in judgments]
    correct = sum(c == truth[j.item] for c, j in zip(calls, judgments))
    wrong = sum(c == -truth[j.item] for c, j in zip(calls, judgments))
    n_real = len({j.truth["real"] for j in judgments})
    out = _proportion("accuracy", cell, reader, correct, correct + wrong, n_real, with_test=True)
    out += _proportion("fooled", cell, reader, wrong, len(judgments), n_real)
    out += _proportion("undecided", cell, reader, calls.count(0), len(judgments), n_real)
    right = [j.response for j in judgments if truth[j.item] == 1]
    left = [j.response for j in judgments if truth[j.item] == -1]
    if right and left:
        out.append(Estimate("auc", *cell, reader, auc(right, left), n=len(judgments), n_real=n_real))
    for reason in REASONS:
        cited = sum(c == truth[j.item] and j.reason == reason for c, j in zip(calls, judgments))
        out += _proportion(f"reason.{reason}", cell, reader, cited, len(judgments), n_real)
    return out


def _finding(cell, reader, judgments: list[Judgment]) -> list[Estimate]:
    wanted = 1 if cell[2] == "present" else -1
    calls = [decision(j.response) for j in judgments]
    n_real = len({j.item for j in judgments}) if cell[0] == REAL else 0
    out = _proportion(
        "agreement", cell, reader, calls.count(wanted), calls.count(1) + calls.count(-1), n_real, with_test=True
    )
    out += _proportion("undecided", cell, reader, calls.count(0), len(judgments), n_real)
    return out


def _agreement(cell, judgments: list[Judgment], n_real: int, seed: int) -> list[Estimate]:
    """Fleiss' kappa over the cell's readers and Cohen's kappa (nominal, linear, quadratic) of every pair of
    them, each with a bootstrap interval over items seeded by the study seed and the cell."""
    by_reader: dict[str, dict[str, int]] = {}
    for j in judgments:
        by_reader.setdefault(j.reader, {})[j.item] = j.response
    readers = sorted(by_reader)
    out = []
    if len(readers) < 2:
        return out
    common = sorted(set.intersection(*(set(answers) for answers in by_reader.values())))
    if common:
        counts = np.array([[sum(by_reader[r][item] == c for r in readers) for c in SCALE] for item in common])
        value = fleiss_kappa(counts)
        if not math.isnan(value):
            low, high = fleiss_kappa_interval(counts, derive_seed(seed, "fleiss", *cell))
            out.append(
                Estimate(
                    "fleiss_kappa",
                    *cell,
                    "",
                    value,
                    low,
                    high,
                    n=len(common) * len(readers),
                    n_real=n_real,
                    ci_method="bootstrap",
                )
            )
    for a, b in itertools.combinations(readers, 2):
        shared = sorted(set(by_reader[a]) & set(by_reader[b]))
        if not shared:
            continue
        first, second = [by_reader[a][i] for i in shared], [by_reader[b][i] for i in shared]
        for weights in WEIGHTS:
            value = cohen_kappa(first, second, weights)
            if math.isnan(value):
                continue
            low, high = cohen_kappa_interval(first, second, weights, derive_seed(seed, "cohen", weights, a, b, *cell))
            measure = "cohen_kappa" if weights == "nominal" else f"cohen_kappa_{weights}"
            out.append(
                Estimate(
                    measure,
                    *cell,
                    f"{a}-{b}",
                    value,
                    low,
                    high,
                    n=2 * len(shared),
                    n_real=n_real,
                    ci_method="bootstrap",
                )
            )
    return out


def study_statistics(
    study: Study, answers: list[Answer], references: frozenset[str] = frozenset({REAL})
) -> StudyStatistics:
    """Every statistic of the study's answers (answers to items not in the key are ignored).

    ``references``: models that are never "the best model" of the MRMC comparisons (real images and
    the run's reference baselines)."""
    judgments = study.judgments(answers)
    cells: dict[tuple[str, str, str], list[Judgment]] = {}
    for j in judgments:
        cells.setdefault((j.truth["model"], j.truth["task"], j.truth["condition"]), []).append(j)
    readers = sorted({j.reader for j in judgments})
    design = study.design
    estimates: list[Estimate] = []
    for cell in sorted(cells):
        model, task, condition = cell
        if design is Design.SINGLE and model == REAL:
            continue  # real items are scored inside each model's cell
        cell_judgments = cells[cell] + (cells.get((REAL, task, condition), []) if design is Design.SINGLE else [])
        for reader in ["", *readers]:
            mine = [j for j in cells[cell] if not reader or j.reader == reader]
            if design is Design.SINGLE:
                real = [j for j in cells.get((REAL, task, condition), []) if not reader or j.reader == reader]
                estimates += _single(cell, reader, mine, real)
            elif design is Design.PAIRED:
                estimates += _paired(cell, reader, mine)
            else:
                estimates += _finding(cell, reader, mine)
        n_real = len({j.item for j in cell_judgments if j.truth.get("kind") == "real"}) or len(
            {j.truth["real"] for j in cell_judgments if "real" in j.truth}
        )
        estimates += _agreement(cell, cell_judgments, n_real, study.seed)
    if design is Design.FINDING:
        estimates += _finding_auc(cells, readers)
    analyses = study_analyses(design, judgments)
    estimates += [e for analysis in analyses if not analysis.pooled for e in _mrmc_estimates(analysis, references)]
    return StudyStatistics(estimates, _reason_counts(cells, readers) if design is Design.PAIRED else [], analyses)


def _mrmc_estimates(cell: CellAnalysis, references: frozenset[str]) -> list[Estimate]:
    """A cell's ORH results as estimates: each model's reader-averaged figure with its RRRC interval, and
    its difference from the best competitor with that interval and p-value (none without 2 readers)."""
    rrrc = cell.analysis.inferences.get("RRRC") if cell.analysis else None
    if rrrc is None:
        return []
    n = cell.n_cases * len(cell.analysis.readers)
    out = [
        Estimate(
            f"orh_{cell.fom}",
            t.label,
            cell.task,
            cell.condition,
            "",
            t.value,
            t.ci_low,
            t.ci_high,
            n=n,
            n_real=cell.n_real,
            ci_method="orh-rrrc",
        )
        for t in rrrc.treatments
    ]
    competitors = [t for t in rrrc.treatments if t.label not in references]
    if not competitors:
        return out
    pick = min if cell.lower_is_better else max
    best = pick(competitors, key=lambda t: t.value).label
    for t in rrrc.treatments:
        if t.label == best:
            continue
        d = cell.analysis.difference("RRRC", t.label, best)
        out.append(
            Estimate(
                f"orh_{cell.fom}_diff",
                t.label,
                cell.task,
                cell.condition,
                "",
                d.value,
                d.ci_low,
                d.ci_high,
                n=n,
                n_real=cell.n_real,
                ci_method="orh-rrrc",
            )
        )
        out.append(
            Estimate(f"orh_{cell.fom}_p", t.label, cell.task, cell.condition, "", d.p_value, n=n, n_real=cell.n_real)
        )
    return [e for e in out if not math.isnan(e.value)]  # no p-value where the difference and its error are both 0


def _finding_auc(cells: dict, readers: list[str]) -> list[Estimate]:
    """Finding design: AUC of the responses, present against absent images, per model and task."""
    out = []
    for model, task in sorted({(m, t) for m, t, _ in cells}):
        for reader in ["", *readers]:
            present = [j.response for j in cells.get((model, task, "present"), []) if not reader or j.reader == reader]
            absent = [j.response for j in cells.get((model, task, "absent"), []) if not reader or j.reader == reader]
            if present and absent:
                n_real = (
                    len({j.item for c in ("present", "absent") for j in cells.get((model, task, c), [])})
                    if model == REAL
                    else 0
                )
                out.append(
                    Estimate(
                        "auc",
                        model,
                        task,
                        BOTH,
                        reader,
                        auc(present, absent),
                        n=len(present) + len(absent),
                        n_real=n_real,
                    )
                )
    return out


def _reason_counts(cells: dict, readers: list[str]) -> list[dict]:
    """How often each reason was given among the decided answers of each cell (correct or not)."""
    out = []
    for cell in sorted(cells):
        for reader in ["", *readers]:
            decided = [j for j in cells[cell] if decision(j.response) != 0 and (not reader or j.reader == reader)]
            counts = Counter(j.reason or "not given" for j in decided)
            for reason in [*REASONS, "not given"]:
                if decided and (counts[reason] or reason != "not given"):
                    out.append(
                        {
                            "model": cell[0],
                            "task": cell[1],
                            "condition": cell[2],
                            "reader": reader,
                            "reason": reason,
                            "count": counts[reason],
                            "of": len(decided),
                        }
                    )
    return out


def rank_correlations(estimates: list[Estimate], metric_rows: list, design: Design) -> list[Correlation]:
    """Spearman's rho across models between each pooled reader measure and each automated metric.

    Each model contributes the mean of the reader measure over its study cells and the mean of the
    metric over the same (task, condition) cells; ``metric_rows`` are ResultRows of the run (reader
    rows and unavailable rows are skipped). Pairs with fewer than 3 models are left out.
    """
    reader_cells: dict[tuple[str, str], dict[str, dict]] = {}
    for e in estimates:
        if not e.reader and e.model != REAL:
            reader_cells.setdefault((e.measure, e.model), {})[(e.task, e.condition)] = e.value
    metric_cells: dict[tuple[str, str], dict] = {}
    for row in metric_rows:
        if row.status == "ok" and row.value is not None and not row.metric.startswith("reader."):
            metric_cells.setdefault((row.metric, row.model), {})[(row.task, row.condition)] = row.value
    out = []
    measures = sorted({m for m, _ in reader_cells})
    metrics = sorted({m for m, _ in metric_cells})
    for measure in measures:
        for metric in metrics:
            pairs = {}
            for (name, model), cells in reader_cells.items():
                if name != measure or (metric, model) not in metric_cells:
                    continue
                shared = sorted(set(cells) & set(metric_cells[(metric, model)]))
                if shared:
                    pairs[model] = (
                        np.mean([cells[c] for c in shared]),
                        np.mean([metric_cells[(metric, model)][c] for c in shared]),
                    )
            if len(pairs) < MIN_MODELS_FOR_CORRELATION:
                continue
            models = tuple(sorted(pairs))
            x, y = [pairs[m][0] for m in models], [pairs[m][1] for m in models]
            if len(set(x)) < 2 or len(set(y)) < 2:  # a constant side has no ranking
                out.append(Correlation(f"reader.{design.value}.{measure}", metric, None, None, models))
                continue
            result = stats.spearmanr(x, y)
            out.append(
                Correlation(
                    f"reader.{design.value}.{measure}", metric, float(result.statistic), float(result.pvalue), models
                )
            )
    return out
