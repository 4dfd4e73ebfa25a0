"""Pausing the cyclic garbage collector around bulk work that makes many small, acyclic objects.

Such objects survive young collections while the work holds them, get promoted, and trigger
full collections whose cost grows with the whole heap (pandas alone is ~100k objects).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Disables the collector for the block (if it was enabled), then enables it again."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
