"""One exception family for user mistakes; the CLI prints them as one line (exit 2).

Bugs are not wrapped: they stay ordinary tracebacks.
"""

from __future__ import annotations


class CxrbenchError(Exception):
    """A problem the user can fix: the message says what is wrong and what to do."""


class UnknownNameError(CxrbenchError, KeyError):
    """A registry lookup for a name that is not registered."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


class ConfigError(CxrbenchError):
    """A configuration value or file that cannot be used."""


class MissingDependencyError(CxrbenchError):
    """An optional dependency is not installed; the message carries the install hint."""


class UnavailableError(CxrbenchError):
    """A component cannot work here (for example its weights are not on disk).

    The runner records affected metrics as unavailable with this reason and goes on.
    """


class AdapterError(CxrbenchError):
    """A model adapter broke its contract (wrong dtype, shape or count)."""


class OutputFolderError(CxrbenchError):
    """Writing an output (run folder, cache, report) failed: no permission, read-only, disk full or quota."""
