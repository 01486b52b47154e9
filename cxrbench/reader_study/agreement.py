"""Agreement of readers on the five-point scale: Cohen's kappa (nominal, linear or quadratic weights),
Fleiss' kappa, and bootstrap intervals over cases.

Weighted kappa (Cohen 1968): kappa_w = 1 - sum(w O) / sum(w E), O the observed and E the chance
(product of margins) joint distribution of the two readers' categories, w_ij = |i - j| / (k - 1)
(linear) or ((i - j) / (k - 1))^2 (quadratic), nominal w_ij = [i != j]; the same as scikit-learn's
``cohen_kappa_score(weights=...)``. Fleiss' kappa (1971) compares the agreement of all readers'
pairs of answers per case with the agreement the pooled category shares give by chance.

Intervals: percentile bootstrap over cases (every reader's answers to a case move together),
``BOOTSTRAP`` resamples from a given seed; resamples where kappa is undefined (one category only)
are left out.
"""

from __future__ import annotations

import numpy as np

from cxrbench.reader_study.design import SCALE

WEIGHTS = ("nominal", "linear", "quadratic")
BOOTSTRAP = 2000
CONFIDENCE = 0.95


def _weights(k: int, weights: str) -> np.ndarray:
    i, j = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    if weights == "nominal":
        return (i != j).astype(float)
    if weights == "linear":
        return np.abs(i - j) / (k - 1)
    if weights == "quadratic":
        return ((i - j) / (k - 1)) ** 2
    raise ValueError(f"unknown kappa weights {weights!r}; choose one of {', '.join(WEIGHTS)}")


def _codes(answers, categories: tuple[int, ...]) -> np.ndarray:
    index = {c: i for i, c in enumerate(categories)}
    return np.array([index[a] for a in answers], dtype=int)


def _cohen_from_tables(tables: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Kappa of each joint-count table [B, k, k] (NaN where chance disagreement is 0)."""
    observed = tables / tables.sum(axis=(1, 2), keepdims=True)
    expected = observed.sum(axis=2)[:, :, None] * observed.sum(axis=1)[:, None, :]
    chance = (w * expected).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(chance > 0, 1 - (w * observed).sum(axis=(1, 2)) / chance, np.nan)


def cohen_kappa(a, b, weights: str = "nominal", categories: tuple[int, ...] = SCALE) -> float:
    """Cohen's kappa of two readers' answers to the same cases (NaN when chance agreement is total)."""
    if len(a) != len(b) or not len(a):
        raise ValueError("Cohen's kappa needs the same items, at least one, rated by both raters")
    k = len(categories)
    table = np.zeros((1, k, k))
    np.add.at(table[0], (_codes(a, categories), _codes(b, categories)), 1)
    return float(_cohen_from_tables(table, _weights(k, weights))[0])


def _fleiss_from_counts(counts: np.ndarray) -> np.ndarray:
    """Fleiss' kappa of each count table [B, items, categories] (every item with the same number of raters)."""
    n = counts.sum(axis=2)[:, :1]  # raters per item
    agreement = ((counts * (counts - 1)).sum(axis=2) / (n * (n - 1))).mean(axis=1)
    shares = counts.sum(axis=1) / counts.sum(axis=(1, 2))[:, None]
    chance = (shares**2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(chance < 1, (agreement - chance) / (1 - chance), np.nan)


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa of a table [items, categories] of how many raters chose each category.

    Every item needs the same number of raters (at least 2). NaN when chance agreement is 1
    (every rater used one category), where kappa is undefined.
    """
    counts = np.asarray(counts, dtype=float)
    raters = counts.sum(axis=1)
    if counts.shape[0] == 0 or np.any(raters != raters[0]) or raters[0] < 2:
        raise ValueError("Fleiss' kappa needs items rated by the same number (2 or more) of raters")
    return float(_fleiss_from_counts(counts[None])[0])


def _percentile(values: np.ndarray) -> tuple[float, float] | tuple[None, None]:
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return None, None
    low, high = np.quantile(values, [(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2])
    return float(low), float(high)


def cohen_kappa_interval(
    a, b, weights: str, seed: int, categories: tuple[int, ...] = SCALE, resamples: int = BOOTSTRAP
) -> tuple[float | None, float | None]:
    """Percentile bootstrap interval of Cohen's kappa over the shared cases."""
    k, n = len(categories), len(a)
    codes = _codes(a, categories) * k + _codes(b, categories)
    picks = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    flat = (np.arange(resamples)[:, None] * k * k + codes[picks]).ravel()
    tables = np.bincount(flat, minlength=resamples * k * k).reshape(resamples, k, k).astype(float)
    return _percentile(_cohen_from_tables(tables, _weights(k, weights)))


def fleiss_kappa_interval(
    counts: np.ndarray, seed: int, resamples: int = BOOTSTRAP
) -> tuple[float | None, float | None]:
    """Percentile bootstrap interval of Fleiss' kappa over items (rows of ``counts``)."""
    counts = np.asarray(counts, dtype=float)
    picks = np.random.default_rng(seed).integers(0, len(counts), size=(resamples, len(counts)))
    return _percentile(_fleiss_from_counts(counts[picks]))
