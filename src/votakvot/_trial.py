"""The live trial: its lifecycle, its folder and the events it publishes.

A `LiveTrial` is a context manager. Entering collects metadata, creates the sinks and publishes
`Started`; leaving records how the block ended and publishes `Finished`. The trial owns no file:
sinks write everything, the store hands out attached files.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import datetime
import functools
import itertools
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from typing import IO, Any

from . import _bus, _gc, _layout, _settings, _shutdown, _ticker, _version, meta, plugins
from ._storage import Store, open_store
from .errors import AttachPathError, ParamsMismatchError, TrialStateError
from .events import EVENT_TYPES, Attached, Finished, Informed, Metered, Snapshotted, Started

log = logging.getLogger("votakvot.trial")

_UNREAD: Any = object()

_active: contextvars.ContextVar[LiveTrial | None] = contextvars.ContextVar("votakvot_trial", default=None)

# Metric rows buffered before `meter()` itself flushes them (the ticker flushes sooner).
BATCH_ROWS = 4096
# Private keys of a buffered row (never strings, so never a metric name).
STEP, TIME = -1, -2
_RESERVED = frozenset({_layout.DOCUMENT, _layout.HEARTBEAT})


def _now() -> datetime.datetime:
    return datetime.datetime.now().astimezone()


def current() -> LiveTrial | None:
    """Returns the innermost live trial of this thread or asyncio task, if any."""
    return _active.get()


class LiveTrial:
    """A trial being tracked; `with votakvot.trial(...) as t` gives one.

    Attributes: `tid`, `uid`, `name`, `path` (folder URL), `params`, `info`, `meta`, `status`,
    `at`, settable `result`, `resumed` (how many times this id was resumed, 0 for a fresh trial).
    """

    def __init__(
        self,
        tid: str,
        params: dict[str, Any],
        *,
        uid: str | None = None,
        name: str | None = None,
        explicit: bool = False,
    ) -> None:
        settings = _settings.current()
        self.settings = settings
        self.tid = tid
        self.uid = uid or _layout.new_uid()
        self.name = name if name is not None else tid
        self.params = params
        self.info: dict[str, Any] = {}
        self.meta: dict[str, Any] = {}
        self.result: Any = None
        self.status = "created"
        self.at: dict[str, Any] = {"created": _now()}
        self.error: str | None = None
        self.traceback_text: str | None = None
        self.parent: str | None = None
        self.resumed = 0
        self.previous: Any = None
        root_store, root = open_store(settings.root())
        self.store: Store = root_store
        self.root = root
        self.folder = root_store.join(root, *tid.split("/"))
        self.path = root_store.url(self.folder)
        self._explicit = explicit
        self._existing: Any = _UNREAD
        self._lock = threading.RLock()
        self._step = itertools.count()
        self._steps: dict[str, Iterator[int]] = {}
        # Default-series rows: each is the caller's own kwargs dict with the step and the time
        # added under the private keys STEP and TIME. A dict of atomic values is not tracked by
        # the garbage collector (a tuple holding it would be), so a full buffer costs no GC work.
        self._rows: collections.deque[dict[Any, Any]] = collections.deque()
        self._series_rows: collections.deque[tuple[str, int, float, dict[str, Any]]] = collections.deque()
        self._flush_lock = threading.Lock()
        self._sinks: list[Any] = []
        self._routes: dict[type, tuple[Callable[[Any], None], ...]] = {}
        # Compared by equality: a sink's bound methods are equal, not identical, across lookups.
        self._dropped: list[Callable[[Any], None]] = []
        self._sink_routes: dict[type, tuple[Callable[[Any], None], ...]] = {}
        self._reverse_routes: dict[type, tuple[Callable[[Any], None], ...]] = {}
        self._bus_version = -1
        self._token: contextvars.Token[LiveTrial | None] | None = None
        self._open = False
        self._started_at = 0.0

    def __repr__(self) -> str:
        return f"<LiveTrial {self.tid!r} {self.status}>"

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> LiveTrial:
        if self.status != "created":
            raise TrialStateError(f"trial {self.tid!r} was already entered; open a new votakvot.trial(...)")
        settings = self.settings
        if self._explicit:
            self._take_over_previous()
        providers = settings.meta_providers if settings.meta_providers is not None else meta.default_providers()
        self.meta = meta.collect(providers, timeout=settings.meta_timeout)
        parent = _active.get()
        if parent is not None:
            self.parent = parent.tid
        self._sinks, self._sink_routes = _make_sinks(self)
        self._reroute()
        self.status = "resumed" if self.resumed else "running"
        self.at["started"] = _now()
        if self.resumed:
            self.at.setdefault("resumed", []).append(self.at["started"])
        self._started_at = time.perf_counter()
        self._open = True
        self._token = _active.set(self)
        _shutdown.track(self)
        self._publish(Started, lambda: Started(self), reverse=False)
        _ticker.register(id(self), self._tick, settings.flush_interval)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if exc_type is None:
            status = "done"
        elif issubclass(exc_type, Exception):
            status = "failed"
            self.error = f"{exc_type.__name__}: {exc}"
            self.traceback_text = "".join(traceback.format_exception(exc_type, exc, tb))
        else:  # KeyboardInterrupt, SystemExit, task cancellation, SIGTERM
            status = "interrupted"
            self.error = exc_type.__name__ if not str(exc) else f"{exc_type.__name__}: {exc}"
        self._finish(status)
        if self._token is not None:
            with contextlib.suppress(ValueError):  # left in another context (e.g. an async generator)
                _active.reset(self._token)
            self._token = None

    def _finish(self, status: str) -> None:
        with self._lock:
            if not self._open:
                return
            self._open = False
        _ticker.unregister(id(self))
        self.flush_metrics()
        self.status = status
        self.at["finished"] = _now()
        self.at["duration"] = round(time.perf_counter() - self._started_at, 6)
        self._publish(Finished, lambda: Finished(self, status), reverse=True)
        _shutdown.untrack(self)

    def abandon(self, status: str = "interrupted") -> None:
        """Finishes the trial with `status` from outside its block (at interpreter exit)."""
        if self._open:
            self.error = self.error or "the process exited while the trial was running"
            self._finish(status)

    def existing(self) -> Any:
        """Returns the trial already stored at this explicit id (a `votakvot.Trial`), or None.

        Raises ParamsMismatchError if it was run with other params. Read once, then remembered.
        """
        if not self._explicit:
            return None
        if self._existing is _UNREAD:
            from ._loaded import read_trial

            previous = read_trial(self.store, self.folder, self.tid)
            if previous is not None and previous.params != _roundtrip(self.params):
                raise ParamsMismatchError(
                    f"trial {self.tid!r} already exists with params {previous.params!r}, not {self.params!r}; "
                    "use another id, or delete the folder to start over"
                )
            self._existing = previous
        return self._existing

    def _take_over_previous(self) -> None:
        previous = self.existing()
        if previous is None:
            return
        self.previous = previous
        self.uid = previous.uid or self.uid
        created = (previous.data.get("at") or {}).get("created")
        if created is not None:
            self.at["created"] = created
        earlier = (previous.data.get("at") or {}).get("resumed") or []
        self.at["resumed"] = list(earlier) if isinstance(earlier, list) else []
        self.resumed = len(self.at["resumed"]) + 1
        self.info.update(previous.data.get("info") or {})
        for series, last in previous.last_steps().items():
            if series:
                self._steps[series] = itertools.count(last + 1)
            else:
                self._step = itertools.count(last + 1)

    # -- document --------------------------------------------------------------------------

    def document(self) -> dict[str, Any]:
        """Returns what `votakvot.yaml` holds right now (meta last, so it can be cached)."""
        with self._lock:
            doc: dict[str, Any] = {
                "tid": self.tid,
                "uid": self.uid,
                "status": self.status,
                "at": dict(self.at),
                "params": self.params,
                "result": self.result,
                "info": dict(self.info),
            }
            if self.error is not None:
                doc["error"] = self.error
            if self.parent is not None:
                doc["parent"] = self.parent
            if self.resumed:
                doc["resumed"] = self.resumed
            if self._open:
                doc["heartbeat"] = self.settings.heartbeat
            doc["version"] = _version.__version__
            doc["meta"] = self.meta
            return doc

    # -- verbs -----------------------------------------------------------------------------

    def inform(self, **values: Any) -> None:
        """Adds free-form information to the trial's `info` (later values replace earlier ones).

        t.inform(note="first try", dataset="v2")
        """
        self._check_open("inform")
        with self._lock:
            self.info.update(values)
        self._publish(Informed, lambda: Informed(self, values))

    def meter(self, **values: Any) -> None:
        """Appends one row of metric values (with a step and a timestamp) to the default series.

        t.meter(loss=0.25, acc=0.9)
        """
        if not self._open:
            self._check_open("meter")
        row: dict[Any, Any] = values
        row[STEP] = next(self._step)
        row[TIME] = time.time()
        rows = self._rows
        rows.append(row)
        if len(rows) >= BATCH_ROWS:
            self.flush_metrics()

    def meter_series(self, series: str, values: dict[str, Any]) -> None:
        """Appends the row `values` to the named metric `series` (see `votakvot.series`)."""
        self._check_open("meter")
        steps = self._steps.get(series)
        if steps is None:
            steps = self._steps.setdefault(_layout.check_series(series), itertools.count())
        self._series_rows.append((series, next(steps), time.time(), values))
        if len(self._series_rows) >= BATCH_ROWS:
            self.flush_metrics()

    def flush_metrics(self) -> None:
        """Publishes every buffered metric row as `Metered` batches, in order; any thread may call it."""
        with self._flush_lock, _gc.paused():
            pop = self._rows.popleft
            batch = [(row.pop(STEP), row.pop(TIME), row) for row in [pop() for _ in range(len(self._rows))]]
            if batch:
                self._publish(Metered, lambda: Metered(self, "", batch))
            if self._series_rows:
                pop_named = self._series_rows.popleft
                batches: dict[str, list[tuple[int, float, dict[str, Any]]]] = {}
                for _ in range(len(self._series_rows)):
                    series, step, stamp, values = pop_named()
                    batches.setdefault(series, []).append((step, stamp, values))
                for series, rows in batches.items():
                    self._publish(Metered, functools.partial(Metered, self, series, rows))

    def attach(self, name: str, mode: str = "w", **kwargs: Any) -> IO[Any]:
        """Opens the file `name` inside the trial folder (sub-folders are created as needed).

        with t.attach("logs/train.txt", "w") as f:
            f.write("...")
        """
        self._check_open("attach")
        relative = check_attach_name(name)
        handle = self.store.open(self.store.join(self.folder, *relative.split("/")), mode, **kwargs)
        self._publish(Attached, lambda: Attached(self, relative, mode))
        return handle

    def snapshot(self, obj: Any) -> None:
        """Hands `obj` to the snapshot sink, which stores it atomically as the trial's snapshot."""
        self._check_open("snapshot")
        self._publish(Snapshotted, lambda: Snapshotted(self, obj))

    # -- dispatch --------------------------------------------------------------------------

    def _check_open(self, verb: str) -> None:
        if not self._open:
            raise TrialStateError(
                f"{verb}() on trial {self.tid!r} which is {self.status}; call it inside the `with` block"
            )

    def _reroute(self) -> None:
        """Rebuilds the handler tuples: sinks, then user subscribers, minus dropped handlers."""
        self._bus_version = _bus.version
        dropped = self._dropped
        forward, backward = {}, {}
        for t in EVENT_TYPES:
            sinks = [h for h in self._sink_routes.get(t, ()) if h not in dropped]
            users = [h for h in _bus.subscribers(t) if h not in dropped]
            forward[t] = (*sinks, *users)
            backward[t] = (*reversed(sinks), *users)
        self._routes, self._reverse_routes = forward, backward

    def _publish(self, event_type: type, build: Callable[[], Any], reverse: bool = False) -> None:
        if self._bus_version != _bus.version:
            self._reroute()
        handlers = (self._reverse_routes if reverse else self._routes).get(event_type, ())
        if not handlers:
            return
        event = build()
        for handler in handlers:
            try:
                handler(event)
            except Exception:
                self._handler_failed(event_type, handler)

    def _handler_failed(self, event_type: type, handler: Callable[[Any], None]) -> None:
        log.exception(
            "%s handler %r failed in trial %r; it is dropped for the rest of this trial",
            event_type.__name__,
            handler,
            self.tid,
        )
        self._dropped.append(handler)
        self._reroute()

    def _tick(self, now: float) -> None:
        if self._rows or self._series_rows:
            self.flush_metrics()
        for sink in self._sinks:
            tick = getattr(sink, "tick", None)
            if tick is not None:
                try:
                    tick(now)
                except Exception:
                    log.exception("sink %r failed its periodic work in trial %r", sink, self.tid)


