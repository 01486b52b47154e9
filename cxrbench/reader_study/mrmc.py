"""Obuchowski-Rockette analysis with Hillis' degrees of freedom (ORH) of a multi-reader multi-case study.

The model (Obuchowski & Rockette 1995; Hillis 2007, 2008; Hillis et al. 2005):
theta_tr = mu + tau_t + R_r + (tau R)_tr + e_tr, readers random, with the error covariances
Var (same treatment and reader), Cov1 (other treatment, same reader), Cov2 (same treatment, other
reader) and Cov3 (both other), estimated over cases by the jackknife or DeLong
(``mrmc_data.py``). The formulas follow MRMCaov (Smith & Hillis), whose VanDyke output the tests
reproduce:

- RRRC (random readers and cases): F = MS(T) / [MS(T:R) + J max(Cov2 - Cov3, 0)], denominator
  df (Hillis) = den^2 / (MS(T:R)^2 / ((T-1)(J-1))); a difference's SE = sqrt(2 den / J); one
  treatment's SE = sqrt(MS(R)_t / J + max(Cov2_t, 0)) with df (MS(R)_t + J max(Cov2_t, 0))^2 /
  (MS(R)_t^2 / (J-1)).
- FRRC (readers fixed): chi-square = (T-1) MS(T) / [Var - Cov1 + (J-1)(Cov2 - Cov3)], normal
  intervals; per reader, a difference's SE = sqrt(2 (Var_r - Cov1_r)).
- RRFC (cases fixed): F = MS(T) / MS(T:R) on (T-1, (T-1)(J-1)) df; one treatment's SE = sqrt(MS(R)_t / J).
- Variance components: VarR = (MS(R) - MS(T:R)) / T - Cov1 + Cov3, VarTR = MS(T:R) - Var + Cov1 +
  Cov2 - Cov3.

Intervals of a single treatment (or reader) are clipped to [0, 1], as MRMCaov does; intervals of
differences are not.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from cxrbench.reader_study.design import ReaderStudyError
from cxrbench.reader_study.mrmc_data import (
    AUC,
    FigureOfMerit,
    Ratings,
    delong_covariance,
    figures,
    jackknife_covariance,
)

COVARIANCES = ("jackknife", "delong")
ANALYSES = ("RRRC", "FRRC", "RRFC")


@dataclass(frozen=True)
class Components:
    """The OR variance components and error covariances (and the mean squares behind them)."""

    var_r: float
    var_tr: float
    var: float
    cov1: float
    cov2: float
    cov3: float
    ms_t: float
    ms_r: float
    ms_tr: float


@dataclass(frozen=True)
class Estimate:
    """A figure (one treatment, one reader, or a difference ``A - B``) with its interval and test against 0.

    df None: a normal (z) interval; statistic / p: t or z test of the difference against 0 (None for a
    treatment's own figure).
    """

    label: str
    value: float
    stderr: float
    df: float | None
    ci_low: float
    ci_high: float
    statistic: float | None = None
    p_value: float | None = None


@dataclass(frozen=True)
class GlobalTest:
    """The test that all treatments have the same reader-averaged figure: F (RRRC, RRFC) or chi-square (FRRC)."""

    kind: str  # "F" or "chi2"
    statistic: float
    ndf: float
    ddf: float | None
    p_value: float
    denominator: float


@dataclass(frozen=True)
class Inference:
    analysis: str  # RRRC, FRRC or RRFC
    test: GlobalTest | None  # None with one treatment
    differences: list[Estimate]  # each pair of treatments, A - B in treatment order
    treatments: list[Estimate]  # each treatment's reader-averaged figure
    reader_differences: list[Estimate] = field(default_factory=list)  # FRRC: per reader, label "READER: A - B"
    readers: list[Estimate] = field(default_factory=list)  # FRRC: each reader x treatment figure


@dataclass(frozen=True)
class OrAnalysis:
    fom: str
    covariance: str
    treatments: tuple[str, ...]
    readers: tuple[str, ...]
    n_cases: int
    figures: np.ndarray  # float [T, J]
    components: Components
    inferences: dict[str, Inference]  # by analysis; RRRC and RRFC need 2 or more readers
    alpha: float = 0.05

    def difference(self, analysis: str, a: str, b: str) -> Estimate | None:
        """The ``a - b`` difference (sign flipped if stored as ``b - a``)."""
        inference = self.inferences.get(analysis)
        for d in inference.differences if inference else []:
            if d.label == f"{a} - {b}":
                return d
            if d.label == f"{b} - {a}":
                return Estimate(
                    f"{a} - {b}",
                    -d.value,
                    d.stderr,
                    d.df,
                    -d.ci_high,
                    -d.ci_low,
                    None if d.statistic is None else -d.statistic,
                    d.p_value,
                )
        return None


def or_analysis(
    data: Ratings, fom: FigureOfMerit = AUC, covariance: str = "jackknife", alpha: float = 0.05
) -> OrAnalysis:
    """The full ORH analysis (RRRC, FRRC, RRFC) of ``data`` for one figure of merit."""
    if covariance not in COVARIANCES:
        raise ReaderStudyError(f"unknown covariance method {covariance!r}; choose one of {', '.join(COVARIANCES)}")
    if covariance == "delong" and fom.name != "auc":
        raise ReaderStudyError(f"DeLong covariances exist for the empirical AUC only; use the jackknife for {fom.name}")
    theta = figures(data, fom)
    cov = jackknife_covariance(data, fom) if covariance == "jackknife" else delong_covariance(data)
    n_t, n_r = theta.shape
    comps = _components(theta, cov)
    per_treatment = [_treatment_covariances(cov, t, n_r) for t in range(n_t)]
    inferences = {"FRRC": _frrc(data, theta, cov, comps, per_treatment, alpha)}
    if n_r >= 2:
        inferences["RRRC"] = _rrrc(data, theta, comps, per_treatment, alpha)
        inferences["RRFC"] = _rrfc(data, theta, comps, alpha)
    used = int(np.isin(data.truth, fom.uses).sum())
    return OrAnalysis(fom.name, covariance, data.treatments, data.readers, used, theta, comps, inferences, alpha)


def _components(theta: np.ndarray, cov: np.ndarray) -> Components:
    n_t, n_r = theta.shape
    t_idx = np.repeat(np.arange(n_t), n_r)
    r_idx = np.tile(np.arange(n_r), n_t)
    same_t = t_idx[:, None] == t_idx[None, :]
    same_r = r_idx[:, None] == r_idx[None, :]
    mean = lambda mask: float(cov[mask].mean()) if mask.any() else 0.0  # noqa: E731
    var = float(np.diag(cov).mean())
    cov1, cov2, cov3 = mean(~same_t & same_r), mean(same_t & ~same_r), mean(~same_t & ~same_r)
    grand = theta.mean()
    ms_t = n_r * ((theta.mean(axis=1) - grand) ** 2).sum() / (n_t - 1) if n_t > 1 else math.nan
    ms_r = n_t * ((theta.mean(axis=0) - grand) ** 2).sum() / (n_r - 1) if n_r > 1 else math.nan
    resid = theta - theta.mean(axis=1, keepdims=True) - theta.mean(axis=0, keepdims=True) + grand
    ms_tr = (resid**2).sum() / ((n_t - 1) * (n_r - 1)) if n_t > 1 and n_r > 1 else math.nan
    var_r = (ms_r - ms_tr) / n_t - cov1 + cov3 if n_t > 1 else ms_r - var + cov2
    var_tr = ms_tr - var + cov1 + cov2 - cov3
    return Components(var_r, var_tr, var, cov1, cov2, cov3, ms_t, ms_r, ms_tr)


def _treatment_covariances(cov: np.ndarray, t: int, n_r: int) -> tuple[float, float]:
    """(Var_t, Cov2_t): the mean error variance and the mean covariance of two readers under treatment t."""
    block = cov[t * n_r : (t + 1) * n_r, t * n_r : (t + 1) * n_r]
    off = ~np.eye(n_r, dtype=bool)
    return float(np.diag(block).mean()), float(block[off].mean()) if n_r > 1 else 0.0


def _interval(
    label: str, value: float, stderr: float, df: float | None, alpha: float, clip: bool, test: bool
) -> Estimate:
    quantile = stats.norm.ppf(1 - alpha / 2) if df is None else stats.t.ppf(1 - alpha / 2, df)
    low, high = value - quantile * stderr, value + quantile * stderr
    if clip:
        low, high = max(low, 0.0), min(high, 1.0)
    statistic = p = None
    if test:
        statistic = value / stderr if stderr > 0 else math.copysign(math.inf, value) if value else math.nan
        tail = stats.norm.sf(abs(statistic)) if df is None else stats.t.sf(abs(statistic), df)
        p = float(2 * tail) if not math.isnan(statistic) else math.nan
    return Estimate(
        label,
        float(value),
        float(stderr),
        None if df is None else float(df),
        float(low),
        float(high),
        None if statistic is None else float(statistic),
        p,
    )


def _pairs(treatments: tuple[str, ...]):
    return list(itertools.combinations(range(len(treatments)), 2))


def _hillis_df(numerator: float, ms: float, df_ms: float) -> float:
    """Satterthwaite-type df of Hillis: numerator^2 / (ms^2 / df_ms); infinite when ms is 0."""
    return math.inf if ms == 0 else numerator**2 / (ms**2 / df_ms)


def _rrrc(data: Ratings, theta, comps: Components, per_treatment, alpha) -> Inference:
    n_t, n_r = theta.shape
    means = theta.mean(axis=1)
    test, differences = None, []
    if n_t > 1:
        den = comps.ms_tr + n_r * max(comps.cov2 - comps.cov3, 0.0)
        ddf = _hillis_df(den, comps.ms_tr, (n_t - 1) * (n_r - 1))
        f = comps.ms_t / den if den > 0 else math.nan
        test = GlobalTest("F", f, n_t - 1, ddf, _f_sf(f, n_t - 1, ddf), den)
        se = math.sqrt(2 * den / n_r)
        differences = [
            _interval(
                f"{data.treatments[a]} - {data.treatments[b]}",
                means[a] - means[b],
                se,
                ddf,
                alpha,
                clip=False,
                test=True,
            )
            for a, b in _pairs(data.treatments)
        ]
    treatments = []
    for t in range(n_t):
        ms_r_t = ((theta[t] - means[t]) ** 2).sum() / (n_r - 1)
        cov2_t = max(per_treatment[t][1], 0.0)
        df = _hillis_df(ms_r_t + n_r * cov2_t, ms_r_t, n_r - 1)
        treatments.append(
            _interval(data.treatments[t], means[t], math.sqrt(ms_r_t / n_r + cov2_t), df, alpha, clip=True, test=False)
        )
    return Inference("RRRC", test, differences, treatments)


def _frrc(data: Ratings, theta, cov, comps: Components, per_treatment, alpha) -> Inference:
    n_t, n_r = theta.shape
    means = theta.mean(axis=1)
    test, differences, reader_differences = None, [], []
    if n_t > 1:
        den = comps.var - comps.cov1 + (n_r - 1) * (comps.cov2 - comps.cov3)
        chi2 = (n_t - 1) * comps.ms_t / den if den > 0 else math.nan
        test = GlobalTest(
            "chi2", chi2, n_t - 1, None, float(stats.chi2.sf(chi2, n_t - 1)) if not math.isnan(chi2) else math.nan, den
        )
        se = math.sqrt(2 * den / n_r) if den > 0 else math.nan
        differences = [
            _interval(
                f"{data.treatments[a]} - {data.treatments[b]}",
                means[a] - means[b],
                se,
                None,
                alpha,
                clip=False,
                test=True,
            )
            for a, b in _pairs(data.treatments)
        ]
        for r, reader in enumerate(data.readers):
            idx = np.arange(n_t) * n_r + r  # this reader's groups
            block = cov[np.ix_(idx, idx)]
            var_r = float(np.diag(block).mean())
            cov1_r = float(block[~np.eye(n_t, dtype=bool)].mean())
            se_r = math.sqrt(max(2 * (var_r - cov1_r), 0.0))
            reader_differences += [
                _interval(
                    f"{reader}: {data.treatments[a]} - {data.treatments[b]}",
                    theta[a, r] - theta[b, r],
                    se_r,
                    None,
                    alpha,
                    clip=False,
                    test=True,
                )
                for a, b in _pairs(data.treatments)
            ]
    treatments = [
        _interval(
            data.treatments[t],
            means[t],
            math.sqrt((per_treatment[t][0] + (n_r - 1) * max(per_treatment[t][1], 0.0)) / n_r),
            None,
            alpha,
            clip=True,
            test=False,
        )
        for t in range(n_t)
    ]
    readers = [
        _interval(
            f"{data.readers[r]}: {data.treatments[t]}",
            theta[t, r],
            math.sqrt(cov[t * n_r + r, t * n_r + r]),
            None,
            alpha,
            clip=True,
            test=False,
        )
        for t in range(n_t)
        for r in range(n_r)
    ]
    return Inference("FRRC", test, differences, treatments, reader_differences, readers)


def _rrfc(data: Ratings, theta, comps: Components, alpha) -> Inference:
    n_t, n_r = theta.shape
    means = theta.mean(axis=1)
    test, differences = None, []
    if n_t > 1:
        ddf = (n_t - 1) * (n_r - 1)
        f = comps.ms_t / comps.ms_tr if comps.ms_tr > 0 else math.nan
        test = GlobalTest("F", f, n_t - 1, ddf, _f_sf(f, n_t - 1, ddf), comps.ms_tr)
        se = math.sqrt(2 * comps.ms_tr / n_r)
        differences = [
            _interval(
                f"{data.treatments[a]} - {data.treatments[b]}",
                means[a] - means[b],
                se,
                ddf,
                alpha,
                clip=False,
                test=True,
            )
            for a, b in _pairs(data.treatments)
        ]
    treatments = [
        _interval(
            data.treatments[t],
            means[t],
            math.sqrt(((theta[t] - means[t]) ** 2).sum() / (n_r - 1) / n_r),
            n_r - 1,
            alpha,
            clip=True,
            test=False,
        )
        for t in range(n_t)
    ]
    return Inference("RRFC", test, differences, treatments)


def _f_sf(f: float, ndf: float, ddf: float) -> float:
    if math.isnan(f):
        return math.nan
    if math.isinf(ddf):
        return float(stats.chi2.sf(f * ndf, ndf))
    return float(stats.f.sf(f, ndf, ddf))
