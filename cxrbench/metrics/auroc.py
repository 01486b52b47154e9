"""AUROC and operating points from ranks (ties averaged), without scikit-learn."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U / (n_pos n_neg)); NaN when one class is missing."""
    labels = np.asarray(labels).astype(bool)
    n_pos, n_neg = labels.sum(), (~labels).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def youden_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The score threshold maximising sensitivity + specificity - 1 (calls are scores >= threshold)."""
    labels = np.asarray(labels).astype(bool)
    if labels.all() or not labels.any():
        return 0.5
    candidates = np.unique(scores)
    sens = np.array([(scores[labels] >= t).mean() for t in candidates])
    spec = np.array([(scores[~labels] < t).mean() for t in candidates])
    return float(candidates[int(np.argmax(sens + spec))])
