"""Reader statistics into the run: ResultRows (metric names ``reader.*``) and a report in the study folder.

The rows join the run's ``results.jsonl`` so that the leaderboard shows them beside the automated
metrics. Their setting is the run's (dataset, resolution, seed, and ``n_fake`` = the run's sample-set
size the items were drawn from), so they land in the run's tables; how many judgments and items are
behind each value is in ``comparability``. Importing again replaces the rows of the same design.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from cxrbench import __version__
from cxrbench.leaderboard.text import number
from cxrbench.metrics.reader_measures import READER_MEASURES, metric_name, reader_schema
from cxrbench.reader_study.design import REAL, ReaderStudyError
from cxrbench.reader_study.mrmc_report import analysis_dict, analysis_markdown
from cxrbench.reader_study.statistics import Estimate, StudyStatistics, rank_correlations, study_statistics
from cxrbench.reader_study.store import AnswerStore
from cxrbench.reader_study.study import KEY, STATISTICS_JSON, STATISTICS_MD, Study
from cxrbench.results import OK, ResultRow, read_rows, row_line
from cxrbench.run_dir import RESULTS, RunDirectory, atomic_write_text
from cxrbench.run_lock import run_lock


def study_id(study: Study) -> str:
    """A short fingerprint of the study's answer key (recorded in rows; never served)."""
    return hashlib.sha256((study.root / KEY).read_bytes()).hexdigest()[:12]


def run_references(run_rows: list[ResultRow]) -> frozenset[str]:
    """The models that are references in the study's rows: the run's reference models and real images."""
    return frozenset({r.model for r in run_rows if r.reference} | {REAL})


def reader_rows(study: Study, estimates: list[Estimate], run_rows: list[ResultRow]) -> list[ResultRow]:
    """One ResultRow per pooled estimate and per reader estimate of the ``per_reader`` measures, in the run's
    setting."""
    facts = study.facts
    references = run_references(run_rows)
    identity = study_id(study)
    rows = []
    for e in estimates:
        if e.reader and not READER_MEASURES[metric_name(study.design, e.measure)].per_reader:
            continue
        name = metric_name(study.design, e.measure, e.reader)
        schema = reader_schema(name)
        if schema is None:  # a measure without a declaration is a bug, not a user mistake
            raise AssertionError(f"reader measure {name} is not declared in measures.py")
        rows.append(
            ResultRow(
                model=e.model,
                task=e.task,
                condition=e.condition,
                metric=name,
                value=e.value,
                ci_low=e.ci_low,
                ci_high=e.ci_high,
                n_real=e.n_real,
                n_fake=int(facts["n_samples"]),
                direction=schema["direction"],
                feature_space="reader-study",
                dataset=facts["dataset"],
                seed=int(facts["run_seed"]),
                cxrbench_version=__version__,
                status=OK,
                resolution=int(facts["resolution"]),
                reference=e.model in references,
                ci_method=e.ci_method if e.ci_low is not None else "",
                comparability={
                    "study": identity,
                    "design": study.design.value,
                    "study_seed": study.seed,
                    "n_judgments": e.n,
                    "successes": e.k,
                    "readers": e.reader or "pooled",
                },
            )
        )
    return rows


def replace_rows(run_dir: Path, design_prefix: str, rows: list[ResultRow]) -> list[ResultRow]:
    """Swap the run's rows whose metric starts with ``design_prefix`` for ``rows`` (one atomic rewrite),
    then rewrite leaderboard.md; returns every row of the run."""
    from cxrbench.leaderboard.markdown import render_markdown
    from cxrbench.leaderboard.store import run_weights_note
    from cxrbench.leaderboard.table import build_leaderboards

    run = RunDirectory(run_dir)
    if not run.results.is_file():
        raise ReaderStudyError(
            f"the study's run folder {run_dir} has no {RESULTS}; was it moved? pass --run RUN_FOLDER"
        )
    with run_lock(run.root):  # never while `cxrbench run` appends to the same results.jsonl
        kept = [r for r in read_rows(run.results) if not r.metric.startswith(design_prefix)]
        every = kept + rows
        atomic_write_text(run.results, "".join(row_line(r) for r in every))
        note = run_weights_note(run.root)
        atomic_write_text(run.leaderboard, render_markdown(build_leaderboards(every), [note] if note else []))
    return every


