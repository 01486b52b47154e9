"""Reading names the user typed: comma lists and the closest known name (for "did you mean").

In the base layer, so the registry, the config, metric selection, reader studies and the CLI all
read a list and suggest a name the same way.
"""

from __future__ import annotations

import difflib


def split_names(value: str | list | tuple | None) -> tuple[str, ...]:
    """``"a, b"`` or ``["a", "b,c"]`` -> ``("a", "b", "c")``: the one way a comma list is read (None: empty)."""
    parts = [] if value is None else [value] if isinstance(value, str) else list(value)
    return tuple(p.strip() for item in parts for p in str(item).split(",") if p.strip())


def closest(name: str, known: list[str] | tuple[str, ...]) -> str | None:
    """The known name nearest to a mistyped ``name`` (difflib's ratio, at least 0.6), or None."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return close[0] if close else None
