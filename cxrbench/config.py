"""RunConfig: the one typed object that the CLI builds (from flags and/or TOML) and the core reads."""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cxrbench.errors import ConfigError
from cxrbench.names import closest, split_names

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class RunConfig:
    """Everything a benchmark run depends on.

    models / tasks / metrics: registered names or "all". n_samples: images per model, task and
    condition (and the size of the real reference set when enough real images exist).
    bootstrap: resamples for confidence intervals (0 = no intervals). absent: "negative" (the
    finding is negative) or "no_finding" (all four findings negative: the stricter reference).
    model_options / feature_options / metric_options: constructor arguments per model / feature
    extractor / metric (e.g. ``feature_options = {"inception-v3": {"weights": PATH}}``,
    ``metric_options = {"precision": {"feature_space": "inception-v3"}}``); checkpoints: per-model
    weight folders. floor: add the real-holdout reference (two disjoint real halves) to every run,
    so every metric shows its real-vs-real value. validity_n: the fewest images per set of each
    feature space's validity check (benchmark/space_validity.py); a smaller value makes the check
    cheaper in a costly space and the verdict noisier. reference_weights: a zoo folder (cxrbench/zoo) whose
    weights a model or the evaluator loads instead of training when they were trained for the same data and
    settings (default: the set shipped with cxrbench); retrain: train them even then, and even when cached.
    """

    models: tuple[str, ...] = ("all",)
    tasks: tuple[str, ...] = ("all",)
    metrics: tuple[str, ...] = ("all",)
    data: str = "phantom"
    data_root: str | None = None
    data_options: dict = field(default_factory=dict)
    resolution: int = 64
    n_samples: int = 128
    seed: int = 0
    out: Path = Path("runs/latest")
    device: str = "auto"
    batch_size: int = 64
    bootstrap: int = 1000
    prompt_style: str = "bare"
    absent: str = "negative"
    resume: bool = True
    cache_dir: Path = Path(".cxrbench-cache")
    model_options: dict[str, dict] = field(default_factory=dict)
    feature_options: dict[str, dict] = field(default_factory=dict)
    metric_options: dict[str, dict] = field(default_factory=dict)
    floor: bool = True
    checkpoints: dict[str, str] = field(default_factory=dict)
    samples: dict[str, str] = field(default_factory=dict)
    validity_n: int = 100
    reference_weights: str | None = None
    retrain: bool = False

    def __post_init__(self) -> None:
        if not 32 <= self.resolution <= 1024:
            raise ConfigError(f"resolution {self.resolution} is out of range; choose 32 to 1024")
        if self.n_samples < 2:
            raise ConfigError(f"n_samples {self.n_samples} is too small; use at least 2")
        if self.validity_n < 10:  # space_validity.FEWEST: below it no FD is worth comparing
            raise ConfigError(
                f"validity_n {self.validity_n} is too small; use at least 10 images per set of the "
                "feature-space validity check"
            )
        if self.batch_size < 1:
            raise ConfigError(f"batch_size {self.batch_size} must be at least 1")
        if self.bootstrap < 0:
            raise ConfigError(f"bootstrap {self.bootstrap} must be 0 (no intervals) or more")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ConfigError(f"unknown device {self.device!r}; choose auto, cpu, cuda or cuda:N")
        if self.prompt_style not in ("bare", "report"):
            raise ConfigError(f"unknown prompt style {self.prompt_style!r}; choose bare or report")
        if self.absent not in ("negative", "no_finding"):
            raise ConfigError(f"unknown absent meaning {self.absent!r}; choose negative or no_finding")
        _check_component_names(self)
        _check_sample_names(self)

    def with_overrides(self, **overrides: object) -> "RunConfig":
        """A copy with the non-None ``overrides`` applied (flags win over the TOML file)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        _check_keys(given, "option")
        for name, value in given.items():
            _check_type(name, value)
        return dataclasses.replace(self, **{k: _coerce(k, v) for k, v in given.items()})

    @classmethod
    def of_run(cls, manifest: dict, cache_dir: Path) -> "RunConfig":
        """The config a finished run was made with (its manifest's ``config``), reading from ``cache_dir``."""
        facts = {k: v for k, v in manifest["config"].items() if k not in ("out", "cache_dir")}
        return cls().with_overrides(**facts, cache_dir=cache_dir)

    @property
    def zoo(self) -> Path:
        """The folder of reference weights this run may load (``reference_weights``, else the shipped set)."""
        from cxrbench.zoo import PACKAGED

        return Path(self.reference_weights).expanduser() if self.reference_weights else PACKAGED

    def to_dict(self) -> dict:
        return {
            f.name: (str(v) if isinstance(v, Path) else v)
            for f in dataclasses.fields(self)
            for v in [getattr(self, f.name)]
        }

    def comparable(self) -> dict:
        """The settings that change any result row (JSON-normalised).

        Which models, tasks and metrics are selected is left out: rows are keyed by them, so a run
        may be extended with more of them. Feature-space options are left out because every row
        carries its feature space's identity, checked on resume, and validity_n because a resumed run
        checks the spaces again and restamps the rows it keeps. Where and how a run is written is
        left out too.
        """
        skip = {
            "out",
            "resume",
            "cache_dir",
            "device",
            "models",
            "tasks",
            "metrics",
            "feature_options",
            "floor",
            "validity_n",
            "samples",
            "reference_weights",  # where weights come from is the manifest's record, not a setting of the rows
            "retrain",
        }
        return json.loads(json.dumps({k: v for k, v in self.to_dict().items() if k not in skip}))


def load_config(path: Path) -> RunConfig:
    """A RunConfig from a TOML file; unknown keys are errors that name the closest valid key."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; check the path given to --config") from None
    except (IsADirectoryError, PermissionError) as error:
        raise ConfigError(
            f"config file {path} cannot be read ({error.strerror}); give --config a readable TOML file"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text; give --config a TOML file") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML ({error}); fix the line it names") from None
    _check_keys(raw, f"key in {path}")
    try:
        return RunConfig().with_overrides(**raw)
    except ConfigError as error:
        raise ConfigError(f"config file {path}: {error}") from None


_LISTS = {"models", "tasks", "metrics"}
_PATHS = {"out", "cache_dir"}


def _coerce(name: str, value: object) -> object:
    if name in _LISTS:
        return split_names(value)  # type: ignore[arg-type]
    if name in _PATHS:
        return Path(str(value))
    return value


# What each setting may be, by its annotation in RunConfig: a check and how to say it in the error.
_TYPE_CHECKS = {
    "tuple[str, ...]": (
        lambda v: isinstance(v, str) or (isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v)),
        'names: "all", "a,b" or a list of strings',
    ),
    "str": (lambda v: isinstance(v, str), "a string"),
    "str | None": (lambda v: isinstance(v, (str, Path)), "a string (a folder path)"),
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "Path": (lambda v: isinstance(v, (str, Path)), "a string (a path)"),
    "dict": (lambda v: isinstance(v, dict), "a table of options"),
    "dict[str, dict]": (
        lambda v: isinstance(v, dict) and all(isinstance(x, dict) for x in v.values()),
        "a table of tables: one [SECTION.NAME] table per component",
    ),
    "dict[str, str]": (
        lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
        'a table of NAME = "PATH" strings',
    ),
}


def _check_type(name: str, value: object) -> None:
    """A setting of the wrong type is a one-line error (no silent truthiness, no TypeError deep inside)."""
    annotation = next(f.type for f in dataclasses.fields(RunConfig) if f.name == name)
    check, expected = _TYPE_CHECKS[str(annotation)]
    if not check(value):
        raise ConfigError(
            f"setting {name} = {value!r} ({type(value).__name__}) has the wrong type; it must be {expected}"
        )


def _named_tables() -> dict:
    """Option tables keyed by component names, and how each name is checked (imported here:
    registries import nothing heavy, but they import this module). Metric options may name a
    metric, an alias or a metric in a space (``[metric_options."fd@rad-dino"]``)."""
    from cxrbench.metrics import FEATURE_EXTRACTORS
    from cxrbench.metrics.selection import check_spec
    from cxrbench.models import MODELS

    return {
        "model_options": MODELS.entry,
        "checkpoints": MODELS.entry,
        "feature_options": FEATURE_EXTRACTORS.entry,
        "metric_options": check_spec,
    }


def _check_component_names(config: RunConfig) -> None:
    """Every name in an option table is registered (a typo would otherwise be ignored silently)."""
    from cxrbench.errors import UnknownNameError

    if not any((config.model_options, config.checkpoints, config.feature_options, config.metric_options)):
        return
    for table, check in _named_tables().items():
        for name in getattr(config, table):
            try:
                check(name)
            except (UnknownNameError, ConfigError) as error:
                raise ConfigError(f"{table}: {error}") from None


def _check_sample_names(config: RunConfig) -> None:
    """A pre-generated set's name is a valid component name and no registered model's (rows are keyed by it)."""
    if not config.samples:
        return
    from cxrbench.models import MODELS
    from cxrbench.registry import VALID_NAME

    for name in config.samples:
        if not VALID_NAME.match(name) or name == "all":
            raise ConfigError(f"samples name {name!r} is not valid; use lowercase letters, digits, '.', '_' or '-'")
        if name in MODELS:
            raise ConfigError(f"samples name {name!r} is a registered model; give the pre-generated set another name")


def _check_keys(raw: dict, what: str) -> None:
    known = [f.name for f in dataclasses.fields(RunConfig)]
    for key in raw:
        if key not in known:
            close = closest(key, known)
            hint = f" did you mean {close!r}?" if close else ""
            raise ConfigError(f"unknown {what} {key!r};{hint} known: {', '.join(known)}")
