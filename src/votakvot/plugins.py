"""Plug-in contracts and their discovery through entry points.

Three entry-point groups extend votakvot; the built-ins are registered the same way (in this
package's pyproject.toml), with the same table below as a fallback for a source checkout:

- `votakvot.meta_providers`: a mapping `{"dotted.name": callable}` (or one callable, named after
  the entry point); each callable returns a value for the trial's `meta`, or None to be skipped.
- `votakvot.serializers`: a class with `suffix`, `dumps(obj) -> bytes`, `loads(data, trusted=)`.
- `votakvot.sinks`: a class called with the live trial, one instance per trial, whose
  `subscriptions()` maps event types to handlers, and optionally `tick(now)` (called about once
  per flush interval while the trial runs).

Discovery is lazy (first trial, not `import votakvot`) and cached; a plug-in that fails to load
is logged and skipped. `reset()` forgets the cache (for tests).
"""

from __future__ import annotations

import importlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from . import _envvars
from .errors import PluginError

if TYPE_CHECKING:
    from ._trial import LiveTrial

__all__ = [
    "GROUPS",
    "MetaProvider",
    "Serializer",
    "Sink",
    "SinkFactory",
    "entries",
    "get",
    "reset",
]

log = logging.getLogger("votakvot.plugins")

META_PROVIDERS = "votakvot.meta_providers"
SERIALIZERS = "votakvot.serializers"
SINKS = "votakvot.sinks"
GROUPS = (META_PROVIDERS, SERIALIZERS, SINKS)

# Built-ins, also declared as entry points in pyproject.toml; used when metadata is absent.
_BUILTIN: dict[str, dict[str, str]] = {
    META_PROVIDERS: {
        "git": "votakvot._meta_git:GIT_PROVIDERS",
        "process": "votakvot._meta_system:PROCESS_PROVIDERS",
        "python": "votakvot._meta_system:PYTHON_PROVIDERS",
        "system": "votakvot._meta_system:SYSTEM_PROVIDERS",
    },
    SERIALIZERS: {
        "pickle": "votakvot._pickle:PickleSerializer",
        "yaml": "votakvot._yaml:YamlSerializer",
    },
    SINKS: {
        "csv": "votakvot._csv_sink:CsvMetricsSink",
        "pickle": "votakvot._snapshot_sink:PickleSnapshotSink",
        "system": "votakvot._system_metrics:SystemMetricsSink",
        "yaml": "votakvot._yaml_sink:YamlTrialSink",
    },
}
_SLOW_IMPORT_S = 1.0


@runtime_checkable
class MetaProvider(Protocol):
    """Returns one metadata value for a trial, or None when it does not apply."""

    def __call__(self) -> Any: ...


@runtime_checkable
class Serializer(Protocol):
    """Turns objects into bytes and back; `suffix` names the files it writes."""

    suffix: str

    def dumps(self, obj: Any) -> bytes: ...

    def loads(self, data: bytes, *, trusted: bool = False) -> Any: ...


@runtime_checkable
class Sink(Protocol):
    """Stores one trial's events; made per trial by its `SinkFactory`."""

    def subscriptions(self) -> Mapping[type, Callable[[Any], None]]: ...


class SinkFactory(Protocol):
    """Builds the sink of one live trial (usually the sink class itself)."""

    def __call__(self, trial: LiveTrial) -> Sink: ...


_cache: dict[str, dict[str, Any]] = {}


def _load(group: str, name: str, target: Any) -> Any:
    start = time.perf_counter()
    obj = target.load() if hasattr(target, "load") else _import(target)
    took = time.perf_counter() - start
    if took > _SLOW_IMPORT_S:
        log.warning("plug-in %s:%s took %.1f s to import", group, name, took)
    return obj


def _import(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _discover(group: str) -> dict[str, Any]:
    found: dict[str, Any] = dict(_BUILTIN.get(group, {}))
    if os.environ.get(_envvars.PLUGINS, "1") != "0":
        from importlib.metadata import entry_points

        try:
            for ep in entry_points(group=group):
                found[ep.name] = ep
        except Exception:
            log.exception("could not list entry points of %s; using built-ins only", group)
    loaded: dict[str, Any] = {}
    for name in sorted(found):
        try:
            loaded[name] = _load(group, name, found[name])
        except Exception as e:
            log.warning("skipping plug-in %s:%s, it failed to load: %r", group, name, e)
    return loaded


def entries(group: str) -> dict[str, Any]:
    """Returns `{name: loaded object}` for every working plug-in of `group`, sorted by name."""
    if group not in GROUPS:
        raise PluginError(f"unknown plug-in group {group!r}; use one of {GROUPS}")
    got = _cache.get(group)
    if got is None:
        got = _cache[group] = _discover(group)
    return got


def get(group: str, name: str) -> Any:
    """Returns the plug-in `name` of `group`, or raises PluginError saying what is installed."""
    found = entries(group)
    if name not in found:
        raise PluginError(f"no {group} plug-in named {name!r}; installed: {sorted(found)}")
    return found[name]


def reset() -> None:
    """Forgets discovered plug-ins so the next use scans entry points again (for tests)."""
    _cache.clear()
