"""Built-in metadata about the machine, the process and the Python interpreter."""

from __future__ import annotations

import functools
import getpass
import os
import platform
import sys
from typing import Any


@functools.cache
def _memory_total() -> int | None:
    try:
        import psutil
    except ImportError:
        return None
    return int(psutil.virtual_memory().total)


@functools.cache
def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry, e.g. in some containers
        return None


@functools.cache
def _venv() -> str | None:
    if sys.prefix != getattr(sys, "base_prefix", sys.prefix):
        return sys.prefix
    return os.environ.get("VIRTUAL_ENV") or os.environ.get("CONDA_PREFIX")


SYSTEM_PROVIDERS: dict[str, Any] = {
    "system.machine": functools.cache(platform.machine),
    "system.platform": functools.cache(platform.platform),
    "system.node": functools.cache(platform.node),
    "system.user": _user,
    "system.cwd": os.getcwd,
    "system.cpu_count": functools.cache(os.cpu_count),
    "system.memory": _memory_total,
}

PROCESS_PROVIDERS: dict[str, Any] = {
    "process.pid": os.getpid,
    "process.argv": lambda: list(sys.argv),
}

PYTHON_PROVIDERS: dict[str, Any] = {
    "python.version": functools.cache(platform.python_version),
    "python.implementation": functools.cache(platform.python_implementation),
    "python.executable": lambda: sys.executable,
    "python.venv": _venv,
}
