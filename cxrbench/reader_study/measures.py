"""Declarations of the reader measures: display name, description and direction, for the leaderboard.

Row metric names are ``reader.DESIGN.MEASURE`` (pooled over readers), ``reader.DESIGN.MEASURE.READER``
(one reader) and ``reader.DESIGN.cohen_kappa.A-B`` (a pair of readers). Directions are from a
generator's point of view, like every leaderboard column: for realism (single, paired) lower reader
accuracy is better; for the finding design higher agreement with the intended condition is better.
"""

from __future__ import annotations

from dataclasses import dataclass

from cxrbench.reader_study.design import REASONS, Design

PREFIX = "reader."
# Measures with a row per reader (or pair) in results.jsonl; the rest stay pooled there, keeping the
# leaderboard readable (statistics.md has every measure per reader).
PER_READER = frozenset({"accuracy", "agreement", "auc", "fooled", "cohen_kappa"})
HEADLINE = 200  # after the automated metrics; one reader's rows after the pooled ones
PER_READER_HEADLINE = 300


@dataclass(frozen=True)
class ReaderMeasure:
    name: str
    display_name: str
    description: str
    direction: str  # "lower" or "higher" is better for the generator
    per_reader: bool = False  # also one row per reader (or pair) in results.jsonl; all are in statistics.md

    def schema(self, suffix: str = "") -> dict:
        """The declaration the leaderboard reads (the same keys as ``Metric.schema``)."""
        return {"name": self.name + (f".{suffix}" if suffix else ""),
                "display_name": self.display_name + (f" ({suffix})" if suffix else ""),
                "description": self.description + (f" Reader(s) {suffix} only." if suffix else " Pooled over readers."),
                "direction": self.direction, "feature_space": "reader-study", "scope": "condition",
                "uses_real": True, "min_samples": 1, "interval": "wilson",
                "headline": PER_READER_HEADLINE if suffix else HEADLINE}


def _measures() -> dict[str, ReaderMeasure]:
    realism = {
        "accuracy": ("accuracy", "Share of correct real/synthetic decisions (cannot-tell answers left out); "
                     "0.5 is chance.", "lower"),
        "p_value": ("accuracy p", "Two-sided exact binomial test of the accuracy against 0.5; a high p means the "
                    "readers were not shown to beat chance.", "higher"),
        "auc": ("AUC", "Mann-Whitney AUC of the five-point responses for telling synthetic from real; 0.5 is "
                "chance.", "lower"),
        "fooled": ("fooled", "Share of answers that took the synthetic image for the real one.", "higher"),
        "undecided": ("cannot tell", "Share of 'cannot tell' answers.", "higher"),
        "fleiss_kappa": ("Fleiss kappa", "Agreement of all readers on the five-point responses, beyond chance.",
                         "lower"),
        "cohen_kappa": ("Cohen kappa", "Agreement of two readers on the five-point responses, beyond chance.",
                        "lower"),
    }
    per_design = {
        Design.SINGLE: {**realism,
                        "sensitivity": ("sensitivity", "Synthetic images called synthetic / decided synthetic items.",
                                        "lower"),
                        "specificity": ("specificity", "Real images called real / decided real items (the same real "
                                        "images for every model).", "lower")},
        Design.PAIRED: {**realism, **{f"reason.{r}": (f"gave away: {r.replace('_', ' ')}",
                                                      f"Share of pairs where the synthetic image was picked with the "
                                                      f"reason '{r.replace('_', ' ')}'.", "lower") for r in REASONS}},
        Design.FINDING: {
            "agreement": ("finding agreement", "Share of decided answers that match the intended condition "
                          "(present: sensitivity, absent: specificity); 0.5 is chance.", "higher"),
            "p_value": ("agreement p", "Two-sided exact binomial test of the agreement against 0.5.", "lower"),
            "auc": ("finding AUC", "Mann-Whitney AUC of 'is the finding present?' for present against absent "
                    "images.", "higher"),
            "undecided": ("cannot tell", "Share of 'cannot tell' answers.", "lower"),
            "fleiss_kappa": ("Fleiss kappa", "Agreement of all readers on the finding, beyond chance.", "higher"),
            "cohen_kappa": ("Cohen kappa", "Agreement of two readers on the finding, beyond chance.", "higher"),
        },
    }
    out = {}
    for design, measures in per_design.items():
        for measure, (display, description, direction) in measures.items():
            name = f"{PREFIX}{design.value}.{measure}"
            out[name] = ReaderMeasure(name, f"Readers ({design.value}): {display}", description, direction,
                                      per_reader=measure in PER_READER)
    return out


READER_MEASURES: dict[str, ReaderMeasure] = _measures()


def metric_name(design: Design, measure: str, reader: str = "") -> str:
    """The results.jsonl metric name of a measure, pooled (reader "") or for one reader or pair."""
    return f"{PREFIX}{design.value}.{measure}" + (f".{reader}" if reader else "")


def reader_schema(metric: str) -> dict | None:
    """The leaderboard declaration of a ``reader.*`` metric name, or None for any other name."""
    if not metric.startswith(PREFIX):
        return None
    for name in sorted(READER_MEASURES, key=len, reverse=True):  # the longest declared name that fits
        if metric == name:
            return READER_MEASURES[name].schema()
        if metric.startswith(name + "."):
            return READER_MEASURES[name].schema(metric[len(name) + 1:])
    return None
