"""How many readers and cases a reader study needs: power of the ORH tests from pilot variance components.

Hillis, Obuchowski & Berbaum (2011), "Power estimation for multireader ROC methods: an updated and
unified approach" (Acad Radiol 18:129-142), as implemented by RJafroc's ``SsPowerGivenJK`` /
``SsSampleSizeKGivenJ``: the pilot's error covariances scale with K*/K (K* pilot cases, K planned
cases), and for a difference d between two treatments read by J readers

- RRRC: den = max(VarTR, 0) + K*/K (Var - Cov1 + (J-1) max(Cov2 - Cov3, 0)),
  ddf = den^2 / ([max(VarTR, 0) + K*/K (Var - Cov1 - max(Cov2 - Cov3, 0))]^2 / (J-1));
- FRRC: den = K*/K (Var - Cov1 + (J-1) max(Cov2 - Cov3, 0)), ddf = K - 1;
- RRFC: den = max(VarTR, 0) + K*/K (Var - Cov1 - max(Cov2 - Cov3, 0)), ddf = J - 1;

noncentrality J d^2 / (2 den), power = P(F(1, ddf; noncentrality) > F_crit(1 - alpha; 1, ddf)).
"""

from __future__ import annotations

from dataclasses import dataclass

from scipy import stats

from cxrbench.names import split_names
from cxrbench.reader_study.design import ReaderStudyError
from cxrbench.reader_study.mrmc import OrAnalysis

MAX_CASES = 2000  # RJafroc's search limit


@dataclass(frozen=True)
class Pilot:
    """The variance components of a pilot study (or of a finished study, to plan the next one)."""

    n_cases: int  # K*: the pilot's cases that enter the figure of merit
    var_tr: float
    var: float
    cov1: float
    cov2: float
    cov3: float
    effect: float | None = None  # the pilot's observed difference of two treatments, if it had two

    @classmethod
    def parse(cls, text: str) -> "Pilot":
        """From ``cases=K,var_tr=...,var=...,cov1=...,cov2=...,cov3=...`` (published components)."""
        names = ("cases", "var_tr", "var", "cov1", "cov2", "cov3")
        try:
            given = {key.strip(): float(value) for key, value in (part.split("=") for part in split_names(text))}
        except ValueError:
            given = {}
        if sorted(given) != sorted(names):
            raise ReaderStudyError(
                f"--components needs exactly {', '.join(f'{n}=NUMBER' for n in names)}, "
                f"separated by commas; got {text!r}"
            )
        return cls(int(given["cases"]), given["var_tr"], given["var"], given["cov1"], given["cov2"], given["cov3"])

    @classmethod
    def from_analysis(cls, analysis: OrAnalysis) -> "Pilot":
        c = analysis.components
        effect = None
        if len(analysis.treatments) == 2:
            effect = float(analysis.figures[0].mean() - analysis.figures[1].mean())
        return cls(analysis.n_cases, c.var_tr, c.var, c.cov1, c.cov2, c.cov3, effect)


def power(pilot: Pilot, readers: int, cases: int, effect: float, analysis: str = "RRRC", alpha: float = 0.05) -> float:
    """The power to detect a difference ``effect`` between two treatments with ``readers`` x ``cases``."""
    if readers < 2 or cases < 2:
        raise ReaderStudyError("power needs at least 2 readers and 2 cases")
    scale = pilot.n_cases / cases
    cov_diff = max(pilot.cov2 - pilot.cov3, 0.0)
    var_tr = max(pilot.var_tr, 0.0)
    if analysis == "RRRC":
        den = var_tr + scale * (pilot.var - pilot.cov1 + (readers - 1) * cov_diff)
        ddf = den**2 / ((var_tr + scale * (pilot.var - pilot.cov1 - cov_diff)) ** 2 / (readers - 1))
    elif analysis == "FRRC":
        den = scale * (pilot.var - pilot.cov1 + (readers - 1) * cov_diff)
        ddf = cases - 1
    elif analysis == "RRFC":
        den = var_tr + scale * (pilot.var - pilot.cov1 - cov_diff)
        ddf = readers - 1
    else:
        raise ReaderStudyError(f"unknown analysis {analysis!r}; choose RRRC, FRRC or RRFC")
    if den <= 0:
        raise ReaderStudyError(
            "the pilot's variance components give no error variance; the pilot is too small "
            "or its readers agree perfectly"
        )
    noncentrality = effect**2 * readers / 2 / den
    critical = stats.f.ppf(1 - alpha, 1, ddf)
    return float(stats.ncf.sf(critical, 1, ddf, noncentrality))


def cases_needed(
    pilot: Pilot, readers: int, effect: float, target: float = 0.8, analysis: str = "RRRC", alpha: float = 0.05
) -> tuple[int, float] | None:
    """The fewest cases (2..2000) whose power reaches ``target``, with that power; None if none does."""
    for cases in range(2, MAX_CASES + 1):
        achieved = power(pilot, readers, cases, effect, analysis, alpha)
        if achieved >= target:
            return cases, achieved
    return None
