"""Finding trial folders below a path or glob, each with a signature of its document.

Local trees are walked with `os.scandir` (never through symlinks or into hidden folders); a
folder whose mtime is unchanged since the last walk is not listed again (the index keeps the
listings). Remote stores are listed once, recursively. Globs are matched against the found
paths: `*`, `?`, `[...]` within a segment, `**` across segments.
"""

from __future__ import annotations

import fnmatch
import os
import time
from typing import Any

from . import _layout
from ._storage import FsspecStore, LocalStore, Store

GLOB_CHARS = "*?["
# A file or folder changed this recently may change again within its timestamp's granularity,
# so what was seen of it is not trusted next time (the "racy git" problem).
_RACY_NS = 2_000_000_000

Signature = Any  # a comparable value that changes when a document changes; None: unknown


def has_glob(path: str) -> bool:
    return any(c in path for c in GLOB_CHARS)


def glob_base(path: str, sep: str = "/") -> str:
    """Returns the part of `path` before its first segment with a glob character."""
    parts = path.split(sep)
    for i, part in enumerate(parts):
        if has_glob(part):
            return sep.join(parts[:i])
    return path


def segments_match(parts: list[str], patterns: list[str]) -> bool:
    """Tells whether path segments match glob segments (`**` spans zero or more segments)."""
    if not patterns:
        return not parts
    head, rest = patterns[0], patterns[1:]
    if head == "**":
        return any(segments_match(parts[i:], rest) for i in range(len(parts) + 1))
    if not parts:
        return False
    hidden = parts[0].startswith(".") and not head.startswith(".")
    return not hidden and fnmatch.fnmatchcase(parts[0], head) and segments_match(parts[1:], rest)


def _selected(relative: str, patterns: list[str] | None) -> bool:
    """Tells whether a trial folder (relative to the base) is at or below a match of the glob."""
    if patterns is None:
        return True
    parts = relative.split("/") if relative else []
    return any(segments_match(parts[:depth], patterns) for depth in range(len(parts) + 1)) or segments_match(
        [*parts, _layout.DOCUMENT], patterns
    )


def find(
    store: Store, pattern: str, listings: dict[str, Any] | None = None
) -> tuple[str, dict[str, Signature], bool]:
    """Returns the base folder of `pattern`, `{trial folder: document signature}` below it, and
    whether `listings` (local stores: the walk cache kept by the index, updated in place) changed.
    """
    sep = store.sep
    base = glob_base(pattern, sep).rstrip(sep) if has_glob(pattern) else pattern.rstrip(sep)
    patterns = None
    if has_glob(pattern):
        patterns = pattern[len(base) :].strip(sep).split(sep)
    elif base.endswith(sep + _layout.DOCUMENT) or base == _layout.DOCUMENT:
        base = base[: -len(_layout.DOCUMENT)].rstrip(sep)
    changed = False
    if isinstance(store, LocalStore):
        found, changed = _walk_local(base or sep, {} if listings is None else listings)
    else:
        assert isinstance(store, FsspecStore)
        found = _list_remote(store, base)
    if patterns is None:
        return base, found, changed
    head = base.rstrip(sep) + sep
    selected = {}
    for folder, signature in found.items():
        relative = "" if folder == base else folder[len(head) :].replace(sep, "/")
        if _selected(relative, patterns):
            selected[folder] = signature
    return base, selected, changed


def _walk_local(top: str, listings: dict[str, Any]) -> tuple[dict[str, Signature], bool]:
    """Walks `top`; `listings` maps a folder to (mtime_ns, subfolders, has_document)."""
    now = time.time_ns()
    changed = False
    doc_tail = os.sep + _layout.DOCUMENT
    found: dict[str, Signature] = {}
    seen: set[str] = set()
    stack = [top]
    while stack:
        folder = stack.pop()
        seen.add(folder)
        try:
            mtime = os.stat(folder).st_mtime_ns
        except OSError:
            continue
        cached = listings.get(folder)
        if cached is not None and cached[0] == mtime:
            _, subfolders, has_doc = cached
        else:
            try:
                with os.scandir(folder) as it:
                    entries = list(it)
            except OSError:
                continue
            has_doc = any(e.name == _layout.DOCUMENT for e in entries)
            subfolders = tuple(
                e.path for e in entries if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)
            )
            listings[folder] = (mtime if now - mtime > _RACY_NS else None, subfolders, has_doc)
            changed = True
        stack.extend(subfolders)
        if has_doc:
            doc = folder + doc_tail
            try:
                st = os.stat(doc)
            except FileNotFoundError:
                if os.path.lexists(doc):  # a dangling link: loading reports it
                    found[folder] = None
                continue
            except OSError:
                found[folder] = None  # it is there but unreadable: loading reports it
                continue
            racy = now - st.st_mtime_ns <= _RACY_NS
            found[folder] = None if racy else (st.st_mtime_ns, st.st_size, st.st_ino)
    below = top.rstrip(os.sep) + os.sep
    for folder in [f for f in listings if f not in seen and (f == top or f.startswith(below))]:
        del listings[folder]
        changed = True
    return found, changed


def _list_remote(store: FsspecStore, base: str) -> dict[str, Signature]:
    fs = store.fs
    fs.invalidate_cache()  # listings cached by an earlier load may be stale or partial
    try:
        listing = fs.find(base, withdirs=True, detail=True)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    suffix = "/" + _layout.DOCUMENT
    found: dict[str, Signature] = {}
    for path, info in listing.items():
        path = path.rstrip("/")
        if path.endswith(suffix) and "/." not in path[len(base) :]:
            if info.get("type") == "directory":
                found[path[: -len(suffix)]] = None
                continue
            stamp = info.get("ETag") or info.get("LastModified") or info.get("mtime") or info.get("created")
            found[path[: -len(suffix)]] = (info.get("size"), str(stamp)) if stamp is not None else None
    return found
