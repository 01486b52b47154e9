"""The MRMC (ORH) analyses of a cxrbench reader study: which ratings make each treatment's figure of merit.

Treatments are the study's models; cases are the study's items; readers are random. Per design:

- single ("real or synthetic?", 5 = definitely synthetic): a model's figure is the AUC of telling its
  synthetic images (positives) from the real images (negatives) of the same task and condition;
  the real images are read under every model, so they are shared between treatments.
- paired ("which is synthetic?", 5 = definitely right): the AUC of the answers for pairs with the
  synthetic image on the right (positives) against on the left; each pair belongs to one model.
- finding ("is FINDING present?"): per task (condition "both"), the AUC of the answers for the
  intended-present images against the intended-absent ones, and the sensitivity to the intended
  finding (share of intended-present images answered 4 or 5); real images are a treatment too.

Each task x condition cell is analysed on its own, and once pooled over the study's cells (that
analysis is reported, not written as rows). Only items answered by every reader of the cell enter
(the OR model needs every reader to read every case); the rest are counted as left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from cxrbench.reader_study.design import NEUTRAL, REAL, Design, ReaderStudyError
from cxrbench.reader_study.mrmc import OrAnalysis, or_analysis
from cxrbench.reader_study.mrmc_data import AUC, FigureOfMerit, Ratings, sensitivity
from cxrbench.reader_study.store import AnswerStore
from cxrbench.reader_study.study import Study

ALL = "all"  # task and condition of the pooled analysis
FINDING_SENSITIVITY = sensitivity(NEUTRAL + 1)  # "probably yes" or "definitely yes"


@dataclass(frozen=True)
class CellAnalysis:
    """One figure of merit's ORH analysis of one cell (or of the pooled study); ``analysis`` None with ``note``."""

    task: str
    condition: str
    fom: str
    lower_is_better: bool  # for the generator: realism figures lower, finding figures higher
    analysis: OrAnalysis | None
    n_cases: int = 0  # items that entered
    n_real: int = 0  # real images among them
    left_out: int = 0  # items not answered by every reader of the cell
    note: str = ""

    @property
    def pooled(self) -> bool:
        return self.task == ALL


def _records(design: Design, judgments) -> list[tuple]:
    """(treatment, reader, case, truth, rating, task, condition) for every judgment that enters the analysis."""
    real = [j for j in judgments if j.truth["model"] == REAL]
    out = []
    for j in judgments:
        model, task, condition = j.truth["model"], j.truth["task"], j.truth["condition"]
        if design is Design.SINGLE:
            if model == REAL:
                continue
            out.append((model, j.reader, j.item, 1, j.response, task, condition))
        elif design is Design.PAIRED:
            out.append(
                (model, j.reader, j.item, int(j.truth["synthetic_side"] == "right"), j.response, task, condition)
            )
        else:
            out.append((model, j.reader, j.item, int(condition == "present"), j.response, task, "both"))
    if design is Design.SINGLE:  # each real image is a negative case under every model of its cell
        models: dict[tuple[str, str], set[str]] = {}
        for r in out:
            models.setdefault((r[5], r[6]), set()).add(r[0])
        for j in real:
            for model in sorted(models.get((j.truth["task"], j.truth["condition"]), ())):
                out.append((model, j.reader, j.item, 0, j.response, j.truth["task"], j.truth["condition"]))
    return out


def _analyse(
    records: list[tuple], task: str, condition: str, fom: FigureOfMerit, lower: bool, real_items: set[str]
) -> CellAnalysis:
    readers = sorted({r[1] for r in records})
    answered: dict[str, set[str]] = {}
    for r in records:
        answered.setdefault(r[2], set()).add(r[1])
    complete = {item for item, who in answered.items() if len(who) == len(readers)}
    kept = [r for r in records if r[2] in complete]
    left_out = len(answered) - len(complete)
    base = dict(
        task=task,
        condition=condition,
        fom=fom.name,
        lower_is_better=lower,
        n_cases=len(complete),
        n_real=len(complete & real_items),
        left_out=left_out,
    )
    if len(readers) < 2:
        return CellAnalysis(analysis=None, note="needs 2 or more readers (readers and cases random)", **base)
    try:
        analysis = or_analysis(Ratings.from_records([r[:5] for r in kept]), fom)
    except ReaderStudyError as error:
        return CellAnalysis(analysis=None, note=str(error), **base)
    return CellAnalysis(analysis=analysis, **base)


def study_analyses(design: Design, judgments) -> list[CellAnalysis]:
    """Every cell's analyses and the pooled ones, for each figure of merit of the design."""
    records = _records(design, judgments)
    real_items = {j.item for j in judgments if j.truth["model"] == REAL or j.truth.get("kind") == "real"}
    if design is Design.PAIRED:  # a pair holds a real image: count pairs with their real source
        real_items = {j.item for j in judgments}
    figures = [(AUC, False), (FINDING_SENSITIVITY, False)] if design is Design.FINDING else [(AUC, True)]
    out = []
    for fom, lower in figures:
        for task, condition in sorted({(r[5], r[6]) for r in records}):
            mine = [r for r in records if (r[5], r[6]) == (task, condition)]
            out.append(_analyse(mine, task, condition, fom, lower, real_items))
        if len({(r[5], r[6]) for r in records}) > 1:
            out.append(_analyse(records, ALL, ALL, fom, lower, real_items))
    return out


def study_pilot(root) -> OrAnalysis:
    """A finished study's own AUC analysis (all cells pooled, or its one cell), to plan the next study."""
    study = Study(root)
    answers = AnswerStore(study.answers_path).answers()
    if not answers:
        raise ReaderStudyError(f"{root} has no answers yet; a pilot needs its readers' answers")
    analyses = [a for a in study_analyses(study.design, study.judgments(answers)) if a.fom == AUC.name]
    chosen = next((a for a in analyses if a.pooled), analyses[0] if analyses else None)
    if chosen is None or chosen.analysis is None:
        raise ReaderStudyError(f"{root}: no MRMC analysis is possible ({chosen.note if chosen else 'no answers'})")
    return chosen.analysis
