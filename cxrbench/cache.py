"""The one cache root and the one way every cache builds its keys; nothing is ever written into the package.

Every cache entry is named by ``cache_key(kind, inputs, component, code)``: a sha256 over the cache's kind
and format version (``FORMATS``), a content digest of the inputs, the identity of the component that
computed it (its name, options, settings, weights) and a digest of the code that computed it
(``code_digest``: its source files and every cxrbench module, or module of its own package, they import).
A change to any of them is a new key, so an entry is never read back for other inputs or other code.
docs/architecture.md has the table of what goes into each cache's key.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import json
import os
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where arrays are saved, so `cxrbench --help` stays light
    import numpy as np


def default_cache_root() -> Path:
    """``$CXRBENCH_CACHE``, else ``$XDG_CACHE_HOME/cxrbench``, else ``~/.cache/cxrbench``.

    Only the CLI calls this; the core receives the root inside its config.
    """
    if os.environ.get("CXRBENCH_CACHE"):
        return Path(os.environ["CXRBENCH_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cxrbench"


# Each cache's format version: bump one when what it stores changes meaning, so old entries are not read back.
FORMATS = {"datasets": 2, "evaluator": 2, "features": 2, "models": 2, "utility": 2, "rows": 2, "model-rows": 1}


def cache_key(kind: str, inputs: object, component: object, code: str) -> str:
    """The name of a cache entry of ``kind`` (a key of FORMATS).

    inputs: a content digest of what was computed from (image digests, a dataset fingerprint), or
    JSON-serialisable parts made of them; component: the identity of what computed it (name, options,
    settings, seed, weights hash); code: ``code_digest`` of the code that computed it.
    """
    return content_key(kind, FORMATS[kind], inputs, component, code)


def settings_key(kind: str, inputs: object, component: object) -> str:
    """``cache_key`` without the code: what reference weights are matched on (cxrbench/zoo). Weights shipped
    with cxrbench were trained for these inputs and settings by the code their catalogue names; a run says
    when that code differs from its own."""
    return content_key(kind, FORMATS[kind], inputs, component)


def content_key(*parts: object) -> str:
    """A short stable hash of JSON-serialisable parts (``cache_key``'s)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def code_digest(*files: str | Path, also: tuple[str | Path, ...] = ()) -> str:
    """sha256 of the source files ``files``, of every file of cxrbench or of their own top-level package they
    import (directly or through each other, lazy imports too), and of the files ``also`` (not followed)."""
    return _source_digest(*code_files(*map(str, files)), *map(str, also))


def class_files(cls: type) -> tuple[str, ...]:
    """The source files of ``cls`` and of its bases, leaving out the standard library's (object, abc.ABC)."""
    files = []
    for base in cls.__mro__:
        if base.__module__.split(".")[0] in sys.stdlib_module_names:
            continue
        try:
            files.append(inspect.getfile(base))
        except TypeError:  # a class typed into an interactive session
            continue
    return tuple(files)


@cache
def _source_digest(*files: str) -> str:
    """sha256 over the given source files (names within their package, and bytes); computed once per process.

    Names, not paths: the same code installed elsewhere (a clone, site-packages) gives the same keys.
    """
    named = sorted({(_name_in_package(file), file) for file in files})
    digest = hashlib.sha256()
    for name, file in named:
        digest.update(name.encode())
        digest.update(Path(file).read_bytes())
    return digest.hexdigest()


def _name_in_package(path: str) -> str:
    """'cxrbench/metrics/kid.py' for .../cxrbench/metrics/kid.py: the path below the top-level package's parent."""
    file = Path(path).resolve()
    folder = file.parent
    while (folder / "__init__.py").is_file():
        folder = folder.parent
    return file.relative_to(folder).as_posix()


@cache
def _imported_files(path: str, package: str) -> tuple[str, ...]:
    """The source files of the modules of ``package`` (or of cxrbench) that the source file ``path`` imports,
    lazy imports too; ``from a.b import c`` counts a.b and, when it is a module, a.b.c. Once per process."""
    found = set()
    for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return tuple(filter(None, (_module_origin(n) for n in sorted(found) if n.split(".")[0] in ("cxrbench", package))))


@cache
def _module_origin(name: str) -> str | None:
    """The .py file of module ``name``, or None (not a module: an attribute; or no source file)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None and spec.origin and spec.origin.endswith(".py") else None


@cache
def code_files(*start: str) -> tuple[str, ...]:
    """The source files ``start`` and every file of cxrbench or of their own top-level package that they
    import, directly or through each other: the code a number computed there depends on."""
    packages = {_package_of(f) for f in start}
    seen, todo = set(), list(start)
    while todo:
        path = todo.pop()
        if path in seen or not path.endswith(".py"):
            continue
        seen.add(path)
        for package in packages:
            todo.extend(_imported_files(path, package))
    return tuple(sorted(seen))


def _package_of(path: str) -> str:
    """The top-level package a source file belongs to (the module's own name outside any package)."""
    return _name_in_package(path).split("/")[0].removesuffix(".py")


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Save named arrays as .npz through a temporary file and a rename (readers never see half a file)."""
    import numpy as np

    from cxrbench.files import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: np.savez(tmp, **arrays), suffix=".npz")  # np.savez appends .npz otherwise


def load_arrays(path: Path) -> dict[str, np.ndarray] | None:
    """What ``save_arrays`` wrote (no pickled objects), or None when the file is absent."""
    import numpy as np

    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as stored:
        return {name: stored[name] for name in stored.files}


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
