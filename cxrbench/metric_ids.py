"""Metric ids: a distribution metric is computed in any feature space, and its rows say which.

``fd@xrv-densenet`` is the Frechet distance in the xrv-densenet space; a bare ``fd`` is the
metric in its default space. A row's ``metric`` field is the full id (``fd@cxr-evaluator``), so
one metric in two spaces gives two columns, never one. The names of cxrbench 0.1, which tied a
metric to one space (``fid``, ``cxr_fd``, ``cxr_kid``), stay as aliases on the command line and
in TOML; rows written under them, and under the bare names of metrics that are any-space now,
are read under the new ids (``legacy_id``), so old run folders resume and render as before.
"""

from __future__ import annotations

from dataclasses import dataclass

SEPARATOR = "@"
# What `cxrbench evaluate` scores when no --metrics is given (its config and its help read this one tuple).
EVALUATE_METRICS = ("fd", "kid", "precision", "recall", "density", "coverage")


@dataclass(frozen=True)
class Alias:
    """An old name for one metric in one space, with the display name and the order (in its metric's family)
    it had."""

    metric: str
    space: str
    display_name: str
    order: int


ALIASES = {
    "fid": Alias("fd", "inception-v3", "FID", 0),
    "cxr_fd": Alias("fd", "cxr-evaluator", "CXR-FD", 10),
    "cxr_kid": Alias("kid", "cxr-evaluator", "CXR-KID", 11),
}
# Rows of cxrbench 0.1 named a metric alone; these are any-space now, their space is the row's.
_BARE_ANY_SPACE = ("fd", "kid", "precision", "recall", "density", "coverage")


def metric_id(metric: str, space: str) -> str:
    """The id of ``metric`` computed in ``space``."""
    return f"{metric}{SEPARATOR}{space}"


def split_id(spec: str) -> tuple[str, str | None]:
    """``"fd@rad-dino"`` -> ("fd", "rad-dino"); ``"fd"`` -> ("fd", None); an alias -> its metric and space."""
    if spec in ALIASES:
        return ALIASES[spec].metric, ALIASES[spec].space
    name, separator, space = spec.partition(SEPARATOR)
    return name, (space if separator else None)


def alias_of(metric: str, space: str) -> Alias | None:
    """The old name of ``metric`` in ``space``, if it had one."""
    return next((a for a in ALIASES.values() if (a.metric, a.space) == (metric, space)), None)


def legacy_id(metric: str, feature_space: str) -> str:
    """The id a row written as ``metric`` (cxrbench 0.1, no ``@``) has now."""
    base = ALIASES[metric].metric if metric in ALIASES else metric
    return metric_id(base, feature_space) if base in _BARE_ANY_SPACE else metric
