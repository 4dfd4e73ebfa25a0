"""The process-wide subscriber table of the event bus.

Subscribers are kept per event type in tuples; subscribing swaps in a new tuple and bumps a
version number, so a live trial notices with one integer compare and never takes a lock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Handler = Callable[[Any], None]

_subscribers: dict[type, tuple[Handler, ...]] = {}
version = 0


def subscribe(event_type: type, handler: Handler) -> None:
    global version
    _subscribers[event_type] = (*_subscribers.get(event_type, ()), handler)
    version += 1


def unsubscribe(event_type: type, handler: Handler) -> None:
    global version
    current = _subscribers.get(event_type, ())
    if handler not in current:
        raise ValueError(f"{handler!r} is not subscribed to {event_type.__name__}")
    kept = list(current)
    kept.remove(handler)
    _subscribers[event_type] = tuple(kept)
    version += 1


def subscribers(event_type: type) -> tuple[Handler, ...]:
    return _subscribers.get(event_type, ())


def reset() -> None:
    """Drops every user subscriber (for tests)."""
    global version
    _subscribers.clear()
    version += 1
