"""Plug-in contracts and their discovery through entry points.

Five entry-point groups extend votakvot; the built-ins are registered the same way (in this
package's pyproject.toml), with the same table below as a fallback for a source checkout:

- `votakvot.meta_providers`: a mapping `{"dotted.name": callable}` (or one callable, named after
  the entry point); each callable returns a value for the trial's `meta`, or None to be skipped.
- `votakvot.serializers`: a class with `suffix`, `dumps(obj) -> bytes`, `loads(data, trusted=)`.
- `votakvot.sinks`: a class called with a `TrialView` of the live trial, one instance per
  trial, whose `subscriptions()` maps event types to handlers, and optionally `tick(now)`
  (called about once per flush interval while the trial runs) and `heartbeat(now)` (called
  every `init(heartbeat=...)` seconds). Both are scheduled on a monotonic clock, so a wall clock
  set back or forward changes nothing; `now` is the wall time (`time.time()`), for recording
  only. A sink stores what the user
  tracked, so it sees only the `TrialView` below: ids, settings, the document, and the trial
  folder through `TrialFiles` (names relative to the folder; writes are atomic). A sink that
  only copies the trial elsewhere (a bridge into another tracker) says so with `mirror = True`:
  the trial does not depend on it (see `Sink`).
- `votakvot.params`: a mapping `{"module.Class": recorder}`; a param whose value is of that
  class (or a subclass) is recorded as `recorder(name, value)` returns, a mapping of params put
  in its place, each time the trial document is written (see `ParamRecorder`).
- `votakvot.statuses`: a mapping `{"module.ExceptionClass": status}`; a trial ended by such an
  exception gets that status (one of `ENDING_STATUSES`) instead of `failed`.

Classes are named by path, and matched only once their module has been imported by someone
else: votakvot never imports a framework to look for its types, and neither needs a plug-in.

A sink, complete::

    class JsonResultSink:
        def __init__(self, trial: votakvot.plugins.TrialView) -> None:
            self.trial = trial

        def subscriptions(self):
            return {votakvot.events.Finished: self.finished}

        def finished(self, event: votakvot.events.Finished) -> None:
            data = json.dumps({"tid": self.trial.tid, "status": event.status}).encode()
            self.trial.files.write("result.json", data)

Discovery is lazy (first trial, not `import votakvot`) and cached; a plug-in that fails to load
is logged and skipped. `reset()` forgets the cache (for tests). A plug-in that keeps state for
the whole process registers it with `register_state`, so tests and forked children start clean.
"""

from __future__ import annotations

import importlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import IO, Any, Protocol, runtime_checkable

from . import _envvars
from ._files.layout import (
    DOCUMENT,
    ENDED_STATUSES,
    HEARTBEAT,
    MAX_DOCUMENT_BYTES,
    MAX_PARAM_BYTES,
    SNAPSHOT_STEM,
    SUPERSEDED,
    TRACEBACK,
    metrics_file,
    parse_metrics_file,
)
from ._process import entry_points, state
from ._process import settings as process_settings
from ._process.settings import Settings
from .errors import PluginError, SettingsError

__all__ = [
    "DOCUMENT",
    "ENDING_STATUSES",
    "GROUPS",
    "HEARTBEAT",
    "MAX_DOCUMENT_BYTES",
    "MAX_PARAM_BYTES",
    "MetaProvider",
    "ParamRecorder",
    "SNAPSHOT_STEM",
    "SUPERSEDED",
    "Serializer",
    "Settings",
    "Sink",
    "SinkFactory",
    "TRACEBACK",
    "TrialFiles",
    "TrialView",
    "entries",
    "get",
    "metrics_file",
    "parse_metrics_file",
    "parse_snapshot_record",
    "register_state",
    "reset",
    "snapshot_record",
]

log = logging.getLogger("votakvot.plugins")

META_PROVIDERS = "votakvot.meta_providers"
SERIALIZERS = "votakvot.serializers"
SINKS = "votakvot.sinks"
PARAMS = "votakvot.params"
STATUSES = "votakvot.statuses"
GROUPS = (META_PROVIDERS, SERIALIZERS, SINKS, PARAMS, STATUSES)

# What a `votakvot.statuses` plug-in may end a trial with: any status a trial ends with but
# `done` (an exception did end it), e.g. `pruned` for a trial stopped early on purpose (an
# unpromising trial cut short by a hyperparameter search).
ENDING_STATUSES = tuple(status for status in ENDED_STATUSES if status != "done")

