"""Conditional writes of one small file: create it only if absent, replace or remove it only if unchanged.

What each store gives:

- the local disk: exact. Creating uses O_CREAT|O_EXCL; every operation runs under an exclusive
  `flock` of the folder, so a compare-and-replace is atomic among processes on one machine
  (and on network filesystems whose locks work; without `fcntl`, as on Windows, it is not).
- S3 (s3fs): exact. Creating is a conditional PUT (`If-None-Match: *`), replacing a PUT with
  `If-Match` on the ETag read; removing compares, then deletes.
- memory:// : exact within the process (a lock).
- any other fsspec store: `pipe_file(mode="create")`, which fsspec does as a check then a write
  unless the implementation can do better; replacing compares, then writes. Two processes
  acting within the same moment can both succeed there.

A file's *version* is what a later replace or remove compares against: its content, or on S3
its ETag.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from collections.abc import Iterator
from typing import Any

from .storage import FsspecStore, LocalStore, Store

# The largest file these functions read: a claim is a few hundred bytes.
MAX_BYTES = 64 * 1024

_S3_PROTOCOLS = frozenset({"s3", "s3a"})
_remote_lock = threading.Lock()


def create(store: Store, path: str, data: bytes) -> Any:
    """Writes `data` to `path` if no file is there and returns its version; returns None
    (writing nothing) if there is one."""
    if isinstance(store, LocalStore):
        with _folder_lock(path):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
            except FileExistsError:
                return None
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            return data
    fs = _fs(store)
    with _remote_lock:
        try:
            response = fs.pipe_file(path, data, mode="create")
        except FileExistsError:
            return None
        return _written_version(store, path, data, response)


def read(store: Store, path: str) -> tuple[bytes, Any] | None:
    """Returns the content of `path` and its version, or None if there is no such file."""
    if isinstance(store, LocalStore):
        with _folder_lock(path):
            return _read_local(store, path)
    fs = _fs(store)
    if _is_s3(store):
        fs.invalidate_cache(path)
        try:
            # The open file read its ETag, and reads only that version (If-Match): a consistent pair.
            with fs.open(path, "rb") as f:
                data = f.read(MAX_BYTES)
                return data, f.details.get("ETag")
        except FileNotFoundError:
            return None
    try:
        data = fs.cat_file(path)
    except FileNotFoundError:
        return None
    return data, data


def replace(store: Store, path: str, data: bytes, *, version: Any) -> Any:
    """Writes `data` over `path` if it is still at `version` and returns the new version;
    returns None (writing nothing) if it is not."""
    if isinstance(store, LocalStore):
        with _folder_lock(path):
            current = _read_local(store, path)
            if current is None or current[1] != version:
                return None
            store.write_atomic(path, data)
            return data
    fs = _fs(store)
    if _is_s3(store):
        try:
            response = fs.pipe_file(path, data, IfMatch=version)
        except FileNotFoundError:
            return None
        except OSError as e:
            if e.errno == errno.EINVAL or "PreconditionFailed" in str(e) or "412" in str(e):
                return None
            raise
        return _written_version(store, path, data, response)
    with _remote_lock:
        current = read(store, path)
        if current is None or current[1] != version:
            return None
        fs.pipe_file(path, data)
        return data


def remove(store: Store, path: str, *, version: Any) -> bool:
    """Removes `path` if it is still at `version`; returns False (removing nothing) if not."""
    if isinstance(store, LocalStore):
        with _folder_lock(path):
            current = _read_local(store, path)
            if current is None or current[1] != version:
                return False
            os.remove(path)
            return True
    with _remote_lock:
        current = read(store, path)
        if current is None or current[1] != version:
            return False
        _fs(store).rm_file(path)
        return True


def _written_version(store: Store, path: str, data: bytes, response: Any) -> Any:
    """The version of what was just written: on S3 the ETag the PUT answered with."""
    if not _is_s3(store):
        return data
    etag = response.get("ETag") if isinstance(response, dict) else None
    if etag is None:
        current = read(store, path)
        etag = None if current is None else current[1]
    return etag


def _read_local(store: Store, path: str) -> tuple[bytes, bytes] | None:
    try:
        data = store.read_bytes(path, limit=MAX_BYTES)
    except FileNotFoundError:
        return None
    return data, data


@contextlib.contextmanager
def _folder_lock(path: str) -> Iterator[None]:
    """Holds an exclusive lock on the folder of `path` (released when the process dies)."""
    try:
        import fcntl
    except ImportError:  # no flock here: the operations are not atomic among processes
        yield
        return
    try:
        fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        with contextlib.suppress(OSError):  # a filesystem without locks on folders (some network mounts)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _fs(store: Store) -> Any:
    if not isinstance(store, FsspecStore):
        raise TypeError(f"no conditional writes for {type(store).__name__}")
    return store.fs


def _is_s3(store: Store) -> bool:
    return isinstance(store, FsspecStore) and store.protocol in _S3_PROTOCOLS
