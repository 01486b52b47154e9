"""Progress reporting injected into the core: rich bars in a terminal, timestamped lines in a log, silence in tests."""

from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from typing import Callable, Iterator, TextIO

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
    """Rich progress bars with elapsed time and time left: one per step, and one per phase of a step
    whose updates change their total (training, then a classifier), so that every bar has one total."""

    def __init__(self, console=None) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True)

    @contextmanager
    def step(self, description: str, total: int | None = None) -> Iterator[Update]:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        ) as progress:
            bar = {"task": progress.add_task(description, total=total), "total": total}

            def update(done: int, total_now: int, text: str) -> None:
                if bar["total"] is not None and total_now != bar["total"]:  # a new phase: a bar of its own
                    progress.update(bar["task"], completed=bar["total"])
                    bar["task"] = progress.add_task(description, total=total_now)
                bar["total"] = total_now
                progress.update(
                    bar["task"],
                    completed=done,
                    total=total_now,
                    description=f"{description}: {text}" if text else description,
                )

            yield update
            final = bar["total"] or 1
            progress.update(bar["task"], completed=final, total=final, description=description)

    def note(self, message: str) -> None:
        self.console.print(f"[dim]{escape(message)}[/dim]")  # "[feature_options.x]" is text, not markup


def duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s`` or ``1 h 02 min``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class LogReporter(Reporter):
    """Timestamped lines for a log file or a cluster job (no terminal): a line when a step starts
    and ends, and every ``interval`` seconds while it runs, with done/total, rate and time left
    (a step that reports nothing new still gets its line: the log shows the run is alive)."""

    def __init__(self, stream: TextIO | None = None, interval: float = 30.0) -> None:
        self.stream = stream or sys.stderr
        self.interval = interval

    def line(self, text: str) -> None:
        print(f"{datetime.now().strftime('%Y-%m-%d %H:%M:%S')} {text}", file=self.stream, flush=True)

    @contextmanager
    def step(self, description: str, total: int | None = None) -> Iterator[Update]:
        state = {"done": 0, "total": total, "text": ""}
        lock, stop, started = threading.Lock(), threading.Event(), time.monotonic()

        def beat() -> None:
            while not stop.wait(self.interval):
                with lock:
                    done, total_now, text = state["done"], state["total"], state["text"]
                self.line(progress_text(description, done, total_now, text, time.monotonic() - started))

        def update(done: int, total_now: int, text: str) -> None:
            with lock:
                state.update(done=done, total=total_now, text=text)

        self.line(f"{description}: started")
        thread = threading.Thread(target=beat, name="cxrbench-progress", daemon=True)
        thread.start()
        try:
            yield update
        except BaseException:
            self.line(f"{description}: stopped after {duration(time.monotonic() - started)}")
            raise
        else:
            self.line(f"{description}: done in {duration(time.monotonic() - started)}")
        finally:
            stop.set()
            thread.join()

    def note(self, message: str) -> None:
        self.line(message)


def progress_text(description: str, done: int, total: int | None, text: str, elapsed: float) -> str:
    """``training cgan: epoch 3: 120/576 (21%), 2.04/s, about 3 min 44 s left, 59 s elapsed``."""
    head = f"{description}: {text}" if text else description
    if not total:
        return f"{head}: {done} done, {duration(elapsed)} elapsed"
    part = f"{head}: {done}/{total} ({100 * done / total:.0f}%)"
    if done > 0 and elapsed > 0:
        rate = done / elapsed
        part += f", {rate:.3g}/s, about {duration(max(total - done, 0) / rate)} left"
    return f"{part}, {duration(elapsed)} elapsed"


def terminal_or_log(interval: float = 30.0) -> Reporter:
    """Rich bars when stderr is a terminal, else timestamped lines every ``interval`` seconds."""
    return RichReporter() if sys.stderr.isatty() else LogReporter(interval=interval)
