"""The entry points of votakvot's plug-in groups, scanned once per change of the installation.

Scanning the installed distributions (`importlib.metadata.entry_points()`) costs 15 to 30 ms, a
third of a fresh process's first trial. What it finds changes only when a distribution is
installed, upgraded or removed, and each of those changes the modification time of a folder on
`sys.path` (a `.dist-info` folder appears or goes). So the (name, value) pairs found are kept in
the local cache folder, keyed by the folders of `sys.path` and their times, and a process whose
key matches reads them instead of scanning. A cache that cannot be read or written is ignored.
"""

from __future__ import annotations

import json
import os
import sys
import zlib
from typing import Any

from .local_cache import cache_dir

_FORMAT = 1


def installed(groups: tuple[str, ...]) -> dict[str, list[tuple[str, str]]]:
    """Returns `{group: [(name, "module:attr"), ...]}` of the installed distributions, in the order
    `importlib.metadata` lists them."""
    key = _key(groups)
    raw = key.encode()  # the file holds its key, so a name two keys share only costs a scan
    where = os.path.join(cache_dir(), "entry-points", f"{zlib.crc32(raw):08x}{zlib.adler32(raw):08x}.json")
    cached = _read(where, key, groups)
    if cached is not None:
        return cached
    found = _scan(groups)
    _write(where, key, found)
    return found


def _key(groups: tuple[str, ...]) -> str:
    stamps: list[tuple[str, int | None]] = []
    for folder in map(os.path.abspath, sys.path):  # "" is the current folder, wherever that is now
        try:
            stamps.append((folder, os.stat(folder).st_mtime_ns))
        except OSError:
            stamps.append((folder, None))
    return json.dumps([_FORMAT, sys.prefix, list(groups), stamps])


def _scan(groups: tuple[str, ...]) -> dict[str, list[tuple[str, str]]]:
    from importlib.metadata import entry_points

    every = entry_points()  # one scan of the distributions for all groups
    return {group: [(ep.name, ep.value) for ep in every.select(group=group)] for group in groups}


def _read(where: str, key: str, groups: tuple[str, ...]) -> dict[str, list[tuple[str, str]]] | None:
    try:
        with open(where, encoding="utf-8") as f:
            data: Any = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key or not isinstance(data.get("groups"), dict):
        return None
    out: dict[str, list[tuple[str, str]]] = {}
    for group in groups:
        pairs = data["groups"].get(group)
        if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(s, str) for s in p) for p in pairs
        ):
            return None
        out[group] = [(name, value) for name, value in pairs]
    return out


def _write(where: str, key: str, found: dict[str, list[tuple[str, str]]]) -> None:
    import tempfile

    folder = os.path.dirname(where)
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".entry-points-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"key": key, "groups": found}, f)
            os.replace(tmp, where)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass  # a read-only home: the next process scans again
