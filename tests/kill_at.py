"""Run cxrbench commands and SIGKILL each at the K-th call of one function: a power cut or the OOM
killer at a chosen point of a run, with no change to the code under test.

A server: it imports cxrbench (torch, scipy, ...) once, then for each request read from stdin, one
JSON object per line, forks a child that runs the command and dies at the point. It answers one
JSON line per request: {"status": -9} (killed there), or the exit code when the command ended
first (3 when it finished without reaching the point, so a test can tell a point that moved).

A request: {"point": "FILE:QUALNAME", "k": K, "arg": "NAME=VALUE" or null, "argv": [...], "log": PATH}.
FILE is a path inside the cxrbench package (``benchmark/runner.py``), QUALNAME a function's qualified
name (``RunDirectory.prepare``). With ``arg`` only calls whose argument NAME is a path whose file
name is VALUE count (``path=manifest.json``). The child's stdout and stderr go to ``log``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

# What every run imports: paid once here instead of once per killed run (no torch op runs before
# a fork, so no thread pool is copied half-made).
import cxrbench.benchmark.runner  # noqa: F401
import cxrbench.cli
import cxrbench.metrics.auroc  # noqa: F401  (scipy.stats)


def _profile(point: str, k: int, arg: str | None):
    """A profile hook that kills the process at the K-th call of ``point``."""
    file, qualname = point.split(":")
    suffix = os.sep + os.path.join("cxrbench", *file.split("/"))
    name, value = arg.split("=") if arg else (None, None)
    calls = 0

    def profile(frame, event, _arg):
        nonlocal calls
        code = frame.f_code
        if event != "call" or code.co_qualname != qualname or not code.co_filename.endswith(suffix):
            return
        if name is not None and Path(str(frame.f_locals.get(name, ""))).name != value:
            return
        calls += 1
        if calls == k:
            os.kill(os.getpid(), signal.SIGKILL)

    return profile


def _child(request: dict) -> None:
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(log, 1)
    os.dup2(log, 2)
    profile = _profile(request["point"], int(request["k"]), request.get("arg"))
    threading.setprofile(profile)
    sys.setprofile(profile)
    sys.argv = ["cxrbench", *request["argv"]]
    code = 3
    try:
        cxrbench.cli.main()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) and exit_.code else 3
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        _, status = os.waitpid(pid, 0)
        answer = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        print(json.dumps({"status": answer}), flush=True)


if __name__ == "__main__":
    main()
