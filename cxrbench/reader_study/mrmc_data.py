"""Multi-reader multi-case ratings, their figures of merit and the covariance of those figures.

A rating set holds, for every (treatment, reader) group, the ratings of the cases that group read;
each case is diseased (truth 1, a positive) or not (0). Treatments are crossed with readers (every
reader reads under every treatment); cases may be crossed with both (the factorial design), nested
within readers or treatments, or shared by some groups only (cxrbench's single design: real images
are read under every model, each model's synthetic images under that model only).

Covariances of the figures of merit over cases, as in MRMCaov (Smith & Hillis):

- jackknife: leave each case of the whole study out in turn, recompute every group's figure;
  cov = (K - 1) / K * sum_k (theta_k - mean)(theta'_k - mean'), K the cases the figure uses.
- DeLong (empirical AUC, factorial designs only): structural components per positive and per
  negative case, cov = S10 / m + S01 / n (DeLong, DeLong & Clarke-Pearson 1988).

Covariances between groups that share no case are zero by design (MRMCaov zeroes them for nested
designs).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from cxrbench.reader_study.design import ReaderStudyError


@dataclass(frozen=True)
class Group:
    """One treatment x reader group: the indices (into ``Ratings.cases``) of the cases it read and their ratings."""

    treatment: str
    reader: str
    cases: np.ndarray  # int [n]
    truth: np.ndarray  # int [n], 0 or 1
    rating: np.ndarray  # float [n], higher = more likely positive


@dataclass(frozen=True)
class Ratings:
    """A multi-reader multi-case study's ratings; groups in (treatment, reader) order."""

    treatments: tuple[str, ...]
    readers: tuple[str, ...]
    cases: tuple[str, ...]
    truth: np.ndarray  # int [K]
    groups: tuple[Group, ...]

    @classmethod
    def from_records(cls, records) -> "Ratings":
        """From (treatment, reader, case, truth, rating) records, one per rating.

        Refuses (ReaderStudyError) a case with two truths, a reader x treatment x case rated twice, a
        reader missing under some treatment, or a group without both positive and negative cases.
        """
        truth: dict[str, int] = {}
        table: dict[tuple[str, str], dict[str, float]] = {}
        for treatment, reader, case, label, rating in records:
            treatment, reader, case, label = str(treatment), str(reader), str(case), int(label)
            if label not in (0, 1):
                raise ReaderStudyError(f"case {case!r} has truth {label}; truth must be 0 (negative) or 1 (positive)")
            if truth.setdefault(case, label) != label:
                raise ReaderStudyError(f"case {case!r} is given both truths 0 and 1; each case has one truth")
            ratings = table.setdefault((treatment, reader), {})
            if case in ratings:
                raise ReaderStudyError(
                    f"reader {reader!r} rated case {case!r} twice under {treatment!r}; "
                    "keep one rating per reader, treatment and case"
                )
            ratings[case] = float(rating)
        if not table:
            raise ReaderStudyError("no ratings; an MRMC analysis needs at least one reader rating cases")
        treatments = tuple(sorted({t for t, _ in table}, key=_natural))
        readers = tuple(sorted({r for _, r in table}, key=_natural))
        missing = [f"{r} under {t}" for t in treatments for r in readers if (t, r) not in table]
        if missing:
            raise ReaderStudyError(f"every reader must read under every treatment; missing: {', '.join(missing[:5])}")
        cases = tuple(sorted(truth, key=_natural))
        index = {case: i for i, case in enumerate(cases)}
        labels = np.array([truth[c] for c in cases], dtype=int)
        groups = []
        for t in treatments:
            for r in readers:
                read = sorted(table[(t, r)], key=lambda c: index[c])
                idx = np.array([index[c] for c in read], dtype=int)
                group = Group(t, r, idx, labels[idx], np.array([table[(t, r)][c] for c in read]))
                if group.truth.min() == group.truth.max():
                    kind = "positive" if group.truth[0] else "negative"
                    raise ReaderStudyError(
                        f"reader {r!r} under {t!r} read only {kind} cases; each reader needs "
                        "positive and negative cases per treatment"
                    )
                groups.append(group)
        return cls(treatments, readers, cases, labels, tuple(groups))

    def group(self, treatment: str, reader: str) -> Group:
        return self.groups[self.treatments.index(treatment) * len(self.readers) + self.readers.index(reader)]

    def subset(self, treatments: tuple[str, ...]) -> "Ratings":
        """The same study restricted to ``treatments`` (cases none of them read are dropped)."""
        kept = [g for g in self.groups if g.treatment in treatments]
        used = np.unique(np.concatenate([g.cases for g in kept]))
        new_index = -np.ones(len(self.cases), dtype=int)
        new_index[used] = np.arange(len(used))
        return Ratings(
            tuple(t for t in self.treatments if t in treatments),
            self.readers,
            tuple(self.cases[i] for i in used),
            self.truth[used],
            tuple(Group(g.treatment, g.reader, new_index[g.cases], g.truth, g.rating) for g in kept),
        )

    @cached_property
    def factorial(self) -> bool:
        """Every group read every case."""
        return all(len(g.cases) == len(self.cases) for g in self.groups)


