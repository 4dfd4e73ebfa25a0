"""A votakvot meta provider: `python.pip_freeze`, every distribution the running interpreter
can import from, as `{normalized name: version}`, read with importlib.metadata (no `pip` process).
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Callable
from importlib import metadata
from typing import Any

__all__ = ["PIP_PROVIDERS", "cache_clear", "pip_freeze"]

_SEPARATORS = re.compile(r"[-_.]+")

# Scanning every *.dist-info costs milliseconds, too much to pay on each of many small trials,
# yet the answer must follow `pip install` in a long-lived process (a notebook). Installing or
# removing a distribution adds or deletes an entry directly inside a sys.path folder, which
# changes that folder's mtime -- the same signal importlib.metadata uses for its own caches --
# so the scan is keyed on sys.path and one stat() per entry. An in-place edit of a METADATA
# file that leaves its folder alone is not seen; installers never do that.
_lock = threading.Lock()
_key: tuple[tuple[str, int | None], ...] | None = None
_frozen: dict[str, str] = {}


def _normalize(name: str) -> str:
    # The PEP 503 form, the one `pip` and the package index compare names by.
    return _SEPARATORS.sub("-", name).lower()


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _signature() -> tuple[tuple[str, int | None], ...]:
    # abspath: a relative entry (or "" for the current folder) means another folder after chdir.
    return tuple((p, _mtime(p)) for p in (os.path.abspath(entry) for entry in sys.path))


def _field(dist: metadata.Distribution, key: str) -> str | None:
    try:
        md = dist.metadata
        # get_all, not [key]: a missing key warns on 3.12 and is meant to become a KeyError.
        values = md.get_all(key) if md is not None else None
    except (OSError, ValueError):  # an unreadable or undecodable METADATA: one broken install
        return None
    return str(values[0]) if values else None


def _scan() -> dict[str, str]:
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name, version = _field(dist, "Name"), _field(dist, "Version")
        if not name or not version:
            continue
        # Distributions come in sys.path order; the first one is the one `import` finds.
        found.setdefault(_normalize(name), version)
    return dict(sorted(found.items()))


def pip_freeze() -> dict[str, str]:
    """Returns `{normalized name: version}` of every installed distribution, sorted by name.

        pip_freeze()["pyyaml"]  # '6.0.2'
    """
    global _key, _frozen
    key = _signature()
    with _lock:
        if key != _key:
            _frozen = _scan()
            _key = key
        # A copy: a trial (or its user) may edit its meta without changing the next trial's.
        return dict(_frozen)


def cache_clear() -> None:
    """Forgets the cached scan so the next `pip_freeze()` reads the distributions again (for tests)."""
    global _key, _frozen
    with _lock:
        _key = None
        _frozen = {}


PIP_PROVIDERS: dict[str, Callable[[], Any]] = {"python.pip_freeze": pip_freeze}
"""The entry point `pip` of group `votakvot.meta_providers`: `{"python.pip_freeze": pip_freeze}`."""
