"""Which metrics a run computes: specs (``fd@rad-dino``, ``precision``, ``fid``) -> built metrics.

A spec is a registered metric name, optionally ``@SPACE`` for an any-space metric (no ``@``: its
default space), or an old alias (``fid``, ``cxr_fd``, ``cxr_kid``, cxrbench/metric_ids.py).
``all`` is every registered metric in its default space plus every alias. Options come from
``metric_options``: the table of the metric's name applies in every space, the table of the spec
as written (``[metric_options."fd@rad-dino"]``, ``[metric_options.fid]``) on top of it.
"""

from __future__ import annotations

from cxrbench.errors import ConfigError, UnknownNameError
from cxrbench.metric_ids import ALIASES, SEPARATOR, split_id
from cxrbench.metrics import METRICS
from cxrbench.metrics.metric import Metric
from cxrbench.names import split_names
from cxrbench.registry import unknown_name_message


def known_specs() -> list[str]:
    """Every metric name and alias (what ``all`` expands to)."""
    return METRICS.names() + sorted(ALIASES)


def check_spec(spec: str) -> tuple[str, str | None]:
    """(metric, space or None) of a spec; unknown metrics and a space on a one-space metric are refused."""
    name, space = split_id(spec)
    if name not in METRICS:
        raise UnknownNameError(unknown_name_message("metric", name, known_specs()))
    if space is not None:
        from cxrbench.metrics import FEATURE_EXTRACTORS

        FEATURE_EXTRACTORS.entry(space)  # an unknown space: "did you mean ...?"
        if spec not in ALIASES and not METRICS.get(name).any_space:
            raise ConfigError(
                f"metric {name!r} is not computed in a chosen feature space; drop '{SEPARATOR}{space}' "
                "(any-space metrics: " + ", ".join(n for n in METRICS.names() if METRICS.get(n).any_space) + ")"
            )
    return name, space


def resolve_specs(spec: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``all`` / ``a,b`` / a list -> the specs, each checked (unknown names raise)."""
    specs: list[str] = []
    for part in split_names(spec):
        expanded = known_specs() if part == "all" else [part]
        specs.extend(s for s in expanded if s not in specs)
    if not specs:
        raise UnknownNameError(f"no metric selected; choose 'all' or some of: {', '.join(known_specs())}")
    for item in specs:
        check_spec(item)
    return tuple(specs)


def build_metric(spec: str, metric_options: dict[str, dict]) -> Metric:
    """The metric of ``spec`` with its options; an explicit ``@SPACE`` wins over a feature_space option."""
    name, space = check_spec(spec)
    options = {**metric_options.get(name, {}), **(metric_options.get(spec, {}) if spec != name else {})}
    if space is not None and (SEPARATOR in spec or "feature_space" not in metric_options.get(spec, {})):
        options["feature_space"] = space
    return METRICS.build(name, options)[0]


def build_metrics(specs: tuple[str, ...], metric_options: dict[str, dict]) -> list[Metric]:
    """The metrics of ``specs``, one per id (``fd`` and ``fid`` are the same metric: built once)."""
    built: dict[str, Metric] = {}
    for spec in resolve_specs(specs):
        metric = build_metric(spec, metric_options)
        built.setdefault(metric.id, metric)
    return list(built.values())


def metric_for_id(metric_id: str) -> Metric | None:
    """A metric as a row's id names it (for its declaration), or None when it is not registered here."""
    name, space = split_id(metric_id)
    if name not in METRICS:
        return None
    try:
        return METRICS.build(name, {"feature_space": space} if space is not None else {})[0]
    except ConfigError:  # a metric without a feature_space option named with one
        return None
