"""Reading trial files for the page without leaving the root: on the local disk a file reached
through a symbolic link is never read (whoever writes the store could point it anywhere)."""

from __future__ import annotations

import os

from .._files import layout
from .._files.storage import LocalStore, Store


class LinkedFileError(OSError):
    """A trial file is a symbolic link, which the page does not follow."""


def read_many(store: Store, paths: list[str], *, limit: int | None = None) -> dict[str, bytes | Exception]:
    """Reads files of trial folders (remote stores: concurrently); a local link is an error."""
    if not isinstance(store, LocalStore):
        return store.read_many(paths, limit=limit)
    out: dict[str, bytes | Exception] = {}
    for path in paths:
        try:
            out[path] = _read_local(store, path, limit)
        except OSError as e:
            out[path] = e
    return out


def _read_local(store: LocalStore, path: str, limit: int | None) -> bytes:
    try:
        return store.read_bytes(path, limit=limit, follow=False)
    except OSError:
        if os.path.islink(path):
            raise LinkedFileError(f"{path} is a symbolic link; the page does not follow links") from None
        raise


def document_is_linked(store: Store, folder: str) -> bool:
    """Tells whether the trial's `votakvot.yaml` is a symbolic link (local disk only)."""
    return isinstance(store, LocalStore) and os.path.islink(os.path.join(folder, layout.DOCUMENT))


def file_signature(store: Store, folder: str, names: list[str]) -> str | None:
    """A text that changes when any of the named files of a local trial folder changes (size,
    mtime), or None where the store cannot tell cheaply (remote stores)."""
    if not isinstance(store, LocalStore):
        return None
    parts = []
    for name in sorted(names):
        try:
            info = os.lstat(os.path.join(folder, name))
        except OSError:
            continue
        parts.append(f"{name}:{info.st_size}:{info.st_mtime_ns}")
    return "|".join(parts)
