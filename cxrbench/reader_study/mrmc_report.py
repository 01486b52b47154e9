"""An ORH analysis as Markdown (for ``cxrbench reader-study mrmc`` and a study's statistics.md) and as JSON."""

from __future__ import annotations

import math
from dataclasses import asdict

from cxrbench.reader_study.mrmc import Estimate, OrAnalysis

QUESTIONS = {
    "RRRC": "random readers and random cases: would other readers, reading other cases, see the difference?",
    "FRRC": "these readers fixed, cases random: would these readers see it on other cases?",
    "RRFC": "readers random, these cases fixed: would other readers see it on these cases?",
}


def fmt(value: float | None) -> str:
    """Seven significant digits, as the reference programs print; '' for None."""
    if value is None:
        return ""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return str(value)
    return f"{value:.7g}"


def _estimate_rows(estimates: list[Estimate], with_test: bool) -> list[str]:
    head = "| | estimate | SE | df | 95% CI |" + (" t or z | p |" if with_test else "")
    rule = "|---|---|---|---|---|" + ("---|---|" if with_test else "")
    lines = [head, rule]
    for e in estimates:
        line = (
            f"| {e.label} | {fmt(e.value)} | {fmt(e.stderr)} | {'normal' if e.df is None else fmt(e.df)} "
            f"| [{fmt(e.ci_low)}, {fmt(e.ci_high)}] |"
        )
        if with_test:
            line += f" {fmt(e.statistic)} | {fmt(e.p_value)} |"
        lines.append(line)
    return lines


def analysis_markdown(analysis: OrAnalysis, level: int = 2) -> str:
    """The analysis written out: figures per reader, variance components, then RRRC, FRRC and RRFC."""
    h = "#" * level
    c = analysis.components
    lines = [
        f"{analysis.fom} per reader and treatment ({analysis.covariance} covariances; "
        f"{len(analysis.treatments)} treatments x {len(analysis.readers)} readers, {analysis.n_cases} cases):",
        "",
        "| treatment | " + " | ".join(analysis.readers) + " | mean |",
        "|---|" + "---|" * (len(analysis.readers) + 1),
    ]
    for t, row in zip(analysis.treatments, analysis.figures):
        lines.append(f"| {t} | " + " | ".join(fmt(float(v)) for v in row) + f" | {fmt(float(row.mean()))} |")
    correlation = (lambda v: fmt(v / c.var)) if c.var > 0 else (lambda v: "")
    lines += [
        "",
        "Obuchowski-Rockette variance components and error covariances:",
        "",
        "| component | estimate | correlation |",
        "|---|---|---|",
        f"| VarR (readers) | {fmt(c.var_r)} | |",
        f"| VarTR (treatment x reader) | {fmt(c.var_tr)} | |",
        f"| Var (error) | {fmt(c.var)} | |",
        f"| Cov1 (other treatment, same reader) | {fmt(c.cov1)} | {correlation(c.cov1)} |",
        f"| Cov2 (same treatment, other reader) | {fmt(c.cov2)} | {correlation(c.cov2)} |",
        f"| Cov3 (both other) | {fmt(c.cov3)} | {correlation(c.cov3)} |",
        "",
        f"Mean squares: MS(T) {fmt(c.ms_t)}, MS(R) {fmt(c.ms_r)}, MS(T:R) {fmt(c.ms_tr)}.",
    ]
    for name in ("RRRC", "FRRC", "RRFC"):
        inference = analysis.inferences.get(name)
        lines += ["", f"{h} {name}: {QUESTIONS[name]}", ""]
        if inference is None:
            lines.append("Needs 2 or more readers.")
            continue
        test = inference.test
        if test is not None:
            ddf = "" if test.ddf is None else f", {fmt(test.ddf)}"
            lines += [
                f"Global test of equal treatments: {test.kind}({fmt(test.ndf)}{ddf}) = {fmt(test.statistic)}, "
                f"p = {fmt(test.p_value)}.",
                "",
                "Differences:",
                "",
            ]
            lines += _estimate_rows(inference.differences, with_test=True)
            lines.append("")
        lines += ["Each treatment (its own data only):", ""] + _estimate_rows(inference.treatments, with_test=False)
        if inference.reader_differences:
            lines += ["", "Each reader's differences:", ""] + _estimate_rows(inference.reader_differences, True)
        if inference.readers:
            lines += ["", "Each reader and treatment:", ""] + _estimate_rows(inference.readers, False)
    return "\n".join(lines) + "\n"


def analysis_dict(analysis: OrAnalysis) -> dict:
    """Everything in the analysis, JSON-ready."""
    data = asdict(analysis)
    data["figures"] = analysis.figures.tolist()
    return data
