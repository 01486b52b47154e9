"""Progress reporting injected into the core: rich bars in the terminal, silence in tests."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from rich.markup import escape

Update = Callable[[int, int, str], None]


class Reporter:
    """Silent reporter; the base of every reporter. ``step`` yields an update(done, total, text)."""

    @contextmanager
    def step(self, description: str, total: int | None = None) -> Iterator[Update]:
        yield lambda done, total, text: None

    def note(self, message: str) -> None:
        """A one-line message for the user (a skipped metric, a reused checkpoint)."""


class RichReporter(Reporter):
    """Rich progress bars, one per step, with elapsed time."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)

    @contextmanager
    def step(self, description: str, total: int | None = None) -> Iterator[Update]:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=self.console, transient=False) as progress:
            task = progress.add_task(description, total=total)

            def update(done: int, total_now: int, text: str) -> None:
                progress.update(task, completed=done, total=total_now,
                                description=f"{description}: {text}" if text else description)

            yield update
            final = progress.tasks[0].total or 1
            progress.update(task, completed=final, total=final, description=description)

    def note(self, message: str) -> None:
        self.console.print(f"[dim]{escape(message)}[/dim]")  # "[feature_options.x]" is text, not markup
