"""Tables keyed by class paths ("optuna.trial.Trial") that plug-ins give, looked up by a class
or any subclass of it, without ever importing the module a path names."""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from typing import Generic, TypeVar

T = TypeVar("T")


class TypeTable(Generic[T]):
    """Maps classes named by path to values; `lookup(cls)` finds the value of `cls` or of its
    nearest named base class.

    A path is resolved only once its module is in `sys.modules`: a value of a class cannot exist
    before the module defining it was imported, so a framework nobody imported costs nothing,
    and a plug-in naming its classes need not import the framework either. Results are cached
    per class; the cache is dropped whenever another path resolves.
    """

    def __init__(self, entries: Mapping[str, T]) -> None:
        self._pending = dict(entries)
        self._classes: list[tuple[type, T]] = []
        self._cache: dict[type, T | None] = {}
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self._pending or self._classes)

    def lookup(self, cls: type) -> T | None:
        """Returns the value for `cls`, or None when no named class is `cls` or one of its bases."""
        try:
            return self._cache[cls]
        except KeyError:
            pass
        with self._lock:
            if self._pending and self._resolve():
                self._cache.clear()
            found = None
            for base in cls.__mro__:
                found = next((value for named, value in self._classes if named is base), None)
                if found is not None:
                    break
            self._cache[cls] = found
        return found

    def _resolve(self) -> bool:
        """Resolves the paths whose modules are imported by now; tells whether any did."""
        resolved = False
        for path in list(self._pending):
            module, _, name = path.rpartition(".")
            named = getattr(sys.modules.get(module), name, None)
            if isinstance(named, type):
                self._classes.append((named, self._pending.pop(path)))
                resolved = True
        return resolved