def _natural(text: str):
    """Sort key: numbers by value, then text ("2" before "10")."""
    try:
        return 0, float(text), text
    except ValueError:
        return 1, 0.0, text


# -- figures of merit ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class FigureOfMerit:
    """A reader performance figure computed from one group's truth and ratings, in [0, 1].

    name: short id; uses: the truth classes whose cases enter it (sensitivity uses positives only,
    so only those cases are jackknifed, as in MRMCaov); threshold: the rating from which a case
    counts as called positive (sensitivity, specificity).
    """

    name: str
    uses: tuple[int, ...] = (0, 1)
    threshold: float | None = None

    def value(self, truth: np.ndarray, rating: np.ndarray) -> float:
        if self.name == "auc":
            return float(_kernel(truth, rating).mean())
        called, own = self._calls(truth, rating)
        return float(called[own].mean())

    def with_leave_one_out(self, truth: np.ndarray, rating: np.ndarray) -> tuple[float, np.ndarray]:
        """The figure, and the figure with each case of the group left out in turn (float [n]; a case
        the figure does not use leaves it unchanged). Closed forms: no refit per case."""
        if self.name == "auc":  # from the kernel's row (positive) and column (negative) sums
            psi = _kernel(truth, rating)
            m, n = psi.shape
            total = psi.sum()
            out = np.empty(len(truth))
            out[truth == 1] = (total - psi.sum(axis=1)) / ((m - 1) * n) if m > 1 else np.nan
            out[truth == 0] = (total - psi.sum(axis=0)) / (m * (n - 1)) if n > 1 else np.nan
            return float(total / (m * n)), out
        called, own = self._calls(truth, rating)
        mine = called[own]
        n, total = len(mine), mine.sum()
        out = np.full(len(truth), total / n)
        out[own] = (total - mine) / (n - 1) if n > 1 else np.nan
        return float(total / n), out

    def _calls(self, truth: np.ndarray, rating: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each case called the way the figure counts (1.0 or 0.0), and which cases it counts."""
        if self.name == "sensitivity":
            return (rating >= self.threshold).astype(float), truth == 1
        return (rating < self.threshold).astype(float), truth == 0


AUC = FigureOfMerit("auc")


def sensitivity(threshold: float) -> FigureOfMerit:
    """Share of positive cases rated ``threshold`` or higher."""
    return FigureOfMerit("sensitivity", uses=(1,), threshold=threshold)


def specificity(threshold: float) -> FigureOfMerit:
    """Share of negative cases rated below ``threshold``."""
    return FigureOfMerit("specificity", uses=(0,), threshold=threshold)


def _kernel(truth: np.ndarray, rating: np.ndarray) -> np.ndarray:
    """psi[i, j] = 1 if positive i outrates negative j, 1/2 on a tie, 0 otherwise (float [m, n])."""
    positive, negative = rating[truth == 1], rating[truth == 0]
    return (positive[:, None] > negative[None, :]) + 0.5 * (positive[:, None] == negative[None, :])


def figures(data: Ratings, fom: FigureOfMerit) -> np.ndarray:
    """Each group's figure of merit, float [treatments, readers]."""
    values = [fom.value(g.truth, g.rating) for g in data.groups]
    return np.array(values).reshape(len(data.treatments), len(data.readers))


# -- covariances ---------------------------------------------------------------------------------------
def jackknife_covariance(data: Ratings, fom: FigureOfMerit) -> np.ndarray:
    """Jackknife covariance of the groups' figures over cases, float [G, G] (G groups in data order)."""
    used = np.isin(data.truth, fom.uses)
    k = int(used.sum())
    theta = np.empty((len(data.cases), len(data.groups)))
    for col, g in enumerate(data.groups):
        whole, left_out = fom.with_leave_one_out(g.truth, g.rating)
        theta[:, col] = whole  # a case the group did not read leaves it unchanged
        theta[g.cases, col] = left_out
    if np.isnan(theta[used]).any():
        raise ReaderStudyError(f"the jackknife of {fom.name} needs at least 2 cases of each class it uses per group")
    centred = theta[used] - theta[used].mean(axis=0)
    return _zero_unshared(data, (k - 1) / k * centred.T @ centred)


def delong_covariance(data: Ratings) -> np.ndarray:
    """DeLong covariance of the groups' empirical AUCs, float [G, G]; factorial designs only."""
    if not data.factorial:
        raise ReaderStudyError(
            "DeLong covariances need every reader to rate every case under every treatment; "
            "use the jackknife (--cov jackknife) for this design"
        )
    v10, v01 = [], []
    for g in data.groups:
        psi = _kernel(g.truth, g.rating)
        v10.append(psi.mean(axis=1))  # per positive case, in case order (every group has the same cases)
        v01.append(psi.mean(axis=0))
    v10, v01 = np.array(v10), np.array(v01)
    return np.cov(v10) / v10.shape[1] + np.cov(v01) / v01.shape[1]


def _zero_unshared(data: Ratings, cov: np.ndarray) -> np.ndarray:
    member = np.zeros((len(data.groups), len(data.cases)), dtype=bool)
    for i, g in enumerate(data.groups):
        member[i, g.cases] = True
    shared = (member.astype(int) @ member.T.astype(int)) > 0
    return np.where(shared, cov, 0.0)