def check_attach_name(name: str) -> str:
    """Returns `name` as a clean relative path inside a trial folder, or raises AttachPathError."""
    if not isinstance(name, str) or not name:
        raise AttachPathError(f"attach() needs a file name such as 'log.txt', got {name!r}")
    clean = name.replace("\\", "/")
    parts = [p for p in clean.split("/") if p not in ("", ".")]
    if clean.startswith("/") or "://" in clean or (len(clean) > 1 and clean[1] == ":"):
        raise AttachPathError(f"attach() name {name!r} is absolute; use a relative name such as 'logs/x.txt'")
    if ".." in parts:
        raise AttachPathError(
            f"attach() name {name!r} leaves the trial folder; use a relative name such as 'logs/x.txt'"
        )
    if not parts:
        raise AttachPathError(f"attach() name {name!r} names no file; use a name such as 'log.txt'")
    relative = "/".join(parts)
    if relative in _RESERVED or parts[-1].startswith(_layout.TEMP_PREFIX):
        raise AttachPathError(f"attach() name {name!r} is votakvot's own file; choose another name")
    return relative


def _roundtrip(params: dict[str, Any]) -> Any:
    from . import _yaml

    return _yaml.loads(_yaml.dumps(params))


def _make_sinks(trial: LiveTrial) -> tuple[list[Any], dict[type, tuple[Callable[[Any], None], ...]]]:
    """Creates the trial's sinks and collects their handlers per event type, in sink order."""
    available = plugins.entries(plugins.SINKS)
    wanted = trial.settings.sinks
    if wanted is not None:
        missing = [n for n in wanted if n not in available]
        if missing:
            log.warning("init(sinks=...) names sinks that are not installed: %s", missing)
        names = [n for n in wanted if n in available]
    else:
        names = list(available)
    names.sort(key=lambda n: (getattr(available[n], "order", 0), n))
    sinks: list[Any] = []
    routes: dict[type, list[Callable[[Any], None]]] = {}
    for name in names:
        try:
            sink = available[name](trial)
            subscriptions = dict(sink.subscriptions())
        except Exception:
            log.exception("sink %r could not be set up for trial %r and is skipped", name, trial.tid)
            continue
        sinks.append(sink)
        for event_type, handler in subscriptions.items():
            routes.setdefault(event_type, []).append(handler)
    return sinks, {t: tuple(handlers) for t, handlers in routes.items()}


_warned: set[str] = set()


def warn_outside(verb: str) -> None:
    """Warns once per verb that it was called with no live trial, and does nothing else."""
    if verb not in _warned:
        _warned.add(verb)
        import warnings

        warnings.warn(
            f"votakvot.{verb}() was called outside any trial and is ignored; "
            "call it inside `with votakvot.trial(...)` or a @votakvot.track() function",
            stacklevel=3,
        )
