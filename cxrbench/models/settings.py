"""Model settings: a frozen dataclass from a named preset plus overrides from the config, checked by name.

One mechanism for every deep model (GANs, diffusion), so option errors read the same everywhere.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from cxrbench.errors import ConfigError

Settings = TypeVar("Settings")


def with_settings(what: str, base: Settings, overrides: dict) -> Settings:
    """The dataclass ``base`` with ``overrides`` (TOML lists become tuples).

    Unknown names and negative numbers are one-line errors that list the valid names.
    """
    known = [f.name for f in dataclasses.fields(base)]
    unknown = [k for k in overrides if k not in known]
    if unknown:
        raise ConfigError(f"{what} has no setting {unknown[0]!r}; its settings: {', '.join(known)}")
    for name, value in overrides.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            raise ConfigError(f"{what} setting {name}={value} must not be negative")
    return dataclasses.replace(base, **{k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()})


def resolve_preset(what: str, presets: dict[str, Settings], preset: str, overrides: dict) -> Settings:
    """``presets[preset]`` with ``overrides`` applied."""
    if preset not in presets:
        raise ConfigError(f"{what} has no preset {preset!r}; choose {' or '.join(presets)}")
    return with_settings(what, presets[preset], overrides)
