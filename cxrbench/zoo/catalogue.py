"""The zoo's catalogue: which reference weights exist, what they were trained for and by, and their sha256."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from cxrbench.cache import sha256_file
from cxrbench.errors import CxrbenchError
from cxrbench.files import atomic_directory, atomic_write_text

PACKAGED = Path(__file__).parent / "weights"  # the set shipped with cxrbench (read only)
CATALOGUE = "catalogue.json"
FORMAT = 1


@dataclass(frozen=True)
class ReferenceWeights:
    """One zoo entry, its files checked against their recorded sha256.

    directory: the entry's files, in the layout the component's own ``load`` reads. record: its catalogue
    entry (kind, settings key, cache key and code digest at training, recipe, files with sha256, provenance).
    """

    name: str
    directory: Path
    record: dict

    @property
    def sha256(self) -> str:
        """One digest over the entry's files (name and sha256 of each, in name order)."""
        return _combined(self.record["files"])

    def manifest(self, code: str) -> dict:
        """What a run's manifest records about these weights; ``code``: the code digest the run would train with."""
        return {
            "source": "reference weights",
            "path": str(self.directory),
            "sha256": self.sha256,
            "trained_by_code": self.record["code"],
            "code_matches": self.record["code"] == code,
            "trained_with": self.record.get("trained_with", {}),
        }


def read_catalogue(folder: Path) -> dict[str, dict]:
    """Entry name -> record of the zoo in ``folder`` (empty when it has no catalogue)."""
    path = Path(folder) / CATALOGUE
    if not path.is_file():
        return {}
    try:
        catalogue = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CxrbenchError(
            f"{path} is damaged ({error}); reinstall cxrbench or rebuild it with `cxrbench zoo rebuild`"
        ) from None
    if catalogue.get("format") != FORMAT:
        raise CxrbenchError(
            f"{path} has format {catalogue.get('format')!r}, not {FORMAT}; rebuild it with this cxrbench"
        )
    return catalogue["entries"]


def find_reference(folder: Path | None, name: str, kind: str, settings_key: str) -> ReferenceWeights | None:
    """The entry of ``folder``'s zoo for component ``name`` trained for ``settings_key``, or None (no folder,
    no such entry, or one for other settings). A file whose sha256 differs from the catalogue's is an error:
    damaged reference weights are never loaded, and training instead would hide the damage."""
    if folder is None:
        return None
    record = read_catalogue(folder).get(name)
    if record is None or record["kind"] != kind or record["settings_key"] != settings_key:
        return None
    directory = Path(folder) / record["folder"]
    for file, expected in record["files"].items():
        path = directory / file
        if not path.is_file() or sha256_file(path) != expected:
            raise CxrbenchError(
                f"reference weights {path} are missing or damaged (sha256 differs from {Path(folder) / CATALOGUE}); "
                "reinstall cxrbench, or pass --retrain to train instead"
            )
    return ReferenceWeights(name, directory, record)


def record_entry(folder: Path, name: str, source: Path, record: dict) -> dict:
    """Copy the files of ``source`` into ``folder``/``name`` and list them, with ``record``, in the catalogue.

    record: kind, settings_key, cache_key, code, recipe and trained_with (what ``find_reference`` and
    ``ReferenceWeights.manifest`` read). Returns the full entry, with each file's sha256.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_directory(folder / name, lambda staging: shutil.copytree(source, staging, dirs_exist_ok=True))
    stored = sorted(p for p in (folder / name).rglob("*") if p.is_file())
    files = {p.relative_to(folder / name).as_posix(): sha256_file(p) for p in stored}
    entry = {**record, "folder": name, "files": files, "sha256": _combined(files)}
    entries = {**read_catalogue(folder), name: entry}
    text = json.dumps({"format": FORMAT, "entries": dict(sorted(entries.items()))}, indent=2, sort_keys=True)
    atomic_write_text(folder / CATALOGUE, text + "\n")
    return entry


def _combined(files: dict[str, str]) -> str:
    import hashlib

    digest = hashlib.sha256()
    for file, sha in sorted(files.items()):
        digest.update(f"{file}:{sha}\n".encode())
    return digest.hexdigest()
