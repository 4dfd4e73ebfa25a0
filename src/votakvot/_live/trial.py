"""The live trial: its lifecycle, its document and its verbs.

A `LiveTrial` is a context manager. Entering collects metadata, creates the sinks and publishes
`Started`; leaving records how the block ended and publishes `Finished`. The trial owns no file:
its bus hands events to the sinks, which write everything; attached files are opened in its folder.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import logging
import threading
import time
import traceback
import warnings
from typing import IO, Any

from .. import _version, meta
from .._files import layout
from .._files.storage import Folder, Store, open_store
from .._process import settings as process_settings
from .._read.trial import Trial
from ..errors import StorageError, StorageWarning, TrialStateError
from ..events import Attached, Finished, Informed, Metered, Snapshotted, Started
from . import resume, shutdown, ticker
from .bus import TrialBus, build_sinks
from .metric_buffer import BATCH_ROWS, TIME, MetricBuffer, Row
from .outside import discarding_file, warn_outside

log = logging.getLogger("votakvot.trial")

_UNREAD: Any = object()
_time = time.time

_active: contextvars.ContextVar[LiveTrial | None] = contextvars.ContextVar("votakvot_trial", default=None)


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

    __module__ = "votakvot"

    def __init__(
        self,
        tid: str,
        params: dict[str, Any],
        *,
        uid: str | None = None,
        name: str | None = None,
        explicit: bool = False,
    ) -> None:
        self.settings = process_settings.current()
        self.tid = tid
        self.uid = uid or layout.new_uid()
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
        self.previous: Trial | None = None
        store, root = open_store(self.settings.root())
        self.store: Store = store
        self.root = root
        self.folder = store.join(root, *tid.split("/"))
        self.files = Folder(store, self.folder)
        self.path = store.url(self.folder)
        self._explicit = explicit
        self._existing: Any = _UNREAD
        self._lock = threading.RLock()
        self._buffer = MetricBuffer(self._publish_metered)
        self._rows = self._buffer.rows  # appended to by `_add_row`, the hot path
        self._bus: TrialBus | None = None
        self._token: contextvars.Token[LiveTrial | None] | None = None
        self._open = False
        self._foreign = False  # inherited by a forked child: the parent's, not this process's
        self._unstored: StorageError | None = None
        self._started_at = 0.0

    def __repr__(self) -> str:
        return f"<LiveTrial {self.tid!r} {self.status}>"

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> LiveTrial:
        if self.status != "created":
            raise TrialStateError(f"trial {self.tid!r} was already entered; open a new votakvot.trial(...)")
        settings = self.settings
        if self._explicit:
            previous = self.existing()
            if previous is not None:
                resume.take_over(self, previous)
        providers = settings.meta_providers if settings.meta_providers is not None else meta.providers
        self.meta = meta.collect(providers, timeout=settings.meta_timeout)
        parent = _active.get()
        if parent is not None:
            self.parent = parent.tid
        self._bus = TrialBus(self.tid, build_sinks(self))
        self.status = "resumed" if self.resumed else "running"
        self.at["started"] = _now()
        if self.resumed:
            self.at.setdefault("resumed", []).append(self.at["started"])
        self._started_at = time.perf_counter()
        self._open = True
        self._token = _active.set(self)
        shutdown.register(self)
        self._bus.publish(Started, lambda: Started(self))
        ticker.register(id(self), self._tick, settings.flush_interval)
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
            # Where the interrupt landed: what a user asks first of a run that was stopped.
            self.traceback_text = "".join(traceback.format_exception(exc_type, exc, tb))
        self._finish(status)
        if self._token is not None:
            with contextlib.suppress(ValueError):  # left in another context (e.g. an async generator)
                _active.reset(self._token)
            self._token = None
        unstored, self._unstored = self._unstored, None
        if unstored is None:
            return
        if self.settings.storage_errors == "warn" or not (exc is None or isinstance(exc, Exception)):
            # An interrupt (Ctrl-C, SIGTERM) keeps going as it was; the loss is still said out loud.
            warnings.warn(StorageWarning(str(unstored)), stacklevel=2)
            return
        raise unstored from exc

    def _finish(self, status: str) -> None:
        with self._lock:
            if not self._open:
                return
            self._open = False
        ticker.unregister(id(self))
        self.flush_metrics()
        self.status = status
        self.at["finished"] = _now()
        self.at["duration"] = round(time.perf_counter() - self._started_at, 6)
        assert self._bus is not None
        self._bus.publish(Finished, lambda: Finished(self, status), reverse=True)
        shutdown.unregister(self)
        failures = self._bus.unstored()
        if failures:
            self._unstored = StorageError(self.tid, failures, self.result)

    def abandon(self, status: str = "interrupted") -> None:
        """Finishes the trial with `status` from outside its block (at interpreter exit)."""
        if self._open:
            self.error = self.error or "the process exited while the trial was running"
            self._finish(status)
            if self._unstored is not None:  # nobody to raise to: say it where it is seen
                log.error("%s", self._unstored)
                warnings.warn(StorageWarning(str(self._unstored)), stacklevel=2)

    def disown(self) -> None:
        """Marks the trial as another process's (run in a forked child): verbs on it then do
        nothing, as outside any trial, and what the parent had buffered is dropped here."""
        self._foreign = True
        self._open = False
        self._bus = None
        self._buffer.rows.clear()
        self._buffer.series_rows.clear()

    def existing(self) -> Trial | None:
        """Returns the trial already stored at this explicit id (a `votakvot.Trial`), or None.

        Raises ParamsMismatchError if it was run with other params. Read once, then remembered.
        """
        if not self._explicit:
            return None
        if self._existing is _UNREAD:
            self._existing = resume.stored(self)
        existing: Trial | None = self._existing
        return existing

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
        if not self._open:
            return self._closed("inform")
        with self._lock:
            self.info.update(values)
        self._publish(Informed, lambda: Informed(self, values))

    def meter(self, **values: Any) -> None:
        """Appends one row of metric values (with a step and a timestamp) to the default series.

        t.meter(loss=0.25, acc=0.9)
        """
        self._add_row(values)

    def _add_row(self, row: dict[Any, Any]) -> None:
        # The hottest path of the library (`votakvot.meter` calls it too): a time stamp and an
        # append; steps are numbered when the buffer is flushed.
        if not self._open:
            return self._closed("meter")
        row[TIME] = _time()
        rows = self._rows
        rows.append(row)
        if len(rows) >= BATCH_ROWS:
            self._buffer.flush()

    def meter_series(self, series: str, values: dict[str, Any]) -> None:
        """Appends the row `values` to the named metric `series` (see `votakvot.series`)."""
        if not self._open:
            return self._closed("meter")
        self._buffer.add_series(series, _time(), values)

    def flush_metrics(self) -> None:
        """Publishes every buffered metric row as `Metered` batches, in order; any thread may call it."""
        self._buffer.flush()

    def attach(self, name: str, mode: str = "w", **kwargs: Any) -> IO[Any]:
        """Opens the file `name` inside the trial folder (sub-folders are created as needed).

        with t.attach("logs/train.txt", "w") as f:
            f.write("...")
        """
        if not self._open:
            self._closed("attach")
            return discarding_file(mode)
        relative = layout.check_attach_name(name)
        handle = self.files.open(relative, mode, **kwargs)
        self._publish(Attached, lambda: Attached(self, relative, mode))
        return handle

    def snapshot(self, obj: Any) -> None:
        """Hands `obj` to the snapshot sink, which stores it atomically as the trial's snapshot."""
        if not self._open:
            return self._closed("snapshot")
        self._publish(Snapshotted, lambda: Snapshotted(self, obj))

    # -- events ----------------------------------------------------------------------------

    def _closed(self, verb: str) -> None:
        """A verb on a trial that is not open: ignored with a warning in a forked child (the
        trial is the parent's), an error anywhere else."""
        if self._foreign:
            warn_outside(verb, stacklevel=4)
            return
        raise TrialStateError(f"{verb}() on trial {self.tid!r} which is {self.status}; call it inside the `with` block")

    def _publish(self, event_type: type, build: Any) -> None:
        assert self._bus is not None
        self._bus.publish(event_type, build)

    def _publish_metered(self, series: str, rows: list[Row]) -> None:
        if self._bus is not None:
            self._bus.publish(Metered, lambda: Metered(self, series, rows))

    def _tick(self, now: float) -> None:
        if self._buffer:
            self._buffer.flush()
        if self._bus is not None:
            self._bus.tick(now)
