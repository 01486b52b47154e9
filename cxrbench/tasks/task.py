"""The benchmark's unit of work: a finding, its two conditions and their prompts."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where labels are matched, so `cxrbench list` stays light
    import numpy as np

# FINDINGS: the default label columns of every multi-label vector (labels, targets, classifier outputs).
from cxrbench.tasks import FINDINGS

ABSENT_MEANINGS = ("negative", "no_finding")


class Presence(str, Enum):
    """The two conditions of every task."""

    PRESENT = "present"
    ABSENT = "absent"


@dataclass(frozen=True)
class Condition:
    """What a generator is asked for: one finding present or absent.

    ``target`` is the multi-label vector over ``findings`` (the run's label columns): 1 = wanted,
    0 = unwanted, None = left free (the other findings keep their natural prevalence).
    """

    task: str
    presence: Presence
    target: tuple[int | None, ...]
    prompt: str
    prompts: tuple[str, ...] = ()
    # Out of the repr, which keys cached rows: ``target`` already has one entry per finding, and a value
    # depends on the findings only through it and ``finding_index``.
    findings: tuple[str, ...] = field(default=FINDINGS, repr=False)

    @property
    def finding_index(self) -> int:
        return self.findings.index(self.task)

    @property
    def present(self) -> bool:
        return self.presence is Presence.PRESENT

    @property
    def key(self) -> str:
        return f"{self.task}/{self.presence.value}"

    def matches(self, labels: "np.ndarray") -> "np.ndarray":
        """Boolean mask of the label rows [N, F] that agree with every non-free entry of ``target``."""
        import numpy as np

        keep = np.ones(len(labels), dtype=bool)
        for column, wanted in enumerate(self.target):
            if wanted is not None:
                keep &= labels[:, column] == wanted
        return keep


@dataclass(frozen=True)
class Task:
    """One finding of the benchmark.

    ``bare_prompts`` are the prompts of Schuit et al. (arXiv 2508.07128): the finding's bare name
    for ``present`` and "no findings" for ``absent``. ``report_prompts`` read like report sentences.
    Which source labels make the finding positive is each dataset's ``label_map``.
    """

    name: str
    display_name: str
    bare_prompts: dict[Presence, str]
    report_prompts: dict[Presence, tuple[str, ...]]

    def condition(
        self,
        presence: Presence | str,
        prompt_style: str = "bare",
        absent: str = "negative",
        findings: tuple[str, ...] = FINDINGS,
    ) -> Condition:
        """The condition ``presence`` of this task, with the prompt of ``prompt_style`` (bare|report).

        absent: what ``absent`` asks for: "negative" (this finding negative, the others free) or
        "no_finding" (the stricter reference: every finding negative). findings: the run's label columns
        (``label_findings`` of its tasks), this task among them.
        """
        presence = Presence(presence)
        if absent not in ABSENT_MEANINGS:
            from cxrbench.errors import ConfigError

            raise ConfigError(f"unknown absent meaning {absent!r}; choose {' or '.join(ABSENT_MEANINGS)}")
        target: list[int | None] = [None] * len(findings)
        if presence is Presence.ABSENT and absent == "no_finding":
            target = [0] * len(findings)
        target[findings.index(self.name)] = 1 if presence is Presence.PRESENT else 0
        if prompt_style == "bare":
            prompts: tuple[str, ...] = (self.bare_prompts[presence],)
        elif prompt_style == "report":
            prompts = self.report_prompts[presence]
        else:
            from cxrbench.errors import ConfigError

            raise ConfigError(f"unknown prompt style {prompt_style!r}; choose 'bare' or 'report'")
        return Condition(self.name, presence, tuple(target), prompts[0], prompts, tuple(findings))

    def conditions(
        self, prompt_style: str = "bare", absent: str = "negative", findings: tuple[str, ...] = FINDINGS
    ) -> tuple[Condition, Condition]:
        return (
            self.condition(Presence.PRESENT, prompt_style, absent, findings),
            self.condition(Presence.ABSENT, prompt_style, absent, findings),
        )
