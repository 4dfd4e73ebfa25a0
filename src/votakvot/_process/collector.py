"""Pausing the cyclic garbage collector around bulk work that makes many small, acyclic objects.

Such objects survive young collections while the work holds them, get promoted, and trigger
full collections whose cost grows with the whole heap (pandas alone is ~100k objects).
Pauses nest and may overlap across threads: the collector comes back when the last one ends,
and a child forked during a pause gets it back at once.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

from . import state

_lock = threading.Lock()
_depth = 0
_restore = False  # whether the collector was enabled when the outermost pause began


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Disables the collector for the block, then enables it again if it was enabled before."""
    global _depth, _restore
    with _lock:
        if _depth == 0:
            _restore = gc.isenabled()
        _depth += 1
        gc.disable()
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _restore:
                gc.enable()


def _in_child() -> None:
    global _lock, _depth
    _lock = threading.Lock()  # it may have been held by a thread that does not exist here
    if _depth and _restore:
        gc.enable()
    _depth = 0


state.register(after_fork=_in_child)
