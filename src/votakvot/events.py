"""Trial lifecycle events and how to listen to them.

Every live trial publishes these records in-process. Storage sinks are subscribers like any
other; user code subscribes with `subscribe(EventType, handler)`. Handlers run synchronously in
the thread that caused the event (for metric batches: the thread that flushed them), sinks
first, then user handlers in registration order. A handler that raises is logged and dropped
for the rest of that trial; the trial goes on.

This module also keeps the table of user handlers, per event type in tuples: subscribing swaps
in a new tuple and bumps `version`, so a live trial notices with one integer compare and never
takes a lock.

    def on_finished(event: votakvot.events.Finished) -> None:
        print(event.trial.tid, event.status)

    votakvot.events.subscribe(votakvot.events.Finished, on_finished)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._process import state

if TYPE_CHECKING:
    from ._live.trial import LiveTrial

__all__ = [
    "Attached",
    "Event",
    "Finished",
    "Informed",
    "Metered",
    "Restored",
    "Snapshotted",
    "Started",
    "subscribe",
    "unsubscribe",
]


@dataclass(slots=True)
class Started:
    """A trial began: its folder exists and its document says `running`."""

    trial: LiveTrial


@dataclass(slots=True)
class Informed:
    """`inform(**values)` added free-form information to a trial."""

    trial: LiveTrial
    values: dict[str, Any]


@dataclass(slots=True)
class Metered:
    """Rows given to `meter()` reached the trial's buffer's flush: `rows` of one `series`.

    Each row is `(step, time, values)`. Rows are published in batches (when enough are pending,
    about once per flush interval, and at the end of the trial), in the order they were metered,
    so `meter()` itself stays a buffer append. `series` is "" for the default series.
    """

    trial: LiveTrial
    series: str
    rows: list[tuple[int, float, dict[str, Any]]]


@dataclass(slots=True)
class Attached:
    """A file was opened inside the trial folder with `attach(name, mode)`."""

    trial: LiveTrial
    name: str
    mode: str


@dataclass(slots=True)
class Snapshotted:
    """A resumable object was handed over to be stored as the trial's snapshot.

    `steps` says how many rows each metric series had by then (all of them stored already), so
    a trial resumed from this snapshot numbers its rows on from there.
    """

    trial: LiveTrial
    obj: Any
    steps: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class Restored:
    """A resumed trial went back to a snapshot (`LiveTrial.restore`): each metric series had
    `steps[series]` rows then (0 for a series not named). Rows stored beyond that belong to work
    that is being redone; sinks set them aside (the CSV sink moves them to `.superseded/`)."""

    trial: LiveTrial
    steps: dict[str, int]


@dataclass(slots=True)
class Finished:
    """A trial ended with `status` (`done`, `failed` or `interrupted`)."""

    trial: LiveTrial
    status: str


Event = Started | Informed | Metered | Attached | Snapshotted | Restored | Finished

EVENT_TYPES: tuple[type, ...] = (Started, Informed, Metered, Attached, Snapshotted, Restored, Finished)


Handler = Callable[[Any], None]

_handlers: dict[type, tuple[Handler, ...]] = {}
# Bumped on every change of `_handlers`; live trials compare it before each publish.
version = 0


def subscribe(event_type: type[Event], handler: Any) -> None:
    """Calls `handler(event)` for every `event_type` event of every trial from now on."""
    global version
    if event_type not in EVENT_TYPES:
        raise TypeError(f"subscribe() takes one of {[t.__name__ for t in EVENT_TYPES]}, not {event_type!r}")
    if not callable(handler):
        raise TypeError(f"subscribe() needs a callable handler, got {handler!r}")
    _handlers[event_type] = (*_handlers.get(event_type, ()), handler)
    version += 1


def unsubscribe(event_type: type[Event], handler: Any) -> None:
    """Stops calling `handler` for `event_type`; raises ValueError if it was not subscribed."""
    global version
    current = _handlers.get(event_type, ())
    if handler not in current:
        raise ValueError(f"{handler!r} is not subscribed to {getattr(event_type, '__name__', event_type)}")
    kept = list(current)
    kept.remove(handler)
    _handlers[event_type] = tuple(kept)
    version += 1


def handlers(event_type: type) -> tuple[Handler, ...]:
    """Returns the user handlers of `event_type`, in registration order."""
    return _handlers.get(event_type, ())


def _reset() -> None:
    global version
    _handlers.clear()
    version += 1


state.register(reset=_reset)