# Built-ins, also declared as entry points in pyproject.toml; used when metadata is absent.
_BUILTIN: dict[str, dict[str, str]] = {
    META_PROVIDERS: {
        "git": "votakvot._builtins.git_meta:GIT_PROVIDERS",
        "process": "votakvot._builtins.system_meta:PROCESS_PROVIDERS",
        "python": "votakvot._builtins.system_meta:PYTHON_PROVIDERS",
        "system": "votakvot._builtins.system_meta:SYSTEM_PROVIDERS",
    },
    SERIALIZERS: {
        "pickle": "votakvot._files.pickle_format:PickleSerializer",
        "yaml": "votakvot._files.yaml_format:YamlSerializer",
    },
    SINKS: {
        "csv": "votakvot._builtins.csv_metrics_sink:CsvMetricsSink",
        "pickle": "votakvot._builtins.snapshot_sink:PickleSnapshotSink",
        "system": "votakvot._builtins.system_metrics_sink:SystemMetricsSink",
        "yaml": "votakvot._builtins.document_sink:YamlTrialSink",
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
class ParamRecorder(Protocol):
    """Returns the params to record in place of the param `name`, whose value is `value`.

    Called each time the trial document is written (at the start, after `inform`, at the end),
    so what it returns may grow while the trial runs (an Optuna trial's sampled params). The
    mapping replaces the param: `{name: small_form}` keeps its name, `{}` leaves it out, several
    keys spread it into several params. It must not keep `value` alive beyond the call.
    """

    def __call__(self, name: str, value: Any) -> Mapping[str, Any]: ...


class TrialFiles(Protocol):
    """The folder of one trial as a sink may use it; `name`s are relative to it (`logs/a.txt`).

    On the local disk no write goes through a symbolic link below the folder: `write` and
    `open` for writing raise `votakvot.errors.SymlinkError` (an OSError) instead.
    """

    @property
    def appendable(self) -> bool:
        """Whether files can be appended to in place (the local disk); on object stores a sink
        writes whole files (parts) instead."""
        ...

    @property
    def remote(self) -> bool:
        """Whether each write is a network round trip (object stores, SSH, ...): a sink then
        writes what it can later rather than at once (at a tick, at the end)."""
        ...

    def makedirs(self) -> None:
        """Creates the folder (and its parents) if it does not exist; on object stores, which
        have no folders, it does nothing."""
        ...

    def write(self, name: str, data: bytes, *, writeback: bool = True) -> None:
        """Writes the whole file atomically: a reader sees the old content or the new, never half.

        An `OSError` raised here names the file (`filename`), which a `StorageError` reports.

        `writeback=False` is for a file that replaces one this sink wrote less than a second
        ago, at most once in a row: on the local disk the new file then does not make ext4 write
        it back to the disk at once (50-100 µs on the writer's thread), and reaches the disk on
        the kernel's usual schedule (within about 30 s), as the one it replaces would have.
        """
        ...

    def open(self, name: str, mode: str = "rb", **kwargs: Any) -> IO[Any]:
        """Opens a file of the folder (sub-folders are created for writing)."""
        ...

    def list(self) -> list[str]:
        """Returns the names of the files directly in the folder ([] if it does not exist)."""
        ...

    def remove(self, name: str) -> None:
        """Removes a file of the folder; one that is not there is no error."""
        ...


class TrialView(Protocol):
    """What a sink sees of the live trial it stores: everything a sink needs, nothing more."""

    @property
    def tid(self) -> str:
        """The trial id: the folder relative to the root."""
        ...

    @property
    def uid(self) -> str:
        """The trial's uuid4 (hex), the same across resumes."""
        ...

    @property
    def name(self) -> str:
        """The trial's name (`trial(name)`, `{module}/{function}` for `@track`); for an explicit
        id (`trial_at`, `call`) the id itself."""
        ...

    @property
    def path(self) -> str:
        """The trial folder as a local path or URL (for messages)."""
        ...

    @property
    def resumed(self) -> int:
        """How many times this explicit id was resumed (0 for a fresh trial)."""
        ...

    @property
    def settings(self) -> Settings:
        """The settings from `votakvot.init` the trial runs with."""
        ...

    @property
    def traceback_text(self) -> str | None:
        """The formatted traceback of a failed or interrupted trial (set before `Finished`), else None."""
        ...

    @property
    def files(self) -> TrialFiles:
        """The trial folder."""
        ...

    def document(self) -> dict[str, Any]:
        """Returns what `votakvot.yaml` holds right now (`meta` last)."""
        ...

    def flush_metrics(self) -> None:
        """Publishes every buffered metric row now (as `Metered` events)."""
        ...

    def meter_series(self, series: str, values: dict[str, Any]) -> None:
        """Appends one row to the named metric series (for sinks that sample, e.g. system metrics)."""
        ...


@runtime_checkable
class Sink(Protocol):
    """Stores one trial's events; made per trial by its `SinkFactory`.

    A handler that cannot store what its event carries raises: the trial then ends with
    `votakvot.errors.StorageError` (or a warning, per `init(storage_errors=...)`). A sink that
    keeps what it could not store and stores it with a later event sets `retrying = True`: it
    stays subscribed, and only a failure of its `Finished` handler is reported. Any other sink's
    failing handler is dropped for the rest of the trial.

    A *mirror* sink copies the trial to another system (a bridge into another tracker) rather
    than storing it, and says so with the class attribute `mirror = True`. The trial does not
    depend on it: a failure of its handlers is never a `StorageError`, whatever
    `init(storage_errors=...)` says. It is logged, and the trial ends normally with one
    `votakvot.errors.MirrorWarning` naming the sink and the cause. Work a mirror does later, off
    the trial's thread, is its own to report (with the same warning).
    """

    def subscriptions(self) -> Mapping[type, Callable[[Any], None]]: ...


class SinkFactory(Protocol):
    """Builds the sink of one live trial (usually the sink class itself)."""

    def __call__(self, trial: TrialView) -> Sink: ...


# The key that marks a snapshot record (what a snapshot file holds) from a bare object.
_SNAPSHOT_RECORD = "votakvot.snapshot"


def snapshot_record(obj: Any, steps: Mapping[str, int]) -> dict[str, Any]:
    """Returns what a snapshot sink serializes: the object, and how many rows each metric series
    had when it was taken (`Snapshotted.steps`), so a resumed trial numbers its rows on from there."""
    return {_SNAPSHOT_RECORD: 1, "steps": dict(steps), "state": obj}


def parse_snapshot_record(payload: Any) -> tuple[Any, dict[str, int] | None]:
    """Returns `(object, steps)` from a deserialized snapshot; a bare object (written by an
    older votakvot or another sink) gives `(payload, None)`: its steps are not known."""
    if type(payload) is dict and payload.get(_SNAPSHOT_RECORD) == 1:
        steps = payload.get("steps")
        if isinstance(steps, dict) and all(isinstance(k, str) and type(v) is int for k, v in steps.items()):
            return payload.get("state"), steps
    return payload, None


_cache: dict[str, dict[str, Any]] = {}
_entry_points: list[dict[str, list[tuple[str, str]]]] = []  # the one table `_installed` found


def _load(group: str, name: str, target: Any) -> Any:
    start = time.perf_counter()
    obj = _import(target)
    took = time.perf_counter() - start
    if took > _SLOW_IMPORT_S:
        log.warning("plug-in %s:%s took %.1f s to import", group, name, took)
    return obj


def _import(spec: str) -> Any:
    """Imports what an entry point's value names: `module`, `module:attr.sub`, maybe `[extras]`."""
    module, _, attr = spec.split("[", 1)[0].partition(":")
    obj: Any = importlib.import_module(module.strip())
    for part in filter(None, attr.strip().split(".")):
        obj = getattr(obj, part)
    return obj


def _discover(group: str) -> dict[str, Any]:
    found: dict[str, Any] = dict(_BUILTIN.get(group, {}))
    if os.environ.get(_envvars.PLUGINS, "1") != "0":
        try:
            found.update(_installed()[group])
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


def _check_settings(config: Settings) -> None:
    """Refuses sink and snapshot serializer names that name no installed plug-in (at `init`)."""
    if config.sinks is not None:
        installed = entries(SINKS)
        unknown = [name for name in config.sinks if name not in installed]
        if unknown:
            raise SettingsError(
                f"init(sinks={list(config.sinks)!r}) names sinks that are not installed: {unknown}; "
                f"installed: {sorted(installed)}"
            )
    serializers = entries(SERIALIZERS)
    if config.snapshot_serializer not in serializers:
        raise SettingsError(
            f"init(snapshot_serializer={config.snapshot_serializer!r}) is not an installed serializer; "
            f"installed: {sorted(serializers)}"
        )


process_settings.add_check(_check_settings)


def _installed() -> dict[str, list[tuple[str, str]]]:
    """The entry points of every group, found once for all of them (not once per group)."""
    if not _entry_points:
        _entry_points.append(entry_points.installed(GROUPS))
    return _entry_points[0]


def reset() -> None:
    """Forgets discovered plug-ins so the next use scans entry points again (for tests)."""
    _cache.clear()
    _entry_points.clear()


def register_state(*, reset: Callable[[], None] | None = None, after_fork: Callable[[], None] | None = None) -> None:
    """Registers a plug-in's process-wide state (a cache, a thread, a connection).

    `reset` puts it back as after import (`votakvot.testing.reset()` calls it); `after_fork`
    runs first thing in a forked child, to drop what belongs to the parent (threads, open
    descriptors shared with it).
    """
    state.register(reset=reset, after_fork=after_fork)


state.register(reset=reset)
