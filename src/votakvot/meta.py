"""Trial metadata: the provider table and how a trial's `meta` is collected from it.

`providers` maps dotted names (`git.commit`, `system.node`, ...) to zero-argument callables; it
is built on first access from the `votakvot.meta_providers` entry points. Copy it, edit the
copy and pass it to `votakvot.init(meta_providers=...)`. A provider that raises or returns None
is skipped; one slower than `init(meta_timeout=...)` is reported and not called again. Plug-in
providers run on a helper thread (so a slow one can be left behind), except those marked
`in_trial_thread`, which read the state of the thread that opens the trial.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import queue
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from . import plugins
from ._process import settings, state

__all__ = ["collect", "in_trial_thread", "once_per_collection", "providers"]  # noqa: F822 - built lazily

log = logging.getLogger("votakvot.meta")

F = TypeVar("F", bound=Callable[[], Any])

_round: contextvars.ContextVar[dict[Any, Any] | None] = contextvars.ContextVar("votakvot_meta_round", default=None)
_failed: set[str] = set()
_slow: set[str] = set()


def _installed() -> dict[str, Callable[[], Any]]:
    """Builds the provider table from the `votakvot.meta_providers` entry points."""
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
    # `providers` is built on first access, so `import votakvot` scans no entry points.
    if name == "providers":
        table = globals()["providers"] = _installed()
        return table
    raise AttributeError(f"module 'votakvot.meta' has no attribute {name!r}")


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


# The attribute `in_trial_thread` sets on a provider.
_IN_TRIAL_THREAD = "__votakvot_in_trial_thread__"


def in_trial_thread(provider: F) -> F:
    """Marks a provider to be called in the thread that opens the trial, and returns it.

    Plug-in providers otherwise run on a helper thread (which sees the caller's context
    variables, but not its thread-local state), so that one slower than `meta_timeout` can be
    left behind. A framework's task context is often thread-local (Dask's running task key,
    Ray's task id): a provider reading it is marked, and must be quick, as no deadline applies.

        @votakvot.meta.in_trial_thread
        def task_key() -> str | None:
            return getattr(distributed.worker.thread_state, "key", None)
    """
    if not callable(provider):
        raise TypeError(f"in_trial_thread() takes a provider (a callable), not {provider!r}")
    try:
        setattr(provider, _IN_TRIAL_THREAD, True)
    except (AttributeError, TypeError):
        raise TypeError(
            f"in_trial_thread() cannot mark {provider!r} (it takes no attributes); "
            "mark a plain function that calls it instead"
        ) from None
    return provider


def _inline(provider: Callable[[], Any]) -> bool:
    """Tells whether a provider runs in the trial's own thread: the built-ins and those marked."""
    return getattr(provider, "__module__", "").startswith("votakvot._builtins.") or bool(
        getattr(provider, _IN_TRIAL_THREAD, False)
    )


def _call(name: str, provider: Callable[[], Any], out: dict[str, Any]) -> None:
    try:
        out[name] = provider()
    except Exception as e:
        if name not in _failed:
            _failed.add(name)
            log.warning("meta provider %r failed and is skipped: %r", name, e)


class _Worker:
    """A daemon thread that runs plug-in providers, so the caller can stop waiting for them."""

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.current: str | None = None
        threading.Thread(target=self._run, name="votakvot-meta", daemon=True).start()

    def _run(self) -> None:
        state.quiet_thread()
        while True:
            ctx, items, out, done = self.jobs.get()
            for name, provider in items:
                self.current = name
                ctx.run(_call, name, provider, out)
            self.current = None
            done.set()


_worker: _Worker | None = None
_worker_lock = threading.Lock()


def _run_with_deadline(items: list[tuple[str, Callable[[], Any]]], timeout: float) -> dict[str, Any]:
    global _worker
    with _worker_lock:
        if _worker is None:
            _worker = _Worker()
        worker = _worker
    out: dict[str, Any] = {}
    done = threading.Event()
    worker.jobs.put((contextvars.copy_context(), items, out, done))
    if done.wait(timeout):
        return out
    stuck = worker.current
    if stuck is not None:
        _slow.add(stuck)
        log.warning("meta provider %r took longer than %.1f s; it is skipped from now on", stuck, timeout)
    with _worker_lock:
        if _worker is worker:  # the stuck thread is left behind; later trials get a fresh one
            _worker = None
    return dict(out)


def collect(table: Mapping[str, Callable[[], Any]], *, timeout: float = 5.0) -> dict[str, Any]:
    """Calls every provider and nests the values by the dots in their names."""
    values: dict[str, Any] = {}
    token = _round.set({})
    try:
        deferred = []
        for name, provider in table.items():
            if name in _slow:
                continue
            if _inline(provider):
                _call(name, provider, values)
            else:
                deferred.append((name, provider))
        if deferred:
            values.update(_run_with_deadline(deferred, timeout))
    finally:
        _round.reset(token)
    meta: dict[str, Any] = {}
    for name in table:
        value = values.get(name)
        if value is not None:
            _put(meta, name, value)
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


def _table() -> dict[str, Callable[[], Any]]:
    """The installed provider table, built now if nothing asked for it yet."""
    table: dict[str, Callable[[], Any]] = globals().get("providers") or __getattr__("providers")
    return table


# How a provider table travels to other processes (see `votakvot.settings()`): an installed
# provider by its name (the other process uses its own), a module-level function by reference.
_INSTALLED = "installed"


def _reference(name: str, provider: Callable[[], Any]) -> str | None:
    if _table().get(name) is provider:
        return _INSTALLED
    return settings.module_reference(name, provider)


def _resolve(name: str, ref: str) -> Callable[[], Any] | None:
    if ref == _INSTALLED:
        return _table().get(name)
    return settings.import_reference(name, ref)


settings.use_provider_references(_reference, _resolve)


def _reset() -> None:
    globals().pop("providers", None)
    _failed.clear()
    _slow.clear()


def _in_child() -> None:
    global _worker, _worker_lock
    _worker = None  # its thread did not survive the fork: the next trial starts a new one
    _worker_lock = threading.Lock()


state.register(reset=_reset, after_fork=_in_child)
