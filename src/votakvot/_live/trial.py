"""The live trial: its lifecycle, its document and its verbs.

A `LiveTrial` is a context manager. Entering claims an explicit id, collects metadata, creates
the sinks and publishes `Started`; leaving records how the block ended, publishes `Finished` and
releases the claim. The trial owns no file: its bus hands events to the sinks, which write
everything; attached files are opened in its folder.
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
from .._files.storage import Folder, Store, open_root
from .._process import settings as process_settings
from .._process import state
from .._read.trial import Trial
from ..errors import (
    AttachPathError,
    MirrorWarning,
    StorageError,
    StorageWarning,
    SymlinkError,
    TrialBusyError,
    TrialStateError,
    TrialStatusError,
)
from ..events import Attached, Finished, Informed, Metered, Restored, Snapshotted, Started
from . import endings, param_recorders, resume, shutdown, ticker
from .bus import TrialBus, build_sinks
from .claim import Claim
from .metric_buffer import BATCH_ROWS, TIME, MetricBuffer, Row
from .outside import discarding_file, warn_outside

log = logging.getLogger("votakvot.trial")

_UNREAD: Any = object()
_time = time.time

_active: contextvars.ContextVar[LiveTrial | None] = contextvars.ContextVar("votakvot_trial", default=None)
# The tid of the trial a call was sent from by another process (see `carry`): the parent of a
# trial opened here with no live trial of its own around it.
remote_parent: contextvars.ContextVar[str | None] = contextvars.ContextVar("votakvot_remote_parent", default=None)
# Live trials opened on the main thread, innermost last: pools pickle calls in helper threads,
# which see no trial of their own.
_main_thread_trials: list[LiveTrial] = []
_MAIN_THREAD = threading.main_thread()
state.register(reset=_main_thread_trials.clear)


def _now() -> datetime.datetime:
    return datetime.datetime.now().astimezone()


def current() -> LiveTrial | None:
    """Returns the innermost live trial of this thread or asyncio task, if any."""
    return _active.get()


def sending_trial() -> LiveTrial | None:
    """The trial a call pickled now is sent from: the innermost live trial of this thread, else
    (pools pickle calls in a helper thread) the innermost one of the main thread."""
    trial = _active.get()
    if trial is None and _main_thread_trials:
        trial = _main_thread_trials[-1]
    return trial


class LiveTrial:
    """A trial being tracked; `with votakvot.trial(...) as t` gives one.

    Attributes: `tid`, `uid`, `name`, `path` (folder URL), `params` (as given; the document holds
    `recorded_params()`), `info`, `meta`, `status`, `at`, settable `result`, `resumed` (how many
    times this id was resumed, 0 for a fresh trial), `parent` (settable before the trial is entered).
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
        # Params a plug-in records in a form of its own (`votakvot.params`), read at each write.
        self._recorders = param_recorders.recorders_for(params)
        self._unrecorded: set[str] = set()
        self.info: dict[str, Any] = {}
        self.meta: dict[str, Any] = {}
        self.result: Any = None
        self.status = "created"
        self.at: dict[str, Any] = {"created": _now()}
        self.error: str | None = None
        self.traceback_text: str | None = None
        self._conclusion: tuple[str, str | None, str | None] | None = None
        self._parent: str | None = None
        self.resumed = 0
        self.previous: Trial | None = None
        store, root = open_root(self.settings)
        self.store: Store = store
        self.root = root
        self.folder = store.join(root, *tid.split("/"))
        self.files = Folder(store, self.folder)
        self.path = store.url(self.folder)
        self._explicit = explicit
        self._existing: Any = _UNREAD
        self._lock = threading.RLock()
        self._buffer = MetricBuffer(self._publish_metered)
        self._bus: TrialBus | None = None
        self._token: contextvars.Token[LiveTrial | None] | None = None
        self._open = False
        self._foreign = False  # inherited by a forked child: the parent's, not this process's
        self._unstored: StorageError | None = None
        self._unmirrored: MirrorWarning | None = None
        self._claim: Claim | None = None
        self._on_main_thread = False
        self._started_at = 0.0
        self._before = 0.0  # seconds from the first start to this session's (resumed trials)
        # The last document written after the trial closed, with its entity tag (remote stores).
        self._final_document: tuple[bytes, str] | None = None
        if store.remote:
            self.files.on_written = self._written

    def __repr__(self) -> str:
        return f"<LiveTrial {self.tid!r} {self.status}>"

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> LiveTrial:
        if self.status != "created":
            raise TrialStateError(f"trial {self.tid!r} was already entered; open a new votakvot.trial(...)")
        settings = self.settings
        if self._explicit:
            self.claim()
            try:
                previous = self.existing()
                if previous is not None:
                    resume.take_over(self, previous)
            except BaseException:
                self.release()
                raise
        providers = settings.meta_providers if settings.meta_providers is not None else meta.providers
        self.meta = meta.collect(providers, timeout=settings.meta_timeout)
        if self._parent is None:
            parent = _active.get()
            self._parent = parent.tid if parent is not None else remote_parent.get()
        self._bus = TrialBus(self.tid, build_sinks(self), self.path)
        self.status = "resumed" if self.resumed else "running"
        now = _now()
        first = self.at.setdefault("started", now)  # a resumed trial keeps its first start
        if self.resumed:
            self.at.setdefault("resumed", []).append(now)
            self._before = _seconds_between(first, now)
        self._started_at = time.perf_counter()
        self._open = True
        self._token = _active.set(self)
        if threading.current_thread() is _MAIN_THREAD:
            self._on_main_thread = True
            _main_thread_trials.append(self)
        shutdown.register(self)
        self._bus.publish(Started, lambda: Started(self))
        ticker.register((id(self), "flush"), self._tick, settings.flush_interval)
        ticker.register((id(self), "heartbeat"), self._heartbeat, settings.heartbeat)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if exc_type is None:
            status = "done"
            if self._conclusion is not None:
                status, self.error, self.traceback_text = self._conclusion
        elif issubclass(exc_type, Exception):
            status = endings.status_for(exc_type)
            self.error = f"{exc_type.__name__}: {exc}" if str(exc) else exc_type.__name__
            if status not in endings.DECISIONS:  # a decision is no error: no traceback to read
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
        unmirrored, self._unmirrored = self._unmirrored, None
        if unmirrored is not None:  # whatever else happens: the trial does not depend on its mirrors
            warnings.warn(unmirrored, stacklevel=2)
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
        ticker.unregister((id(self), "flush"))
        ticker.unregister((id(self), "heartbeat"))
        assert self._bus is not None
        # On a remote store the sinks' last files (metrics, traceback, document) go out together:
        # one round trip on the way out, not one per file.
        with self.files.gathered() as unwritten:
            self.flush_metrics()
            self.status = status
            self.at["finished"] = _now()
            self.at["duration"] = round(self._before + time.perf_counter() - self._started_at, 6)
            self._bus.publish(Finished, lambda: Finished(self, status), reverse=True)
        shutdown.unregister(self)
        if self._final_document is not None and not unwritten:
            self._leave_in_shared_index(*self._final_document)
        lost = self._claim is not None and self._claim.lost
        try:
            self._release_claim()
        except Exception as e:  # the document is final; a claim left behind is taken over later
            log.warning("trial %r could not release its claim: %r", self.tid, e)
        if self._on_main_thread:
            with contextlib.suppress(ValueError):  # votakvot.testing.reset() ran while this trial lived
                _main_thread_trials.remove(self)
        failures = self._bus.unstored() + unwritten
        if lost:  # another process took this id over (this one looked dead): the folder is shared
            failures.append(
                (
                    self.path,
                    TrialBusyError(
                        f"trial {self.tid!r} lost its claim to another process while it ran (its heartbeat "
                        "looked dead), so the two runs may have written into one folder; run it again"
                    ),
                )
            )
        if failures:
            self._unstored = StorageError(self.tid, failures, self.result)
        unmirrored = self._bus.unmirrored()
        if unmirrored:
            self._unmirrored = MirrorWarning.of(self.tid, self.path, unmirrored)

    def _written(self, name: str, data: bytes, etag: str | None) -> None:
        if name == layout.DOCUMENT and etag is not None and not self._open:
            self._final_document = (data, etag)

    def _leave_in_shared_index(self, data: bytes, etag: str) -> None:
        """Hands the final document to the writer of shared index pieces (remote stores), so a
        reader's first load need not fetch it."""
        from .._read import shared_index

        if shared_index.mode(self.settings) is True:
            from . import index_writer

            index_writer.remember(self.store, self.root, self.folder, data, etag)

    @property
    def parent(self) -> str | None:
        """The tid of the trial this one belongs to (`parent:` in its document).

        By default it is the innermost live trial when this one is entered, or the trial a call
        was sent from by another process. Set it before entering to name another trial, e.g. the
        one of the process that handed out this work (a test run's session, on a worker).
        """
        return self._parent

    @parent.setter
    def parent(self, tid: str | None) -> None:
        if self.status != "created":
            raise TrialStateError(f"the parent of trial {self.tid!r} is set before it is entered; it is {self.status}")
        if tid is not None and not isinstance(tid, str):
            raise TrialStateError(f"a trial's parent is the tid (a str) of another trial, got {tid!r}")
        self._parent = tid

    def conclude(self, status: str, /, *, error: str | None = None, traceback: str | None = None) -> None:
        """Sets how the trial ends if its block ends without an exception: `status` instead of
        `done`, with the `error` message and the `traceback` text (stored as traceback.txt).

        For code that learns an outcome instead of raising it, such as a test runner. A trial may
        end `done`, `failed`, `interrupted`, `error`, `pruned`, `skipped`, `xfailed` or `xpassed`; an
        exception leaving the block still ends it `failed` or `interrupted`. A later call
        replaces an earlier one.

        t.conclude("skipped")
        t.conclude("failed", error="AssertionError: assert 1 == 2", traceback=text)
        """
        if status not in layout.ENDED_STATUSES:
            raise TrialStatusError(
                f"conclude({status!r}): a trial can end with one of {layout.ENDED_STATUSES}; "
                "`running`, `resumed` and `crashed` are only ever given by votakvot itself"
            )
        for name, value in (("error", error), ("traceback", traceback)):
            if value is not None and not isinstance(value, str):
                raise TrialStatusError(f"conclude({name}={value!r}) must be text (a str) or None")
        if not self._open:
            return self._closed("conclude")
        with self._lock:
            self._conclusion = (status, error, traceback)

    def abandon(self, status: str = "interrupted") -> None:
        """Finishes the trial with `status` from outside its block (at interpreter exit)."""
        if self._open:
            self.error = self.error or "the process exited while the trial was running"
            self._finish(status)
            if self._unmirrored is not None:
                log.warning("%s", self._unmirrored)
                warnings.warn(self._unmirrored, stacklevel=2)
            if self._unstored is not None:  # nobody to raise to: say it where it is seen
                log.error("%s", self._unstored)
                warnings.warn(StorageWarning(str(self._unstored)), stacklevel=2)

    def disown(self) -> None:
        """Marks the trial as another process's (run in a forked child): verbs on it then do
        nothing, as outside any trial, and what the parent had buffered is dropped here."""
        self._foreign = True
        self._open = False
        self._bus = None
        self._claim = None
        self._buffer.rows.clear()
        self._buffer.series_rows.clear()

    def claim(self) -> None:
        """Claims this explicit id for this process, so no other run computes it at the same time.

        Entering the trial claims it; call this first to learn earlier. Raises
        `votakvot.errors.TrialBusyError` if a live process (or another thread) holds the id; the
        claim of a dead one is taken over. What `existing()` returns is read again afterwards.
        The claim is released when the trial ends (or by `release()` if it is never entered).
        """
        if not self._explicit or self._claim is not None:
            return
        resume.check_own_files(self)  # a named pipe as `.claim` would block the claim itself
        self._claim = Claim.take(self.store, self.folder, self.tid, self.settings.heartbeat)
        self._existing = _UNREAD

    def release(self) -> None:
        """Gives up the claim taken by `claim()` for a trial that will not be entered after all."""
        if self._open:
            raise TrialStateError(f"release() on trial {self.tid!r} while it runs; its claim ends with the trial")
        self._release_claim()

    def _release_claim(self) -> None:
        claim, self._claim = self._claim, None
        if claim is not None:
            claim.release()

    def existing(self) -> Trial | None:
        """Returns the trial already stored at this explicit id (a `votakvot.Trial`), or None.

        Raises ParamsMismatchError if it was run with other params, TrialLoadError if what is
        stored there cannot be read. Read once (again after `claim()`), then remembered.
        """
        if not self._explicit:
            return None
        if self._existing is _UNREAD:
            self._existing = resume.stored(self)
        existing: Trial | None = self._existing
        return existing

    # -- document --------------------------------------------------------------------------

    def recorded_params(self) -> dict[str, Any]:
        """Returns the params as the document records them: as given, except those a plug-in
        records in a form of its own (`votakvot.params`), in the form it gives now."""
        if self._recorders is None:
            return self.params
        return param_recorders.recorded(self.tid, self.params, self._recorders, self._unrecorded)

    def document(self) -> dict[str, Any]:
        """Returns what `votakvot.yaml` holds right now (meta last, so it can be cached)."""
        with self._lock:
            doc: dict[str, Any] = {
                "tid": self.tid,
                "uid": self.uid,
                "status": self.status,
                "at": dict(self.at),
                "params": self.recorded_params(),
                "result": self.result,
                "info": dict(self.info),
            }
            if self.error is not None:
                doc["error"] = self.error
            if self._parent is not None:
                doc["parent"] = self._parent
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

        Before the trial is entered it fills the info its first document holds, so what is known
        up front is stored even if the process dies right after the start.

        t.inform(note="first try", dataset="v2")
        """
        if self.status == "created":
            with self._lock:
                self.info.update(values)
            return None
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
        rows = self._buffer.rows
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
        try:
            handle = self.files.open(relative, mode, **kwargs)
        except SymlinkError as e:
            raise AttachPathError(
                f"attach() name {name!r} leads through a symbolic link in the trial folder {self.path!r}, "
                "which could point outside it, so votakvot does not write through it; remove the link "
                "or choose another name"
            ) from e
        self._publish(Attached, lambda: Attached(self, relative, mode))
        return handle

    def snapshot(self, obj: Any) -> None:
        """Hands `obj` to the snapshot sink, which stores it atomically as the trial's snapshot.

        The metric rows metered so far are stored first, and the snapshot records how many each
        series has, so a trial resumed from it (`restore()`) numbers its rows on from there.
        """
        if not self._open:
            return self._closed("snapshot")
        steps = self._buffer.counts()
        self._publish(Snapshotted, lambda: Snapshotted(self, obj, steps))

    def restore(self) -> Any:
        """Returns the object of the last snapshot of the trial this one continues (None if
        there is none), and takes the metrics back to that snapshot.

        Rows stored after that snapshot belong to work that is now redone: they are set aside
        (the CSV sink moves them to `.superseded/{resumed}/`) and every series numbers its rows
        on from where the snapshot had it; with no snapshot, from the start. Call it before
        metering. Unpickling runs code from the trial folder: resume only ids you trust.
        """
        if not self._open:
            return self._closed("restore")
        if self.previous is None:
            return None
        record = self.previous.snapshot_record(trusted=True)
        obj, steps = record if record is not None else (None, {})
        if steps is None:  # a snapshot that does not say: steps go on after the stored rows
            return obj
        with self._buffer.rewound(steps):
            self._publish(Restored, lambda: Restored(self, dict(steps)))
        return obj

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

    def _heartbeat(self, now: float) -> None:
        if self._claim is not None:
            self._claim.beat(now)
        if self._bus is not None:
            self._bus.heartbeat(now)


def _seconds_between(first: Any, then: datetime.datetime) -> float:
    """Seconds from `first` (a stored start time) to `then`; 0 if it is not a usable time."""
    try:
        return max(0.0, (then - first).total_seconds())
    except TypeError:  # not a datetime, or one without a time zone
        return 0.0
