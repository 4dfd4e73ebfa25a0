"""Helpers for testing code that uses votakvot (and for votakvot's own tests)."""

from __future__ import annotations

from . import events, meta, plugins  # noqa: F401 - imported so their state is registered
from ._process import state

__all__ = ["reset"]


def reset() -> None:
    """Puts every piece of process-wide state back as it is after `import votakvot`.

    Settings from `init`, event subscribers, the plug-in cache, the metadata provider table,
    plug-ins' own registered state and the once-per-process warnings are all forgotten.
    """
    state.reset()
