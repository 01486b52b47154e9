"""Which prompt each generated image gets: the task's templates, or a user's prompt file."""

from __future__ import annotations

import sys
from pathlib import Path

from cxrbench.errors import ConfigError
from cxrbench.tasks.task import Condition, Presence

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def read_prompt_file(path: str | Path) -> dict[str, tuple[str, ...]]:
    """Prompts per condition key ("task/present") from a TOML file.

    Format: one table per task, ``present`` and ``absent`` each a string or a list of strings::

        [pleural_effusion]
        present = ["small left pleural effusion", "bilateral pleural effusions"]
        absent = "no findings"
    """
    from cxrbench.tasks import TASKS

    path = Path(path).expanduser()
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"prompt file {path} does not exist; check the prompt_file option") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"prompt file {path} is not valid TOML ({error}); fix the line it names") from None
    prompts: dict[str, tuple[str, ...]] = {}
    for task, table in raw.items():
        TASKS.entry(task)  # an unknown task name is refused with the known ones
        if not isinstance(table, dict) or set(table) - {p.value for p in Presence}:
            raise ConfigError(f"prompt file {path}: [{task}] may hold only 'present' and 'absent'")
        for presence, value in table.items():
            items = (value,) if isinstance(value, str) else tuple(value)
            if not items or not all(isinstance(p, str) for p in items):
                raise ConfigError(f"prompt file {path}: {task}.{presence} must be a string or a list of strings")
            prompts[f"{task}/{presence}"] = items
    return prompts


def condition_prompts(condition: Condition, overrides: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The prompts of ``condition``: the user's file where it has them, else the task's (``--prompt-style``)."""
    if overrides:
        if condition.key not in overrides:
            raise ConfigError(
                f"the prompt file has no prompts for {condition.key}; add [{condition.task}] "
                f"{condition.presence.value} = [...]"
            )
        return overrides[condition.key]
    return condition.prompts or (condition.prompt,)
