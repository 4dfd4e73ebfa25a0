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


@functools.cache
def _machine() -> str:
    return platform.machine()


@functools.cache
def _platform() -> str:
    return platform.platform()


@functools.cache
def _node() -> str:
    return platform.node()


@functools.cache
def _cpu_count() -> int | None:
    return os.cpu_count()


def _cwd() -> str:
    return os.getcwd()


def _pid() -> int:
    return os.getpid()


def _argv() -> list[str]:
    return list(sys.argv)


@functools.cache
def _python_version() -> str:
    return platform.python_version()


@functools.cache
def _implementation() -> str:
    return platform.python_implementation()


def _executable() -> str:
    return sys.executable


SYSTEM_PROVIDERS: dict[str, Any] = {
    "system.machine": _machine,
    "system.platform": _platform,
    "system.node": _node,
    "system.user": _user,
    "system.cwd": _cwd,
    "system.cpu_count": _cpu_count,
    "system.memory": _memory_total,
}

PROCESS_PROVIDERS: dict[str, Any] = {
    "process.pid": _pid,
    "process.argv": _argv,
}

PYTHON_PROVIDERS: dict[str, Any] = {
    "python.version": _python_version,
    "python.implementation": _implementation,
    "python.executable": _executable,
    "python.venv": _venv,
}
