"""Finding trial folders below a path or glob, each with a signature of its document.

Local trees are walked with `os.scandir` (never through symlinks or into hidden folders). A
folder whose stamp is unchanged since the last walk is not listed again (the index keeps the
listings, the local one or one started from the shared index), and an indexed trial folder
without subfolders is confirmed with two stats. Remote
stores are listed once, recursively. Globs are matched against the found paths: `*`, `?`,
`[...]` within a segment, `**` across segments.
"""

from __future__ import annotations

import fnmatch
import os
import time
from stat import S_ISDIR
from typing import TYPE_CHECKING, Any

from .._files import layout
from .._files.storage import FsspecStore, LocalStore, Store

if TYPE_CHECKING:
    from .report_index import Table

GLOB_CHARS = "*?["
# A file or folder changed this recently may change again within its timestamp's granularity,
# so what was seen of it is not trusted next time (the "racy git" problem).
_RACY_NS = 2_000_000_000
# The clock those ages are measured on (tests move it forward rather than wait).
_clock_ns = time.time_ns

Signature = Any  # a comparable value that changes when a document changes; None: unknown
Stamp = tuple[int, int]  # a folder's (mtime_ns, ctime_ns)


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
        [*parts, layout.DOCUMENT], patterns
    )


class Found:
    """What `find` saw below `base`.

    `signatures`: trial folders to check against the index (or read), each with its document's
    signature; `folder_stamps`: the stamp of those that are leaf folders (None when too recent);
    `unchanged`: positions of indexed leaf trial folders whose folder and document are as indexed.
    `unchanged` is not narrowed by the glob: `selects` tells which of them it matches.
    """

    __slots__ = ("base", "folder_stamps", "listings_changed", "patterns", "sep", "signatures", "unchanged")

    def __init__(self, base: str, sep: str, patterns: list[str] | None) -> None:
        self.base, self.sep, self.patterns = base, sep, patterns
        self.signatures: dict[str, Signature] = {}
        self.folder_stamps: dict[str, Stamp | None] = {}
        self.unchanged: list[int] = []
        self.listings_changed = False

    def selects(self, folder: str) -> bool:
        """Tells whether a trial folder below the base matches the glob (always, without one)."""
        if self.patterns is None:
            return True
        relative = "" if folder == self.base else folder[len(self.base.rstrip(self.sep)) + 1 :]
        return _selected(relative.replace(self.sep, "/"), self.patterns)


def split(pattern: str, sep: str, *, literal: bool) -> tuple[str, list[str] | None]:
    """Returns the folder a load of `pattern` starts from, and the glob's segments below it
    (None without a glob; a `literal` pattern has none)."""
    globbing = has_glob(pattern) and not literal
    base = glob_base(pattern, sep).rstrip(sep) if globbing else pattern.rstrip(sep)
    if globbing:
        return base, pattern[len(base) :].strip(sep).split(sep)
    if base.endswith(sep + layout.DOCUMENT) or base == layout.DOCUMENT:
        base = base[: -len(layout.DOCUMENT)].rstrip(sep)
    return base, None


def find(
    store: Store,
    pattern: str,
    listings: dict[str, Any] | None = None,
    known: Table | None = None,
    *,
    literal: bool = False,
) -> Found:
    """Finds the trial folders below `pattern` (a plain path if `literal`, else maybe a glob).

    `listings` (local stores: the walk cache kept by the index) is updated in place; `known`
    (the index's rows) lets unchanged leaf trial folders be confirmed with two stats each.
    """
    sep = store.sep
    base, patterns = split(pattern, sep, literal=literal)
    found = Found(base, sep, patterns)
    if isinstance(store, LocalStore):
        _walk_local(base or sep, {} if listings is None else listings, known, found)
    else:
        assert isinstance(store, FsspecStore)
        found.signatures = _list_remote(store, base)
    if patterns is not None:
        found.signatures = {f: signature for f, signature in found.signatures.items() if found.selects(f)}
    return found


