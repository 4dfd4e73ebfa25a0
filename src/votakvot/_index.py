"""The report index: a local cache of what loading found, so the next load reads only changes.

One file per loaded base folder, in `$VOTAKVOT_CACHE_DIR` (default: `$XDG_CACHE_HOME/votakvot`
or `~/.cache/votakvot`), never in the trial store itself, so read-only and shared stores work.
It holds each trial's document signature and report row, and the local walk's folder listings.
The trial files stay the only truth: a missing, stale or unreadable index is rebuilt, and
deleting it loses nothing. It is read with an unpickler that builds only plain data.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import pickle
import threading
from typing import Any

from . import _envvars
from ._yaml import InertObject

log = logging.getLogger("votakvot.index")

FORMAT = 2
_ALLOWED = {
    ("builtins", name) for name in ("dict", "list", "tuple", "set", "frozenset", "bytes", "complex", "bytearray")
} | {
    ("datetime", name) for name in ("datetime", "date", "time", "timedelta", "timezone")
} | {("votakvot._yaml", "InertObject")}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"the index may not hold {module}.{name}")
        return InertObject if name == "InertObject" else super().find_class(module, name)


def cache_dir() -> str:
    """Returns the folder of votakvot's local caches."""
    explicit = os.environ.get(_envvars.CACHE_DIR)
    if explicit:
        return explicit
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(xdg, "votakvot")


def enabled() -> bool:
    """Tells whether the index is on (`VOTAKVOT_INDEX=0` turns it off)."""
    return os.environ.get(_envvars.INDEX, "1") != "0"


class Index:
    """The cached rows and listings of one base folder (`key` is its URL)."""

    def __init__(self, key: str) -> None:
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        self.path = os.path.join(cache_dir(), "index", f"{digest}.pickle")
        self.key = key
        self.entries: dict[str, tuple[Any, ...]] = {}
        self.listings: dict[str, Any] = {}
        self.changed = False

    def load(self) -> Index:
        try:
            with open(self.path, "rb") as f:
                data = _SafeUnpickler(io.BytesIO(f.read())).load()
            if data.get("format") == FORMAT and data.get("key") == self.key:
                self.entries, self.listings = data["entries"], data["listings"]
        except FileNotFoundError:
            pass
        except Exception as e:
            log.info("ignoring the unreadable report index %s: %r", self.path, e)
        return self

    def save(self) -> None:
        """Writes the index atomically; a cache that cannot be written is simply not kept."""
        if not self.changed:
            return
        data = {"format": FORMAT, "key": self.key, "entries": self.entries, "listings": self.listings}
        tmp = f"{self.path}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with open(tmp, "wb") as f:
                pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self.path)
        except Exception as e:
            log.info("could not write the report index %s: %r", self.path, e)
            with contextlib.suppress(OSError):
                os.remove(tmp)
