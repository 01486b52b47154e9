"""One process per run directory: an exclusive lock that dies with its holder.

The lock is ``fcntl.flock`` on ``DIR/.lock``. The kernel drops it when the holding process exits,
however it exits (kill -9 included), so a lock file left by a dead process is stale by
construction and the next run simply takes it over. The file holds the holder's pid and host,
only to name it in the refusal message.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from cxrbench.errors import ConfigError, CxrbenchError

LOCK_FILE = ".lock"


class RunLockedError(CxrbenchError):
    """Another live process is writing the same run directory."""


@contextmanager
def run_lock(root: Path) -> Iterator[None]:
    """Hold the run directory's lock for the duration of the block; refuse when a live process holds it."""
    if root.exists() and not root.is_dir():
        raise ConfigError(f"--out {root} is a file; give a folder for the run")
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_FILE
    handle = open(path, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLockedError(
                f"{root} is in use by another cxrbench process ({_holder(path)}); wait for it to finish, "
                "or give another --out"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
        handle.flush()
        yield
    finally:
        handle.close()  # releases the lock; the file stays (removing it would race a waiting process)


def _holder(path: Path) -> str:
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
        return f"pid {holder['pid']} on {holder['host']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown"
