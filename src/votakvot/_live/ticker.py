"""One background thread that runs the periodic jobs of every live trial: heartbeats and timed flushes.

Jobs are scheduled on the monotonic clock, so a wall clock set back or forward neither stops nor
hurries them; each is given the wall time, for what it records. The thread starts with the first
job and exits when the last one is gone, so it never outlives the trials. After a fork the child
starts with no ticker and no jobs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable

from .._process import state

log = logging.getLogger("votakvot.ticker")

Tick = Callable[[float], None]

# How often the thread looks for due work, and how long it lingers with nothing to do, so a
# loop of short trials does not start a thread per trial.
_GRANULARITY_S = 0.25
_LINGER_S = 1.0

_lock = threading.Lock()
_ticks: dict[Hashable, tuple[Tick, float]] = {}
_wake = threading.Event()
_thread: threading.Thread | None = None


def register(key: Hashable, tick: Tick, period: float) -> None:
    """Calls `tick(now)` about every `period` seconds (monotonic) until `unregister(key)`;
    `now` is the wall time."""
    global _thread
    with _lock:
        _ticks[key] = (tick, period)
        if _thread is None:
            _thread = threading.Thread(target=_run, name="votakvot-ticker", daemon=True)
            _thread.start()


def unregister(key: Hashable) -> None:
    """Stops calling the job registered as `key`."""
    with _lock:
        _ticks.pop(key, None)


def _run() -> None:
    global _thread
    state.quiet_thread()
    due: dict[Hashable, float] = {}
    idle_since = time.monotonic()
    while True:
        with _lock:
            if _ticks:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > _LINGER_S:
                _thread = None
                return
            ticks = dict(_ticks)
        now = time.monotonic()
        for key, (tick, period) in ticks.items():
            if key not in due:
                due[key] = now + period
            elif now >= due[key]:
                due[key] = now + period
                try:
                    tick(time.time())
                except Exception:
                    log.exception("a trial's periodic work failed")
        for key in list(due):
            if key not in ticks:
                del due[key]
        wait = min(due.values()) - time.monotonic() if due else _GRANULARITY_S
        _wake.wait(max(0.01, min(wait, _GRANULARITY_S)))


def _in_child() -> None:
    global _lock, _thread
    _lock = threading.Lock()
    _ticks.clear()
    _thread = None


state.register(after_fork=_in_child)
