"""One registry class for every kind of component: models, metrics, tasks, datasets, extractors.

Built-ins are declared as lazy ``"module:attribute"`` strings (so listing names imports no
heavy backend) and confirmed by a ``@REGISTRY.register(name)`` decorator in their module.
Third-party packages add components through an entry-point group such as ``cxrbench.models``.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import importlib.util
import inspect
import re
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path, PurePath
from typing import Callable, Generic, TypeVar

from cxrbench.cache import code_digest
from cxrbench.errors import ConfigError, CxrbenchError, UnknownNameError
from cxrbench.names import closest, split_names

T = TypeVar("T")

VALID_NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")


@dataclass(frozen=True)
class Entry:
    """Where a registered component lives, known before it is imported."""

    name: str
    target: str  # "package.module:attribute"
    source: str  # "builtin" or "plugin:<distribution>"
    summary: str = ""


class Registry(Generic[T]):
    """Name -> component map with lazy built-ins and entry-point plugins.

    ``base`` is the class every component must be (a subclass of, or an instance of), given as
    ``"module:Class"`` so that creating a registry imports nothing heavy.
    """

    def __init__(self, kind: str, base: str, group: str) -> None:
        self.kind = kind
        self._base = base
        self.group = group
        self._entries: dict[str, Entry] = {}
        self._loaded: dict[str, T] = {}
        self._plugins_scanned = False

    # -- registration -------------------------------------------------------------------
    def add_lazy(self, name: str, target: str, summary: str = "", source: str = "builtin") -> None:
        """Declare a component by its import path without importing it."""
        _check_name(self.kind, name)
        if ":" not in target:
            raise ValueError(f"{self.kind} {name!r}: target must look like 'module:attribute', got {target!r}")
        if name in self._entries:
            raise CxrbenchError(
                f"duplicate {self.kind} name {name!r}: already registered from {self._entries[name].source} "
                f"({self._entries[name].target}); pick another name"
            )
        self._entries[name] = Entry(name, target, source, summary)

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: register ``obj`` under ``name`` (confirms a lazy entry of the same target)."""

        def decorator(obj: T) -> T:
            _check_name(self.kind, name)
            self._check_type(name, obj)
            target = f"{obj.__module__}:{getattr(obj, '__qualname__', name)}" if isinstance(obj, type) else ""
            entry = self._entries.get(name)
            if entry is not None and name in self._loaded and self._loaded[name] is not obj:
                raise CxrbenchError(f"duplicate {self.kind} name {name!r}: it is already registered")
            if entry is not None and target and entry.target != target:
                raise CxrbenchError(
                    f"duplicate {self.kind} name {name!r}: {entry.target} already uses it; pick another name"
                )
            if entry is None:
                self._entries[name] = Entry(
                    name, target or f"{getattr(obj, '__module__', '?')}:{name}", "builtin", _first_doc_line(obj)
                )
            self._loaded[name] = obj
            return obj

        return decorator

    # -- lookup ---------------------------------------------------------------------------
    def names(self) -> list[str]:
        """All registered names, sorted, without importing any component."""
        self._scan_plugins()
        return sorted(self._entries)

    def entries(self) -> list[Entry]:
        self._scan_plugins()
        return [self._entries[n] for n in sorted(self._entries)]

    def entry(self, name: str) -> Entry:
        self._scan_plugins()
        if name not in self._entries:
            raise UnknownNameError(unknown_name_message(self.kind, name, list(self._entries)))
        return self._entries[name]

    def identity(self, name: str) -> dict:
        """Which code ``name`` is: its source (builtin or plugin:DISTRIBUTION), that distribution's
        version, and a digest of the module that defines it and of every module it imports (``cache.code_digest``),
        so that an edit shows (cache keys and manifests record it)."""
        entry = self.entry(name)
        dist = entry.source.partition("plugin:")[2]
        if dist:
            try:
                version = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                version = "unknown"
        else:
            from cxrbench import __version__ as version
        origin = _module_file(entry.target.partition(":")[0])
        # its module and every module it imports (cxrbench's, its own package's): an edit anywhere they reach
        code = code_digest(origin)[:16] if origin else "unknown"
        return {"source": entry.source, "version": version, "code": code}

    def get(self, name: str) -> T:
        """The component registered as ``name``, importing it on first use."""
        entry = self.entry(name)
        if name not in self._loaded:
            try:
                obj = _import_target(entry.target)
            except (ImportError, AttributeError) as error:
                if entry.source == "builtin":
                    raise
                raise CxrbenchError(
                    f"{self.kind} {name!r} from {entry.source} cannot be loaded ({entry.target}: {error}); "
                    "reinstall that package or fix its entry point"
                ) from error
            self._check_type(name, obj)
            self._loaded[name] = obj
        return self._loaded[name]

    def build(self, name: str, options: dict | None = None) -> tuple[T, dict]:
        """An instance of the class registered as ``name`` and all its options, defaults included.

        Options are constructor arguments; an unknown one is refused with the list of valid ones
        (no ``**kwargs`` swallowing typos).
        """
        options = self.check_options(name, options)
        cls = self.get(name)
        signature = inspect.signature(cls.__init__)
        bound = signature.bind_partial(None, **options)
        bound.apply_defaults()
        return cls(**options), {k: v for k, v in bound.arguments.items() if k in _option_names(signature)}

    def check_options(self, name: str, options: dict | None = None) -> dict:
        """``options`` if the constructor of ``name`` takes them (names, required ones, annotated types), else
        a one-line ConfigError; nothing is built, so a run can check every option before any work."""
        cls = self.get(name)
        options = dict(options or {})
        signature = inspect.signature(cls.__init__)
        known = _option_names(signature)
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ConfigError(
                f"{self.kind} {name!r} has no option {unknown[0]!r}; its options: {', '.join(known) or '(none)'}"
            )
        required = [p for p in known if signature.parameters[p].default is inspect.Parameter.empty]
        absent = [p for p in required if p not in options]
        if absent:
            raise ConfigError(f"{self.kind} {name!r} needs the option {absent[0]!r}; set it in the config")
        for option, value in options.items():
            expected = signature.parameters[option].annotation
            if isinstance(expected, str) and not _has_type(value, expected):
                raise ConfigError(
                    f"{self.kind} {name!r} option {option} = {value!r} ({type(value).__name__}) has "
                    f"the wrong type; it must be {expected}"
                )
        return options

    def resolve(self, spec: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
        """Expand ``all`` / ``a,b`` / a list into validated names (unknown names raise)."""
        names: list[str] = []
        for part in split_names(spec):
            expanded = self.names() if part == "all" else [self.entry(part).name]
            names.extend(n for n in expanded if n not in names)
        if not names:
            raise UnknownNameError(f"no {self.kind} selected; choose 'all' or some of: {', '.join(self.names())}")
        return tuple(names)

    def __contains__(self, name: str) -> bool:
        self._scan_plugins()
        return name in self._entries

    # -- internals ------------------------------------------------------------------------
    def _scan_plugins(self) -> None:
        if self._plugins_scanned:
            return
        self._plugins_scanned = True
        for ep in entry_points(group=self.group):
            dist = ep.dist.name if ep.dist is not None else "unknown"
            existing = self._entries.get(ep.name)
            if existing is not None:
                if existing.target == ep.value:
                    continue  # the same package seen twice on sys.path
                raise CxrbenchError(
                    f"plugin {dist} registers {self.kind} {ep.name!r}, which {existing.source} already uses "
                    f"({existing.target}); uninstall one of them or rename the plugin's entry point"
                )
            self.add_lazy(ep.name, ep.value, _docstring_summary(ep.value), source=f"plugin:{dist}")

    @property
    def base(self) -> type:
        return _import_target(self._base)

    def _check_type(self, name: str, obj: object) -> None:
        base = self.base
        ok = isinstance(obj, base) or (isinstance(obj, type) and issubclass(obj, base))
        if not ok:
            raise CxrbenchError(
                f"{self.kind} {name!r} is {obj!r}, which is not a {base.__name__}; register a {base.__name__}"
            )


_SIMPLE_TYPES = {
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "bool": (bool,),
    "None": (type(None),),
    "Path": (str, PurePath),
    "dict": (dict,),
    "list": (list, tuple),
}


def _has_type(value: object, annotation: str) -> bool:
    """Whether ``value`` fits a constructor annotation such as "int", "str | None" or "float".

    Only plain annotations are checked (anything else, e.g. "tuple[float, float, float]" or a
    class, passes: the component checks it); a bool is not taken for a number.
    """
    parts = [part.strip() for part in annotation.split("|")]
    if not all(part in _SIMPLE_TYPES for part in parts):
        return True
    if isinstance(value, bool):
        return "bool" in parts
    return any(isinstance(value, _SIMPLE_TYPES[part]) for part in parts)


def _import_target(target: str) -> object:
    """The object at ``"package.module:attribute.path"``."""
    module_name, _, attribute = target.partition(":")
    obj: object = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj


def _option_names(signature: inspect.Signature) -> list[str]:
    """A constructor's named arguments: the options of a component (no self, *args or **kwargs)."""
    return [
        p
        for p, param in signature.parameters.items()
        if p != "self" and param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD)
    ]


