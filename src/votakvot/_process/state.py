"""The registry of process-wide state: every stateful module registers its reset and its
after-fork hook here, so `votakvot.testing.reset()` and a forked child miss nothing."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable

log = logging.getLogger("votakvot.process")

_resets: list[Callable[[], None]] = []
_after_fork: list[Callable[[], None]] = []


def register(*, reset: Callable[[], None] | None = None, after_fork: Callable[[], None] | None = None) -> None:
    """Adds a module's `reset` (back to how it was after import) and `after_fork` (run in a
    forked child before anything else, to drop what belongs to the parent)."""
    if reset is not None:
        _resets.append(reset)
    if after_fork is not None:
        _after_fork.append(after_fork)


def reset() -> None:
    """Resets every registered piece of state, in registration order."""
    for fn in _resets:
        fn()


def quiet_thread() -> None:
    """Blocks SIGINT and SIGTERM in the calling helper thread. The kernel then delivers them to
    the main thread, whose wait in C code (a pool worker waiting for its next task) they
    interrupt, so its handler runs; taken by a helper thread, they would be noted and never
    acted on, and `Pool.terminate()` would wait for that worker forever."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def _in_child() -> None:
    for fn in _after_fork:
        try:
            fn()
        except Exception:
            log.exception("after-fork hook %r failed", fn)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_in_child)