def _walk_local(top: str, listings: dict[str, Any], known: Table | None, found: Found) -> None:
    """Walks `top`; `listings` maps a folder that is not a leaf trial folder to
    (stamp, subfolders, has_document).

    A stamp is (mtime, ctime): a folder's changes when an entry is added, removed or renamed, and
    ctime cannot be set back by hand (a copy keeping timestamps still gets a new one).
    """
    now = _clock_ns()
    stat = os.stat
    doc_tail = os.sep + layout.DOCUMENT
    if known is not None and not len(known):
        known = None
    position = known.positions().get if known is not None else None
    signatures, folder_stamps, keep = found.signatures, found.folder_stamps, found.unchanged.append
    seen: set[str] = set()
    stack = [top]
    while stack:
        folder = stack.pop()
        seen.add(folder)
        try:  # below the top, a link is never followed (a listing from the shared index may name one)
            st = stat(folder, follow_symlinks=folder == top)
        except OSError:
            continue
        if not S_ISDIR(st.st_mode):
            continue
        stamp = (st.st_mtime_ns, st.st_ctime_ns)
        cached = listings.get(folder)
        if cached is not None and cached[0] == stamp:
            _, subfolders, has_doc = cached
        else:
            try:
                with os.scandir(folder) as it:
                    entries = list(it)
            except OSError:
                continue
            has_doc = any(e.name == layout.DOCUMENT for e in entries)
            subfolders = tuple(
                e.path for e in entries if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)
            )
            trusted = stamp if now - max(stamp) > _RACY_NS else None
            if has_doc and not subfolders:  # a leaf trial folder: its index row keeps its stamp
                folder_stamps[folder] = trusted
                if listings.pop(folder, None) is not None:
                    found.listings_changed = True
            else:
                listings[folder] = (trusted, subfolders, has_doc)
                found.listings_changed = True
        if known is not None and subfolders:
            stack.extend(_unconfirmed(folder, subfolders, known, position, keep))
        else:
            stack.extend(subfolders)
        if has_doc:
            doc = folder + doc_tail
            try:
                st = stat(doc)
            except FileNotFoundError:
                if os.path.lexists(doc):  # a dangling link: loading reports it
                    signatures[folder] = None
                continue
            except OSError:
                signatures[folder] = None  # it is there but unreadable: loading reports it
                continue
            signature = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)
            signatures[folder] = None if now - max(signature[:2]) <= _RACY_NS else signature
    below = top.rstrip(os.sep) + os.sep
    for folder in [f for f in listings if f not in seen and (f == top or f.startswith(below))]:
        del listings[folder]
        found.listings_changed = True


def _unconfirmed(folder: str, subfolders: tuple[str, ...], known: Table, position: Any, keep: Any) -> list[str]:
    """Confirms the indexed leaf trial folders among `subfolders` as unchanged (their positions go
    to `keep`) with two stats each; returns the other subfolders, to be walked.

    The stats are relative to `folder`'s descriptor: the kernel then resolves one path segment
    per stat, not the whole path (a fifth less time per trial). This loop runs once per trial of
    a warm load, so it compares fields one by one rather than building tuples.
    """
    stat, doc_tail = os.stat, os.sep + layout.DOCUMENT
    known_stamps, known_signatures = known.folder_stamps, known.signatures
    fd = _open_folder(folder)
    cut = len(folder.rstrip(os.sep)) + 1 if fd is not None else 0
    others = []
    try:
        for sub in subfolders:
            i = position(sub)
            expected = known_stamps[i] if i is not None else None
            if expected is not None:
                name = sub[cut:]
                try:
                    st = stat(name, dir_fd=fd, follow_symlinks=False)
                    if st.st_mtime_ns == expected[0] and st.st_ctime_ns == expected[1] and S_ISDIR(st.st_mode):
                        st = stat(name + doc_tail, dir_fd=fd)
                        signature = known_signatures[i]
                        if (
                            st.st_mtime_ns == signature[0]
                            and st.st_ctime_ns == signature[1]
                            and st.st_size == signature[2]
                            and st.st_ino == signature[3]
                        ):
                            keep(i)
                            continue
                except (OSError, IndexError, TypeError):
                    pass  # gone or unreadable, or indexed otherwise: walked, which sees what it is
            others.append(sub)
    finally:
        if fd is not None:
            os.close(fd)
    return others


def _open_folder(folder: str) -> int | None:
    """Opens a folder for `dir_fd` use, or returns None where that is not possible."""
    if os.stat not in os.supports_dir_fd:
        return None
    try:
        return os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return None


def _list_remote(store: FsspecStore, base: str) -> dict[str, Signature]:
    fs = store.fs
    fs.invalidate_cache()  # listings cached by an earlier load may be stale or partial
    from .._files import s3_timestamps  # only remote loads need it

    s3_timestamps.speed_up(fs)
    try:
        listing = fs.find(base, withdirs=True, detail=True)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    suffix = "/" + layout.DOCUMENT
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
