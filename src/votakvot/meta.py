"""Trial metadata: the provider table and how a trial's `meta` is collected from it.

`providers` maps dotted names (`git.commit`, `system.node`, ...) to zero-argument callables; it
is built on first access from the `votakvot.meta_providers` entry points. Copy it, edit the
copy and pass it to `votakvot.init(meta_providers=...)`. A provider that raises or returns None
is skipped; one slower than `init(meta_timeout=...)` is reported and not called again.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from . import plugins

__all__ = ["collect", "once_per_collection", "providers"]

log = logging.getLogger("votakvot.meta")

F = TypeVar("F", bound=Callable[[], Any])

_round: contextvars.ContextVar[dict[Any, Any] | None] = contextvars.ContextVar("votakvot_meta_round", default=None)
_failed: set[str] = set()
_slow: set[str] = set()


def _build_providers() -> dict[str, Callable[[], Any]]:
    table: dict[str, Callable[[], Any]] = {}
    for name, obj in plugins.entries(plugins.META_PROVIDERS).items():
        if isinstance(obj, Mapping):
            table.update(obj)
        elif callable(obj):
            table[name] = obj
        else:
            log.warning("skipping meta provider plug-in %r: not a mapping or callable", name)
    return table


def __getattr__(name: str) -> Any:
    if name == "providers":
        table = globals()["providers"] = _build_providers()
        return table
    raise AttributeError(f"module 'votakvot.meta' has no attribute {name!r}")


def default_providers() -> dict[str, Callable[[], Any]]:
    """Returns the shared provider table (`votakvot.meta.providers`)."""
    return __getattr__("providers") if "providers" not in globals() else globals()["providers"]


def once_per_collection(fn: F) -> F:
    """Caches `fn()` for one `collect` call, so providers of one trial can share work."""

    @functools.wraps(fn)
    def wrapper() -> Any:
        cache = _round.get()
        if cache is None:
            return fn()
        if fn not in cache:
            try:
                cache[fn] = (fn(), None)
            except Exception as e:
                cache[fn] = (None, e)
        value, error = cache[fn]
        if error is not None:
            raise error
        return value

    return wrapper  # type: ignore[return-value]


def collect(table: Mapping[str, Callable[[], Any]], *, timeout: float = 5.0) -> dict[str, Any]:
    """Calls every provider and nests the values by the dots in their names."""
    meta: dict[str, Any] = {}
    token = _round.set({})
    try:
        for name, provider in table.items():
            if name in _slow:
                continue
            start = time.perf_counter()
            try:
                value = provider()
            except Exception as e:
                if name not in _failed:
                    _failed.add(name)
                    log.warning("meta provider %r failed and is skipped: %r", name, e)
                continue
            took = time.perf_counter() - start
            if took > timeout:
                _slow.add(name)
                log.warning("meta provider %r took %.1f s; it is skipped from now on in this process", name, took)
            if value is not None:
                _put(meta, name, value)
    finally:
        _round.reset(token)
    return meta


def _put(meta: dict[str, Any], name: str, value: Any) -> None:
    *parents, leaf = name.split(".")
    node = meta
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[leaf] = value


def reset() -> None:
    """Forgets the provider table and which providers failed or were slow (for tests)."""
    globals().pop("providers", None)
    _failed.clear()
    _slow.clear()
