"""Tasks: the findings of the benchmark, their present/absent conditions and prompts.

The label maps (which source labels make a finding positive) belong to the datasets (cxrbench/data).
"""

from collections.abc import Iterable

from cxrbench.registry import Registry

# The benchmark's findings (as compared by Schuit et al., arXiv 2508.07128): the first label columns of every run.
FINDINGS: tuple[str, ...] = ("atelectasis", "lung_opacity", "pleural_effusion", "enlarged_cardiac_silhouette")

TASKS: Registry = Registry("task", "cxrbench.tasks.task:Task", "cxrbench.tasks")
for _name in FINDINGS:
    TASKS.add_lazy(_name, f"cxrbench.tasks.findings:{_name.upper()}")


def label_findings(tasks: Iterable[str]) -> tuple[str, ...]:
    """The label columns of a run of ``tasks``: the benchmark's four findings, then the run's other tasks
    (plugins) in their order.

    The four come first in every run, whichever of them it scores, so that runs of some of them share
    one label vector, and with it the evaluator, the trained models and the meaning of "no finding".
    """
    return FINDINGS + tuple(dict.fromkeys(t for t in tasks if t not in FINDINGS))
