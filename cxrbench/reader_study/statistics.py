"""Reader statistics per model x task x condition, per reader and pooled.

Definitions (decisions as in ``design.py``; "cannot tell" answers are not decisions):

- accuracy: correct decisions / decisions (single: synthetic called synthetic, real called real,
  the cell's synthetic items together with the real items of the same task and condition;
  paired: the synthetic image picked). Wilson 95% interval; ``p_value``: two-sided exact
  binomial test against 0.5 (pooled over readers it treats judgments as independent).
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
- fleiss_kappa / cohen_kappa: agreement of the readers' five-point responses (nominal), on the
  cell's items answered by all readers of the cell (Fleiss) or by both readers of a pair (Cohen).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from cxrbench.reader_study.design import REAL, REASONS, SCALE, Design, decision
from cxrbench.reader_study.store import Answer
from cxrbench.reader_study.study import Study

BOTH = "both"
CONFIDENCE_LEVEL = 0.95
MIN_MODELS_FOR_CORRELATION = 3


@dataclass(frozen=True)
class Estimate:
    """One reader statistic of one cell.

    reader: "" pooled over readers, a reader id, or "A-B" for a pair (Cohen's kappa); k / n: the
    successes and trials of a proportion (n: the judgments behind any value); n_real: real images
    among the judged items; ci_*: Wilson 95% bounds for proportions, else None.
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


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa of a table [items, categories] of how many raters chose each category.

    Every item needs the same number of raters (at least 2). NaN when chance agreement is 1
    (every rater used one category), where kappa is undefined.
    """
    counts = np.asarray(counts, dtype=float)
    raters = counts.sum(axis=1)
    if counts.shape[0] == 0 or np.any(raters != raters[0]) or raters[0] < 2:
        raise ValueError("Fleiss' kappa needs items rated by the same number (2 or more) of raters")
    n = raters[0]
    agreement = ((counts * (counts - 1)).sum(axis=1) / (n * (n - 1))).mean()
    shares = counts.sum(axis=0) / counts.sum()
    chance = float((shares ** 2).sum())
    return math.nan if chance == 1 else float((agreement - chance) / (1 - chance))


def cohen_kappa(a: list[int], b: list[int], categories: tuple[int, ...] = SCALE) -> float:
    """Cohen's kappa of two raters' paired category choices (NaN when chance agreement is 1)."""
    if len(a) != len(b) or not a:
        raise ValueError("Cohen's kappa needs the same items, at least one, rated by both raters")
    observed = float(np.mean(np.asarray(a) == np.asarray(b)))
    chance = sum((a.count(c) / len(a)) * (b.count(c) / len(b)) for c in categories)
    return math.nan if chance == 1 else (observed - chance) / (1 - chance)


# -- the study -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Judgment:
    reader: str
    item: str
    response: int
    reason: str | None
    truth: dict


def _proportion(measure: str, cell: tuple[str, str, str], reader: str, k: int, n: int, n_real: int,
                with_test: bool = False) -> list[Estimate]:
    """The proportion k / n with its Wilson interval (and its binomial test), or nothing when n = 0."""
    if n == 0:
        return []
    low, high = wilson_interval(k, n)
    out = [Estimate(measure, *cell, reader, k / n, low, high, k, n, n_real)]
    if with_test:
        out.append(Estimate("p_value", *cell, reader, binomial_p(k, n), k=k, n=n, n_real=n_real))
    return out


def _single(cell, reader, synthetic: list[_Judgment], real: list[_Judgment]) -> list[Estimate]:
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
        out.append(Estimate("auc", *cell, reader, auc([j.response for j in synthetic], [j.response for j in real]),
                            n=len(synthetic) + len(real), n_real=n_real))
    return out


def _paired(cell, reader, judgments: list[_Judgment]) -> list[Estimate]:
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


def _finding(cell, reader, judgments: list[_Judgment]) -> list[Estimate]:
    wanted = 1 if cell[2] == "present" else -1
    calls = [decision(j.response) for j in judgments]
    n_real = len({j.item for j in judgments}) if cell[0] == REAL else 0
    out = _proportion("agreement", cell, reader, calls.count(wanted), calls.count(1) + calls.count(-1), n_real,
                      with_test=True)
    out += _proportion("undecided", cell, reader, calls.count(0), len(judgments), n_real)
    return out


def _agreement(cell, judgments: list[_Judgment], n_real: int) -> list[Estimate]:
    """Fleiss' kappa over the cell's readers and Cohen's kappa of every pair of them."""
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
            out.append(Estimate("fleiss_kappa", *cell, "", value, n=len(common) * len(readers), n_real=n_real))
    for a, b in itertools.combinations(readers, 2):
        shared = sorted(set(by_reader[a]) & set(by_reader[b]))
        if shared:
            value = cohen_kappa([by_reader[a][i] for i in shared], [by_reader[b][i] for i in shared])
            if not math.isnan(value):
                out.append(Estimate("cohen_kappa", *cell, f"{a}-{b}", value, n=2 * len(shared), n_real=n_real))
    return out


def study_statistics(study: Study, answers: list[Answer]) -> StudyStatistics:
    """Every statistic of the study's answers (answers to items not in the key are ignored)."""
    judgments = [_Judgment(a.reader, a.item, a.response, a.reason, study.key[a.item])
                 for a in answers if a.item in study.key]
    cells: dict[tuple[str, str, str], list[_Judgment]] = {}
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
        n_real = len({j.item for j in cell_judgments if j.truth.get("kind") == "real"}) or \
            len({j.truth["real"] for j in cell_judgments if "real" in j.truth})
        estimates += _agreement(cell, cell_judgments, n_real)
    if design is Design.FINDING:
        estimates += _finding_auc(cells, readers)
    return StudyStatistics(estimates, _reason_counts(cells, readers) if design is Design.PAIRED else [])


def _finding_auc(cells: dict, readers: list[str]) -> list[Estimate]:
    """Finding design: AUC of the responses, present against absent images, per model and task."""
    out = []
    for model, task in sorted({(m, t) for m, t, _ in cells}):
        for reader in ["", *readers]:
            present = [j.response for j in cells.get((model, task, "present"), []) if not reader or j.reader == reader]
            absent = [j.response for j in cells.get((model, task, "absent"), []) if not reader or j.reader == reader]
            if present and absent:
                n_real = len({j.item for c in ("present", "absent") for j in cells.get((model, task, c), [])}) \
                    if model == REAL else 0
                out.append(Estimate("auc", model, task, BOTH, reader, auc(present, absent),
                                    n=len(present) + len(absent), n_real=n_real))
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
                    out.append({"model": cell[0], "task": cell[1], "condition": cell[2], "reader": reader,
                                "reason": reason, "count": counts[reason], "of": len(decided)})
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
                    pairs[model] = (np.mean([cells[c] for c in shared]),
                                    np.mean([metric_cells[(metric, model)][c] for c in shared]))
            if len(pairs) < MIN_MODELS_FOR_CORRELATION:
                continue
            models = tuple(sorted(pairs))
            x, y = [pairs[m][0] for m in models], [pairs[m][1] for m in models]
            if len(set(x)) < 2 or len(set(y)) < 2:  # a constant side has no ranking
                out.append(Correlation(f"reader.{design.value}.{measure}", metric, None, None, models))
                continue
            result = stats.spearmanr(x, y)
            out.append(Correlation(f"reader.{design.value}.{measure}", metric, float(result.statistic),
                                   float(result.pvalue), models))
    return out
