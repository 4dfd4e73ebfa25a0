"""The bus of one live trial: routes its events to its storage sinks, then to user handlers.

The two kinds of subscriber fail differently. A *user handler* (subscribed through
`votakvot.events`) only observes: one that raises is logged and dropped for the rest of the
trial. A *storage sink* stores what the user tracked: one that raises could not store it, and
the bus keeps that as unstored (`unstored()`), which the trial turns into a `StorageError`. A
sink that keeps what it could not store and stores it later says so with `retrying = True`: it
stays subscribed, and only a failure of its `Finished` handler (its last chance) still counts.
Any other sink's handler that raises is dropped for the rest of the trial.

A *mirror sink* (`mirror = True`) copies the trial somewhere else (another tracker); the trial
does not depend on it. Its failures are kept apart (`unmirrored()`), which the trial turns into a
`MirrorWarning`, never a `StorageError`; otherwise it is treated as any sink.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .. import events, plugins

log = logging.getLogger("votakvot.trial")

Handler = Callable[[Any], None]
Routes = dict[type, tuple[Handler, ...]]


def build_sinks(trial: plugins.TrialView) -> list[Any]:
    """Creates the trial's sinks from the installed sink plug-ins (or those `init(sinks=...)`
    names), in their `order`; a sink that cannot be set up is logged and skipped."""
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
    for name in names:
        try:
            sink = available[name](trial)
        except Exception:
            log.exception("sink %r could not be set up for trial %r and is skipped", name, trial.tid)
            continue
        sinks.append(sink)
    return sinks


class TrialBus:
    """Publishes one trial's events: sinks first (in reverse on `Finished`, so the trial
    document is written last), then user handlers in registration order."""

    def __init__(self, tid: str, sinks: list[Any], path: str = "") -> None:
        self.tid = tid
        self.path = path
        self.sinks: list[Any] = []
        self._sink_of: dict[Handler, Any] = {}
        # Per sink (by id): what it could not store, as (file or sink, cause).
        self._unstored: dict[int, list[tuple[str, BaseException]]] = {}
        self._mirrors: set[int] = set()  # ids of the mirror sinks, whose failures are not storage's
        self._tick_failed: set[tuple[int, str]] = set()
        subscribed: dict[type, list[Handler]] = {}
        for sink in sinks:
            try:
                subscriptions = dict(sink.subscriptions())
            except Exception:
                log.exception("sink %r of trial %r could not say what it subscribes to; it is skipped", sink, tid)
                continue
            self.sinks.append(sink)
            if getattr(sink, "mirror", False) is True:
                self._mirrors.add(id(sink))
            for event_type, handler in subscriptions.items():
                subscribed.setdefault(event_type, []).append(handler)
                self._sink_of[handler] = sink
        self._sink_routes: Routes = {t: tuple(handlers) for t, handlers in subscribed.items()}
        self._reverse_sink_routes: Routes = {t: tuple(reversed(h)) for t, h in self._sink_routes.items()}
        # Compared by equality: a sink's bound methods are equal, not identical, across lookups.
        self._dropped: list[Handler] = []
        self._user_routes: Routes = {}
        self._version = -1

    def publish(self, event_type: type, build: Callable[[], Any], *, reverse: bool = False) -> None:
        """Builds the event with `build()` only if someone listens, and hands it to each."""
        if self._version != events.version:
            self._reroute_users()
        sinks = (self._reverse_sink_routes if reverse else self._sink_routes).get(event_type, ())
        users = self._user_routes.get(event_type, ())
        if not sinks and not users:
            return
        event = build()
        for handler in sinks:
            try:
                handler(event)
            except Exception as e:
                self._sink_failed(event_type, handler, e)
            else:
                if event_type is events.Finished and self._unstored:
                    self._stored_at_last(handler)
        for handler in users:
            try:
                handler(event)
            except Exception:
                self._handler_failed(event_type, handler)

    def tick(self, now: float) -> None:
        """Runs each sink's periodic work (`tick(now)`), if it has any. A failure there is only
        logged (once per sink): what a sink stores is judged by its event handlers."""
        self._periodic("tick", now)

    def heartbeat(self, now: float) -> None:
        """Runs each sink's `heartbeat(now)`, if it has one; failures are logged as for `tick`."""
        self._periodic("heartbeat", now)

    def _periodic(self, method: str, now: float) -> None:
        for sink in self.sinks:
            work = getattr(sink, method, None)
            if work is not None:
                try:
                    work(now)
                except Exception as e:
                    if (id(sink), method) not in self._tick_failed:
                        self._tick_failed.add((id(sink), method))
                        log.warning("trial %r: %s failed its %s: %r", self.tid, type(sink).__name__, method, e)

    def _reroute_users(self) -> None:
        self._version = events.version
        dropped = self._dropped
        self._user_routes = {t: tuple(h for h in events.handlers(t) if h not in dropped) for t in events.EVENT_TYPES}

    def unstored(self) -> list[tuple[str, BaseException]]:
        """Returns what the storage sinks could not store and still hold unstored, as (file, cause)."""
        mirrors = self._mirrors
        return [failure for sink, failures in self._unstored.items() if sink not in mirrors for failure in failures]

    def unmirrored(self) -> list[tuple[str, BaseException]]:
        """Returns what the mirror sinks could not copy, as (sink, cause)."""
        mirrors = self._mirrors
        return [failure for sink, failures in self._unstored.items() if sink in mirrors for failure in failures]

    def _sink_failed(self, event_type: type, handler: Handler, error: Exception) -> None:
        sink = self._sink_of.get(handler)
        mirror = id(sink) in self._mirrors
        if mirror:  # what it could not copy is named by the sink; the trial's own files are fine
            where = type(sink).__name__
        else:  # the file, when the error names it; else the trial folder and the sink that failed there
            where = getattr(error, "filename", None) or f"{self.path or self.tid} ({type(sink).__name__})"
        failures = self._unstored.setdefault(id(sink), [])
        if not failures:
            log.warning(
                "trial %r: %s could not %s the %s event: %r",
                self.tid,
                type(sink).__name__,
                "mirror" if mirror else "store",
                event_type.__name__,
                error,
                exc_info=log.isEnabledFor(logging.DEBUG),
            )
        retrying = getattr(sink, "retrying", False)
        if retrying:
            failures[:] = [(str(where), error)]  # the latest attempt says what is still pending
            return
        failures.append((str(where), error))
        self._sink_routes = self._without(self._sink_routes, handler)
        self._reverse_sink_routes = self._without(self._reverse_sink_routes, handler)

    def _stored_at_last(self, handler: Handler) -> None:
        """A retrying sink's `Finished` handler succeeded: everything it held is stored now."""
        sink = self._sink_of.get(handler)
        if getattr(sink, "retrying", False):
            self._unstored.pop(id(sink), None)

    def _handler_failed(self, event_type: type, handler: Handler) -> None:
        log.exception(
            "%s handler %r failed in trial %r; it is dropped for the rest of this trial",
            event_type.__name__,
            handler,
            self.tid,
        )
        self._dropped.append(handler)
        self._reroute_users()

    @staticmethod
    def _without(routes: Routes, handler: Handler) -> Routes:
        return {t: tuple(h for h in handlers if h != handler) for t, handlers in routes.items()}
