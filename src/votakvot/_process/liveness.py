"""Whether the process a trial file names is still alive: this machine's name, pids, start times."""

from __future__ import annotations

import functools
import os

from . import state


@functools.cache
def node() -> str:
    """Returns this machine's network name (what `meta.system.node` records)."""
    import platform

    return platform.node()


def pid_alive(pid: int) -> bool:
    """Tells whether a process with this pid exists on this machine (it may not be ours to signal)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def started(pid: int) -> float | None:
    """Returns when the process `pid` started (Unix seconds), or None if that cannot be told.

    A pid is reused once its process is gone; the start time tells a new process from the old.
    """
    try:
        import psutil

        return float(psutil.Process(pid).create_time())
    except Exception:  # no such process, no permission, or no psutil on this platform
        return None


state.register(reset=node.cache_clear, after_fork=node.cache_clear)
