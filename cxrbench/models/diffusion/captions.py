"""Training captions from finding labels, in the words of the task prompts (bare and report style).

An image with findings is described by a random non-empty subset of them, so a prompt naming one
finding learns "this finding, the others as they come", which is what a ``present`` condition
asks for. An image with none gets "no findings" or a normal-report sentence. An image with no
positive but an uncertain label gets the empty caption (it trains the unconditional branch only).
"""

from __future__ import annotations

import random

import numpy as np

from cxrbench.tasks import FINDINGS, TASKS
from cxrbench.tasks.task import Presence


def vocabulary_texts(findings: tuple[str, ...] = FINDINGS) -> list[str]:
    """Every bare and report prompt of the tasks of ``findings`` (a run's label columns): the words the small
    model's tokenizer knows."""
    texts = []
    for name in sorted(findings):  # sorted: the tokenizer's vocabulary does not depend on the label order
        task = TASKS.get(name)
        texts += list(task.bare_prompts.values()) + [p for ps in task.report_prompts.values() for p in ps]
    return texts


def caption(
    labels: np.ndarray, rng: random.Random, report_fraction: float, findings: tuple[str, ...] = FINDINGS
) -> str:
    """A caption for one label row (int, one per finding of ``findings``; 1 present, 0 absent, -1 uncertain)."""
    tasks = [TASKS.get(name) for name in findings]
    report = rng.random() < report_fraction
    present = [t for t, label in zip(tasks, labels) if label == 1]
    if not present:
        if (np.asarray(labels) != 0).any():
            return ""
        if not report:
            return tasks[0].bare_prompts[Presence.ABSENT]
        return rng.choice([p for t in tasks for p in t.report_prompts[Presence.ABSENT]])
    chosen = [t for t in present if rng.random() < 0.5] or [rng.choice(present)]
    rng.shuffle(chosen)
    if report:
        return " ".join(rng.choice(t.report_prompts[Presence.PRESENT]) for t in chosen)
    return ", ".join(t.bare_prompts[Presence.PRESENT] for t in chosen)
