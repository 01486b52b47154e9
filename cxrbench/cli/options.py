"""Flag helpers shared by the commands: the config from TOML and flags, data and feature-space options,
output folders, progress."""

from __future__ import annotations

import errno
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

from cxrbench.errors import OutputFolderError

WRITE_ERRNOS = {errno.EACCES, errno.EROFS, errno.ENOSPC, errno.EDQUOT}


def within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents or path in folder.parents  # parents: created with mkdir


@contextmanager
def writing_to(out: Optional[Path], cache: Optional[Path] = None):
    """Turn a failed write into the output folder or cache into one line naming the folder and the fix.

    Only the errno values in WRITE_ERRNOS, and only for files in (or above) those folders or for
    writes on open files (which carry no file name); every other OSError stays a traceback. What
    was finished before the failure stays: each row and sample set is written atomically.
    """
    try:
        yield
    except OSError as error:
        if error.errno not in WRITE_ERRNOS:
            raise
        folders = {name: Path(os.path.abspath(f)) for name, f in (("out", out), ("cache", cache)) if f is not None}
        target = Path(os.path.abspath(error.filename)) if error.filename else None
        where = next((name for name, folder in folders.items() if target is None or within(target, folder)), None)
        if where is None:
            raise
        folder = folders[where] if target is None else (target if target.is_dir() else target.parent)
        other = "point CXRBENCH_CACHE at another folder" if where == "cache" else "choose another --out"
        problem = (
            "no space left (disk full or quota)"
            if error.errno in (errno.ENOSPC, errno.EDQUOT)
            else f"no permission to write ({error.strerror})"
        )
        fix = "free space" if error.errno in (errno.ENOSPC, errno.EDQUOT) else "make it writable"
        raise OutputFolderError(
            f"cannot write to {folder}: {problem}; {fix} or {other}, then rerun the same command "
            "(finished results are kept)"
        ) from None


def base_config(config_file: Optional[Path]):
    from cxrbench.cache import default_cache_root
    from cxrbench.config import RunConfig, load_config

    base = load_config(config_file) if config_file else RunConfig()
    if base.cache_dir == RunConfig().cache_dir:
        base = base.with_overrides(cache_dir=default_cache_root())
    return with_inception_weights(base, os.environ.get("CXRBENCH_INCEPTION_WEIGHTS"))


def with_option(config, table: str, name: str | None, key: str, value: object):
    """``config`` with one entry of an option table set (``name`` None: ``data_options`` itself); None leaves
    it as it is. Every flag that sets an option (--set and its shortcuts) comes here."""
    if value is None:
        return config
    current = {k: dict(v) if isinstance(v, dict) else v for k, v in getattr(config, table).items()}
    if name is None:
        current[key] = value
    else:
        current.setdefault(name, {})[key] = value
    return config.with_overrides(**{table: current})


def with_data_option(config, name: str, value: object):
    """``config`` with one dataset option set, unless ``value`` is None."""
    return with_option(config, "data_options", None, name, value)


def with_model_path(config, path: Optional[str]):
    """``config`` with roentgen's pipeline directory set, unless ``path`` is None (--model-path)."""
    return with_option(config, "model_options", "roentgen", "model_path", path or None)


def unpublished_weights_notes(identities: dict[str, dict]) -> list[str]:
    """One note per feature space whose identity says its weights are not the published ones
    (``identities``: space -> a row's comparability, or the manifest's facts of that space)."""
    from cxrbench.metrics.feature_extractor import PUBLISHED_WEIGHTS_FIELD

    return [
        f"note: {space} ran with weights that are not its published ones (sha256 "
        f"{facts.get('weights_sha256', '')[:8]}...): its rows say {PUBLISHED_WEIGHTS_FIELD}: false and are not "
        "comparable with values published in that space"
        for space, facts in identities.items()
        if facts.get(PUBLISHED_WEIGHTS_FIELD) is False
    ]


