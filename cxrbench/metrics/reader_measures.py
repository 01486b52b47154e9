"""Declarations of the reader measures: display name, description and direction, for the leaderboard.

Here, beside the other metric declarations, so the leaderboard reads them without importing the
reader-study package (which is above it); the designs are named by the values of
``reader_study.design.Design``, and the paired design's reasons are declared here.

Row metric names are ``reader.DESIGN.MEASURE`` (pooled over readers), ``reader.DESIGN.MEASURE.READER``
(one reader) and ``reader.DESIGN.cohen_kappa.A-B`` (a pair of readers). Directions are from a
generator's point of view, like every leaderboard column: for realism (single, paired) lower reader
accuracy is better; for the finding design higher agreement with the intended condition is better.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "reader."
# Reasons for a non-neutral paired answer, with the key that picks each one in the app.
REASONS: dict[str, str] = {
    "soft_tissue": "s",
    "bone_structure": "b",
    "external_devices": "e",
    "image_artifacts": "a",
    "other": "o",
}
# Measures with a row per reader (or pair) in results.jsonl; the rest stay pooled there, keeping the
# leaderboard readable (statistics.md has every measure per reader).
PER_READER = frozenset({"accuracy", "agreement", "auc", "fooled", "cohen_kappa", "cohen_kappa_quadratic"})


@dataclass(frozen=True)
class ReaderMeasure:
    name: str
    display_name: str
    description: str
    direction: str  # "lower" or "higher" is better for the generator
    per_reader: bool = False  # also one row per reader (or pair) in results.jsonl; all are in statistics.md
    interval: str = "wilson"  # how its rows' intervals are made: wilson, bootstrap, orh-rrrc, or "" (none)

    def schema(self, suffix: str = "") -> dict:
        """The declaration the leaderboard reads (the same keys as ``Metric.schema``)."""
        return {
            "name": self.name + (f".{suffix}" if suffix else ""),
            "display_name": self.display_name + (f" ({suffix})" if suffix else ""),
            "description": self.description + (f" Reader(s) {suffix} only." if suffix else " Pooled over readers."),
            "direction": self.direction,
            "feature_space": "reader-study",
            "scope": "condition",
            "uses_real": True,
            "min_samples": 1,
            "interval": self.interval,
            "family": "reader",  # after the automated metrics (leaderboard/table.py)
            "order": 1 if suffix else 0,  # one reader's rows after the pooled ones
            "default_space": False,  # grouped apart, under the reader-study space
        }


def _measures() -> dict[str, ReaderMeasure]:
    realism = {
        "accuracy": (
            "accuracy",
            "Share of correct real/synthetic decisions (cannot-tell answers left out); 0.5 is chance.",
            "lower",
        ),
        "p_value": (
            "accuracy p (pooled binomial)",
            "Two-sided exact binomial test of the accuracy against 0.5, "
            "pooled over readers: it assumes independent answers, which overstates the evidence when "
            "readers differ (the MRMC rows do not); a high p means the readers were not shown to beat "
            "chance.",
            "higher",
        ),
        "auc": (
            "AUC",
            "Mann-Whitney AUC of the five-point responses for telling synthetic from real; 0.5 is chance.",
            "lower",
        ),
        "fooled": ("fooled", "Share of answers that took the synthetic image for the real one.", "higher"),
        "undecided": ("cannot tell", "Share of 'cannot tell' answers.", "higher"),
        **_kappas("the five-point responses", "lower"),
        **_orh("auc", "AUC of telling the model's images from real ones", "lower"),
    }
    per_design = {
        "single": {
            **realism,
            "sensitivity": ("sensitivity", "Synthetic images called synthetic / decided synthetic items.", "lower"),
            "specificity": (
                "specificity",
                "Real images called real / decided real items (the same real images for every model).",
                "lower",
            ),
        },
        "paired": {
            **realism,
            **{
                f"reason.{r}": (
                    f"gave away: {r.replace('_', ' ')}",
                    f"Share of pairs where the synthetic image was picked with the reason '{r.replace('_', ' ')}'.",
                    "lower",
                )
                for r in REASONS
            },
        },
        "finding": {
            "agreement": (
                "finding agreement",
                "Share of decided answers that match the intended condition "
                "(present: sensitivity, absent: specificity); 0.5 is chance.",
                "higher",
            ),
            "p_value": (
                "agreement p (pooled binomial)",
                "Two-sided exact binomial test of the agreement against "
                "0.5, pooled over readers (assumes independent answers).",
                "lower",
            ),
            "auc": (
                "finding AUC",
                "Mann-Whitney AUC of 'is the finding present?' for present against absent images.",
                "higher",
            ),
            "undecided": ("cannot tell", "Share of 'cannot tell' answers.", "lower"),
            **_kappas("the finding", "higher"),
            **_orh("auc", "finding AUC (intended-present against intended-absent images)", "higher"),
            **_orh("sensitivity", "sensitivity to the intended finding (answers 4-5 on its images)", "higher"),
        },
    }
    out = {}
    for design, measures in per_design.items():
        for measure, (display, description, direction, *interval) in measures.items():
            name = f"{PREFIX}{design}.{measure}"
            out[name] = ReaderMeasure(
                name,
                f"Readers ({design}): {display}",
                description,
                direction,
                per_reader=measure in PER_READER,
                interval=(interval or ["wilson"])[0],
            )
    return out


def _kappas(what: str, direction: str) -> dict[str, tuple]:
    """Fleiss' kappa and the three Cohen's kappas, with bootstrap intervals over items."""
    out = {
        "fleiss_kappa": (
            "Fleiss kappa",
            f"Agreement of all readers on {what}, beyond chance; bootstrap interval over items.",
            direction,
            "bootstrap",
        )
    }
    for weights, display in (
        ("", "Cohen kappa"),
        ("_linear", "Cohen kappa (linear)"),
        ("_quadratic", "Cohen kappa (quadratic)"),
    ):
        kind = weights.strip("_") or "nominal"
        out[f"cohen_kappa{weights}"] = (
            display,
            f"Agreement of two readers on {what} beyond chance, {kind} weights; bootstrap interval over items.",
            direction,
            "bootstrap",
        )
    return out


def _orh(fom: str, what: str, direction: str) -> dict[str, tuple]:
    """The three MRMC (Obuchowski-Rockette-Hillis, random readers and cases) measures of one figure of merit."""
    return {
        f"orh_{fom}": (
            f"MRMC {fom}",
            f"Reader-averaged {what}; 95% interval treating readers and cases as random (ORH).",
            direction,
            "orh-rrrc",
        ),
        f"orh_{fom}_diff": (
            f"MRMC {fom} - best",
            f"The model's reader-averaged {what} minus the best competitor's in the cell; 95% ORH interval.",
            direction,
            "orh-rrrc",
        ),
        f"orh_{fom}_p": (
            f"MRMC {fom} p vs best",
            "ORH p-value (random readers and cases) of the difference from "
            "the best competitor; a low p means the model is shown to differ from the best.",
            "higher",
            "",
        ),
    }


READER_MEASURES: dict[str, ReaderMeasure] = _measures()


def metric_name(design: str, measure: str, reader: str = "") -> str:
    """The results.jsonl metric name of a measure, pooled (reader "") or for one reader or pair."""
    return f"{PREFIX}{getattr(design, 'value', design)}.{measure}" + (f".{reader}" if reader else "")


def reader_schema(metric: str) -> dict | None:
    """The leaderboard declaration of a ``reader.*`` metric name, or None for any other name."""
    if not metric.startswith(PREFIX):
        return None
    for name in sorted(READER_MEASURES, key=len, reverse=True):  # the longest declared name that fits
        if metric == name:
            return READER_MEASURES[name].schema()
        if metric.startswith(name + "."):
            return READER_MEASURES[name].schema(metric[len(name) + 1 :])
    return None
