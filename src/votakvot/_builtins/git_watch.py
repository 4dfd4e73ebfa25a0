"""A cheap "did anything change?" for a git working tree, through Linux inotify.

The git provider caches its state under a signature of stat data, which costs one `stat` per
tracked file. Where inotify is available a watch on every folder holding tracked files (and on
the git folder and its refs) answers the question with one non-blocking `read`: no event, no
change. Elsewhere, or past `MAX_FOLDERS`, `TreeWatch.create` returns None and the signature is
used every time.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import sys
from collections.abc import Iterable

log = logging.getLogger("votakvot.meta.git")

MAX_FOLDERS = 4096
# Content written, metadata touched, entries created, deleted or renamed, the folder itself moved.
_MASK = 0x2 | 0x4 | 0x8 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x800
_libc: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL | None:
    global _libc
    if _libc is None and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.inotify_init1  # noqa: B018 - fails where the C library has no inotify
            _libc = libc
        except (OSError, AttributeError):
            return None
    return _libc


class TreeWatch:
    """Watches folders; `changed()` tells whether anything happened in them since its last call."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    @classmethod
    def create(cls, folders: Iterable[str]) -> TreeWatch | None:
        folders = sorted(set(folders))
        libc = _lib()
        if libc is None or len(folders) > MAX_FOLDERS:
            return None
        fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            return None
        for folder in folders:
            if libc.inotify_add_watch(fd, os.fsencode(folder), _MASK) < 0:
                log.debug("cannot watch %s (errno %d); using stat signatures", folder, ctypes.get_errno())
                os.close(fd)
                return None
        return cls(fd)

    def changed(self) -> bool:
        """Drains pending events; True if there were any (including a queue overflow)."""
        seen = False
        while True:
            try:
                if not os.read(self.fd, 65536):
                    return seen
            except BlockingIOError:
                return seen
            except OSError:
                return True
            seen = True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)