FEATURE_OPTION_HELP = (
    "an option of a feature space, NAME.KEY=VALUE (repeatable), e.g. xrv-densenet.weights=PATH; "
    "VALUE is read as TOML (numbers, true/false), else as text; the same as "
    "[feature_options.NAME] KEY = VALUE in --config (a shortcut for --set feature.NAME.KEY=VALUE)"
)
SET_HELP = (
    "a setting of one component, SECTION.NAME.KEY=VALUE (repeatable): model.pca-gaussian.components=32, "
    "metric.utility.epochs=1, feature.clip.weights=DIR, or data.KEY=VALUE (data.view=both); VALUE is read "
    "as TOML (numbers, true/false), else as text; the same as [model_options.NAME] KEY = VALUE (metric_options, "
    "feature_options, data_options) in --config"
)
# --set's sections and the RunConfig table each one writes
SECTIONS = {"model": "model_options", "metric": "metric_options", "feature": "feature_options", "data": "data_options"}


def setting(text: str, flag: str = "--set", section: str | None = None) -> tuple[str, str | None, str, object]:
    """``"model.pca-gaussian.components=32"`` -> ("model_options", "pca-gaussian", "components", 32);
    ``"data.view=both"`` -> ("data_options", None, "view", "both"). ``section`` given: ``text`` has no section
    (``--feature-option``'s NAME.KEY=VALUE). A bad form is a one-line error naming ``flag``."""
    from cxrbench.config import tomllib
    from cxrbench.errors import ConfigError

    target, equals, raw = text.partition("=")
    target = target.strip()
    if section is None:
        section, _, target = target.partition(".")
    form, example = (
        ("NAME.KEY=VALUE", "xrv-densenet.weights=PATH")
        if flag == "--feature-option"
        else ("SECTION.NAME.KEY=VALUE or data.KEY=VALUE", "model.pca-gaussian.components=32")
    )
    if section not in SECTIONS:
        raise ConfigError(f"{flag} {text!r}: the section must be one of {', '.join(SECTIONS)}; it looks like {form}")
    name, dot, key = target.rpartition(".") if section != "data" else (None, ".", target)
    if not equals or not dot or name == "" or not key.strip():
        raise ConfigError(f"{flag} {text!r} must look like {form}, e.g. {example}")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # a path or other text, without quotes
    return SECTIONS[section], name, key.strip(), value


def with_settings(config, texts: Optional[list[str]], flag: str = "--set", section: str | None = None):
    """``config`` with each ``--set`` (or ``--feature-option``) on top of its tables; the config checks every
    component name ("did you mean ...?"), and the run each component's option names before any work."""
    for text in texts or []:
        config = with_option(config, *setting(text, flag, section))
    return config


def with_data_and_spaces(
    config,
    data: Optional[str],
    data_root: Optional[str],
    on_bad_image: Optional[str],
    inception_weights: Optional[str],
    feature_options: Optional[list[str]],
):
    """``config`` with the dataset and feature-space flags that `run` and `validate-metrics` share
    (flags win over --config; None leaves a setting as it is)."""
    config = config.with_overrides(data=data, data_root=data_root)
    config = with_data_option(with_inception_weights(config, inception_weights), "on_bad_image", on_bad_image)
    return with_settings(config, feature_options, "--feature-option", "feature")


def with_inception_weights(config, path: Optional[str]):
    """``config`` with the FID Inception weights file set, unless ``path`` is None."""
    return with_option(config, "feature_options", "inception-v3", "weights", path or None)


PROGRESS_SECONDS = "CXRBENCH_PROGRESS_SECONDS"  # how often a log (no terminal) gets a progress line


def reporter():
    """Progress for the user: bars in a terminal; in a log file, a timestamped line per step and every
    $CXRBENCH_PROGRESS_SECONDS (default 30) during long steps."""
    from cxrbench.benchmark.progress import terminal_or_log
    from cxrbench.errors import ConfigError

    text = os.environ.get(PROGRESS_SECONDS, "30")
    try:
        interval = float(text)
    except ValueError:
        interval = 0.0
    if not interval > 0:
        raise ConfigError(f"{PROGRESS_SECONDS}={text!r} must be a number of seconds above 0")
    return terminal_or_log(interval)


def processes_for(device: str):
    """This process's place among those `accelerate launch` started (the only one without it)."""
    import torch

    from cxrbench.benchmark.distributed import Processes

    return Processes.from_accelerate(cpu=device == "cpu" or not torch.cuda.is_available())