def score_study(study: Study, run_dir: Path | None = None) -> tuple[StudyStatistics, list[ResultRow]]:
    """Statistics of every stored answer: report files in the study, rows in the run's results.jsonl."""
    run_dir = Path(run_dir) if run_dir is not None else study.run_dir
    answers = AnswerStore(study.answers_path).answers()
    if not answers:
        raise ReaderStudyError(f"{study.root} has no answers yet; serve the study or import answer files")
    run_rows = read_rows(run_dir / RESULTS)
    statistics = study_statistics(study, answers, run_references(run_rows))
    statistics.correlations = rank_correlations(statistics.estimates, run_rows, study.design)
    rows = reader_rows(study, statistics.estimates, run_rows)
    replace_rows(run_dir, f"reader.{study.design.value}.", rows)
    write_report(study, statistics, len(answers))
    return statistics, rows


def write_report(study: Study, statistics: StudyStatistics, n_answers: int) -> None:
    """statistics.json (everything) and statistics.md (tables for people) in the study folder."""
    data = {
        "design": study.design.value,
        "study": study_id(study),
        "answers": n_answers,
        "estimates": [asdict(e) for e in statistics.estimates],
        "reasons": statistics.reasons,
        "correlations": [asdict(c) for c in statistics.correlations],
        "mrmc": [
            {**asdict(a), "analysis": analysis_dict(a.analysis) if a.analysis else None} for a in statistics.analyses
        ],
    }
    atomic_write_text(study.root / STATISTICS_JSON, json.dumps(data, indent=1))
    atomic_write_text(study.root / STATISTICS_MD, _markdown(study, statistics, n_answers))


def _markdown(study: Study, statistics: StudyStatistics, n_answers: int) -> str:
    lines = [
        f"# Reader study ({study.design.value} design)",
        "",
        f"{n_answers} answers; study {study_id(study)}, seed {study.seed}, run `{study.run_dir}`.",
        "",
        "| model | task | condition | reader | measure | value | 95% CI | k / n |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in statistics.estimates:
        ci = "" if e.ci_low is None else f"[{number(e.ci_low)}, {number(e.ci_high)}] {e.ci_method}"
        count = f"{e.k} / {e.n}" if e.k is not None else f"n = {e.n}"
        declared = READER_MEASURES[metric_name(study.design, e.measure)]
        lines.append(
            f"| {e.model} | {e.task} | {e.condition} | {e.reader or 'pooled'} | {declared.display_name} "
            f"| {number(e.value)} | {ci} | {count} |"
        )
    if statistics.reasons:
        lines += [
            "",
            "## Reasons given for decided answers (correct or not)",
            "",
            "| model | task | condition | reader | reason | count | of |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['model']} | {r['task']} | {r['condition']} | {r['reader'] or 'pooled'} | {r['reason']} "
            f"| {r['count']} | {r['of']} |"
            for r in statistics.reasons
        ]
    lines += _mrmc_markdown(statistics)
    lines += ["", "## Rank correlation with the automated metrics across models", ""]
    if statistics.correlations:
        lines += ["| reader measure | metric | Spearman rho | p | models |", "|---|---|---|---|---|"]
        lines += [
            f"| {c.reader_metric} | {c.metric} | {number(c.rho)} | {number(c.p_value)} | {', '.join(c.models)} |"
            for c in statistics.correlations
        ]
    else:
        lines.append("Needs at least 3 models with both reader results and automated metrics.")
    return "\n".join(lines) + "\n"


def _mrmc_markdown(statistics: StudyStatistics) -> list[str]:
    """The ORH analysis of every cell and of the pooled study."""
    lines = [
        "",
        "## MRMC analysis (Obuchowski-Rockette with Hillis' degrees of freedom)",
        "",
        "Treatments are the study's models; readers and cases random unless said otherwise; jackknife "
        "covariances. How to read it: docs/reader-study.md, section 6.",
    ]
    for cell in statistics.analyses:
        where = "all cells pooled" if cell.pooled else f"{cell.task}, {cell.condition}"
        lines += ["", f"### {cell.fom}: {where}", ""]
        if cell.left_out:
            lines.append(f"{cell.left_out} item(s) not answered by every reader were left out.")
            lines.append("")
        lines.append(
            analysis_markdown(cell.analysis, level=4).rstrip() if cell.analysis else f"Not analysed: {cell.note}."
        )
    return lines