def unknown_name_message(kind: str, name: str, known: list[str]) -> str:
    """One line: what was asked, the closest match, and every valid choice."""
    close = closest(name, known)
    hint = f" did you mean {close!r}?" if close else ""
    return f"unknown {kind} {name!r};{hint} known: {', '.join(sorted(known)) or '(none)'}"


def _check_name(kind: str, name: str) -> None:
    if not isinstance(name, str) or not VALID_NAME.match(name) or name == "all":
        raise CxrbenchError(
            f"invalid {kind} name {name!r}: use lower-case letters, digits, '-', '_' or '.', "
            "no spaces or path separators, and not 'all'"
        )


def _module_file(module: str) -> Path | None:
    """The source file of ``module`` (its parent packages are imported to find it), or None."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    origin = Path(spec.origin) if spec is not None and spec.origin else None
    return origin if origin is not None and origin.is_file() else None


def _docstring_summary(target: str) -> str:
    """The first line of the docstring of the class at ``"module:Class"``, read from its source without
    importing the module (``cxrbench list`` imports no plugin)."""
    module, _, attribute = target.partition(":")
    origin = _module_file(module)
    if origin is None:
        return ""
    try:
        tree = ast.parse(origin.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError):
        return ""
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == attribute.split(".")[0]:
            doc = ast.get_docstring(node) or ""
            return doc.strip().splitlines()[0] if doc.strip() else ""
    return ""


def _first_doc_line(obj: object) -> str:
    doc = getattr(obj, "__doc__", None) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""
