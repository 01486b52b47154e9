"""Weights on disk: safetensors for tensors plus a JSON config beside them, written atomically."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from cxrbench.errors import CxrbenchError
from cxrbench.files import atomic_directory

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


def save_checkpoint(directory: Path, tensors: dict[str, torch.Tensor], config: dict) -> None:
    """Write ``tensors`` and ``config`` into ``directory``; readers never see a half-written one."""

    def fill(staging: Path) -> None:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(staging / WEIGHTS_FILE))
        (staging / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True))

    atomic_directory(directory, fill)


def load_torch_tensors(path: Path, fix: str) -> dict:
    """A ``torch.save`` file of tensors, read with ``torch.load(weights_only=True)``: a file holding any
    other pickled object (code that would run when unpickled) is refused, never executed.

    fix: what the user should do when the file is refused (said in the one-line error).
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as error:
        # torch's message is a page of advice; what was refused fits in a few words
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(error))
        reason = f"it holds {found.group(1)}" if found else "damaged, or not written by torch.save"
        raise CxrbenchError(
            f"{path} cannot be read safely: it is not a plain file of tensors (refused, nothing "
            f"was unpickled: {reason[:160]}); {fix}"
        ) from None


def load_checkpoint(directory: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Read what ``save_checkpoint`` wrote; a missing file is a one-line user error."""
    directory = Path(directory)
    weights, config = directory / WEIGHTS_FILE, directory / CONFIG_FILE
    for path in (weights, config):
        if not path.is_file():
            raise CxrbenchError(
                f"checkpoint {directory} has no {path.name}; pass a directory written by `cxrbench train`"
            )
    try:
        return load_file(str(weights)), json.loads(config.read_text())
    except (SafetensorError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CxrbenchError(
            f"checkpoint {directory} is damaged or not safetensors ({error}); cxrbench reads "
            "safetensors only, never pickles: train it again or restore it"
        ) from None
