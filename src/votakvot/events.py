"""Trial lifecycle events and how to listen to them.

Every live trial publishes these records in-process. Storage sinks are subscribers like any
other; user code subscribes with `subscribe(EventType, handler)`. Handlers run synchronously in
the thread that caused the event (for metric batches: the thread that flushed them), sinks
first, then user handlers in registration order. A handler that raises is logged and dropped
for the rest of that trial; the trial goes on.

    def on_finished(event: votakvot.events.Finished) -> None:
        print(event.trial.tid, event.status)

    votakvot.events.subscribe(votakvot.events.Finished, on_finished)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import _bus

if TYPE_CHECKING:
    from ._trial import LiveTrial

__all__ = [
    "Attached",
    "Event",
    "Finished",
    "Informed",
    "Metered",
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
    """A resumable object was handed over to be stored as the trial's snapshot."""

    trial: LiveTrial
    obj: Any


@dataclass(slots=True)
class Finished:
    """A trial ended with `status` (`done`, `failed` or `interrupted`)."""

    trial: LiveTrial
    status: str


Event = Started | Informed | Metered | Attached | Snapshotted | Finished

EVENT_TYPES: tuple[type, ...] = (Started, Informed, Metered, Attached, Snapshotted, Finished)


def subscribe(event_type: type[Event], handler: Any) -> None:
    """Calls `handler(event)` for every `event_type` event of every trial from now on."""
    if event_type not in EVENT_TYPES:
        raise TypeError(f"subscribe() takes one of {[t.__name__ for t in EVENT_TYPES]}, not {event_type!r}")
    if not callable(handler):
        raise TypeError(f"subscribe() needs a callable handler, got {handler!r}")
    _bus.subscribe(event_type, handler)


def unsubscribe(event_type: type[Event], handler: Any) -> None:
    """Stops calling `handler` for `event_type`; raises ValueError if it was not subscribed."""
    _bus.unsubscribe(event_type, handler)
