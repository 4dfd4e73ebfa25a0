"""Built-in metadata about the machine, the process and the Python interpreter."""

from __future__ import annotations

import functools
import getpass
import os
import platform
import sys
from collections.abc import Callable
from typing import Any


@functools.cache
def _memory_total() -> int | None:
    try:  # Linux and macOS answer without importing psutil (10 ms of a fresh process's first trial)
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        pass
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


def _once(fn: Callable[[], Any]) -> Callable[[], Any]:
    """Makes a provider of a value that cannot change during the process, computed on first use.

    Defined here, so the provider counts as a built-in (run inline, see `votakvot.meta`).
    """

    @functools.cache
    def provider() -> Any:
        return fn()

    return provider


SYSTEM_PROVIDERS: dict[str, Any] = {
    "system.machine": _once(platform.machine),
    "system.platform": _once(platform.platform),
    "system.node": _once(platform.node),
    "system.user": _user,
    "system.cwd": lambda: os.getcwd(),
    "system.cpu_count": _once(os.cpu_count),
    "system.memory": _memory_total,
}

PROCESS_PROVIDERS: dict[str, Any] = {
    "process.pid": lambda: os.getpid(),
    "process.argv": lambda: list(sys.argv),
}

PYTHON_PROVIDERS: dict[str, Any] = {
    "python.version": _once(platform.python_version),
    "python.implementation": _once(platform.python_implementation),
    "python.executable": lambda: sys.executable,
    "python.venv": _venv,
}
