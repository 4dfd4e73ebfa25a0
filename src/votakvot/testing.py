"""Helpers for testing code that uses votakvot (and for votakvot's own tests)."""

from __future__ import annotations

from . import _bus, _meta_git, _settings, _trial, meta, plugins

__all__ = ["reset"]


def reset() -> None:
    """Puts every piece of process-wide state back as it is after `import votakvot`.

    Settings from `init`, event subscribers, the plug-in cache, the metadata provider table and
    the once-per-process warnings are all forgotten.
    """
    _settings.reset()
    _bus.reset()
    plugins.reset()
    meta.reset()
    _meta_git.reset()
    _trial._warned.clear()
