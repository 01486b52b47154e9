"""Settings dataclasses filled from a named preset and per-field overrides, checked by name."""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from cxrbench.errors import ConfigError

Settings = TypeVar("Settings")


def make_settings(what: str, settings_type: type[Settings], values: dict) -> Settings:
    """``settings_type(**values)``; unknown names and negative numbers are one-line errors."""
    known = [f.name for f in dataclasses.fields(settings_type)]
    unknown = [k for k in values if k not in known]
    if unknown:
        raise ConfigError(f"{what} has no setting {unknown[0]!r}; its settings: {', '.join(known)}")
    for name, value in values.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            raise ConfigError(f"{what} setting {name}={value} must not be negative")
    return settings_type(**values)


def resolve_preset(what: str, settings_type: type[Settings], presets: dict[str, dict], preset: str,
                   overrides: dict) -> Settings:
    """``settings_type`` filled from ``presets[preset]``, then ``overrides``."""
    if preset not in presets:
        raise ConfigError(f"{what} has no preset {preset!r}; choose {' or '.join(presets)}")
    return make_settings(what, settings_type, {**presets[preset], **overrides})
