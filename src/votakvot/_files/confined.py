"""Writing files below a local folder without ever following a symbolic link out of it.

Each path segment below the folder is opened relative to its parent's descriptor with
`O_NOFOLLOW`, so a link planted in a trial folder (by hand, or by another user sharing the
store) is refused with `SymlinkError` instead of redirecting a write elsewhere. Any link below
the folder is refused, even one pointing inside it: votakvot never makes links itself.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import IO, Any

from ..errors import SymlinkError
from . import exchange, layout

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# Where descriptors of folders cannot be used (Windows), each segment is checked with lstat instead.
_DIR_FD = {os.open, os.mkdir, os.rename, os.stat, os.unlink} <= os.supports_dir_fd
# What the kernel answers when O_NOFOLLOW meets a link: ELOOP (Linux, macOS; ENOTDIR with
# O_DIRECTORY on Linux), EMLINK (FreeBSD), EFTYPE (NetBSD).
_LINK_ERRNOS = {errno.ELOOP, errno.ENOTDIR, errno.EMLINK, getattr(errno, "EFTYPE", errno.ELOOP)}


def write_below(folder: str, name: str, data: bytes, *, writeback: bool = True) -> None:
    """Writes `data` to `folder/name` atomically (temp file, then rename over it), creating
    missing folders. A link already at `name` is replaced, not followed; one on the way to it
    (or at the temp file's name) is refused.

    `writeback=False` is for a file that replaces one the caller wrote moments ago: the two
    are swapped instead (see `exchange`), so ext4 does not write the new one back at once.
    """
    *dirs, tail = name.split("/")
    tmp = f"{layout.TEMP_PREFIX}{tail}.{os.getpid()}.{threading.get_ident()}"
    with _parent(folder, dirs, name, create=True) as parent:
        if parent is None:
            head = os.path.join(folder, *dirs)
            _check_not_link(os.path.join(head, tmp), folder, name)
            with open(os.path.join(head, tmp), "wb") as f:
                f.write(data)
            os.replace(os.path.join(head, tmp), os.path.join(head, tail))
            return
        fd = _open_file(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, parent, folder, name)
        try:
            try:
                _write_all(fd, data)
            finally:
                os.close(fd)
            if writeback or not _swapped_in(tmp, tail, parent):
                os.replace(tmp, tail, src_dir_fd=parent, dst_dir_fd=parent)
        except BaseException:  # e.g. a full disk: no half-written temp file is left behind
            with suppress(OSError):
                os.unlink(tmp, dir_fd=parent)
            raise


def _swapped_in(tmp: str, tail: str, parent: int) -> bool:
    """Swaps the written temp file in for `tail` and removes the old file; False where it could
    not, or where a folder stood at `tail` (put back, for the plain rename to refuse as always)."""
    if not exchange.swap(tmp, tail, parent):
        return False
    try:
        os.unlink(tmp, dir_fd=parent)  # the old file
    except IsADirectoryError:
        exchange.swap(tmp, tail, parent)
        return False
    except OSError:  # the new file is in place; the old one keeps the temp name a later write reuses
        pass
    return True


def _write_all(fd: int, data: bytes) -> None:
    """Writes all of `data` to `fd` (a file object would cost three more system calls per
    document: a trial writes two)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def open_below(folder: str, name: str, mode: str, **kwargs: Any) -> IO[Any]:
    """Opens `folder/name` as `open(path, mode)` would, creating missing folders for a writing
    mode; a link at `name` or on the way to it is refused."""
    *dirs, tail = name.split("/")
    path = os.path.join(folder, *dirs, tail)
    with _parent(folder, dirs, name, create=any(c in mode for c in "wax")) as parent:
        if parent is None:
            _check_not_link(path, folder, name)
            return open(path, mode, **kwargs)

        def opener(_: str, flags: int) -> int:
            return _open_file(tail, flags, parent, folder, name)

        # `path` only names the file object (its `.name`); the opener opens `tail` in `parent`.
        return open(path, mode, opener=opener, **kwargs)


@contextmanager
def _parent(folder: str, dirs: list[str], name: str, *, create: bool) -> Iterator[int | None]:
    """Yields a descriptor of `folder/dirs` reached without following links below `folder`
    (None where descriptors of folders cannot be used: each segment is checked instead)."""
    if not _DIR_FD:
        path = folder
        for part in dirs:
            path = os.path.join(path, part)
            _check_not_link(path, folder, name)
        if create:
            os.makedirs(path, exist_ok=True)
        yield None
        return
    try:
        fd = os.open(folder, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
    except FileNotFoundError:
        if not create:
            raise
        os.makedirs(folder, exist_ok=True)
        fd = os.open(folder, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
    try:
        for part in dirs:
            try:
                child = _open_folder(part, fd, folder, name)
            except FileNotFoundError:
                if not create:
                    raise
                with suppress(FileExistsError):  # made meanwhile by another writer: opened as any other
                    os.mkdir(part, dir_fd=fd)
                child = _open_folder(part, fd, folder, name)
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def _open_folder(part: str, parent: int, folder: str, name: str) -> int:
    try:
        return os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=parent)
    except OSError as e:
        _raise_if_link(e, part, parent, folder, name)
        raise


def _open_file(tail: str, flags: int, parent: int, folder: str, name: str) -> int:
    try:
        return os.open(tail, flags | _NOFOLLOW | _CLOEXEC, 0o666, dir_fd=parent)
    except OSError as e:
        _raise_if_link(e, tail, parent, folder, name)
        raise


def _raise_if_link(error: OSError, part: str, parent: int, folder: str, name: str) -> None:
    """Turns the kernel's answer to O_NOFOLLOW on a link into a SymlinkError that says so."""
    if error.errno not in _LINK_ERRNOS:
        return
    try:
        is_link = stat.S_ISLNK(os.stat(part, dir_fd=parent, follow_symlinks=False).st_mode)
    except OSError:
        return
    if is_link:
        raise SymlinkError(_message(folder, name)) from error


def _check_not_link(path: str, folder: str, name: str) -> None:
    if os.path.islink(path):
        raise SymlinkError(_message(folder, name))


def _message(folder: str, name: str) -> str:
    return (
        f"refused to write {name!r} in {folder!r}: a symbolic link is on its way, and votakvot never writes "
        "through links in a trial folder (one could point outside it); remove the link or choose another name"
    )
