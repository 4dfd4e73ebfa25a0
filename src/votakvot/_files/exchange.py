"""Swapping two files of one folder in one atomic step (Linux's `renameat2(RENAME_EXCHANGE)`).

When a rename replaces a file, ext4 (and btrfs) start writing the new file's data back to the
disk at once, on the caller's thread, so that a power cut leaves the old content or the new one
rather than an empty file. That costs 50-100 µs per replacement on a virtual disk: a third of a
short trial, whose final document replaces the one it wrote at its start. Swapping the two
names instead is atomic as well (a reader finds one complete file or the other, never none) and
leaves the write-back to the kernel's usual schedule; the old file, now under the temporary
name, is then removed. Writers use it only where the file replaced was written moments ago by
themselves, so not on the disk yet either (see `confined.write_below`).
"""

from __future__ import annotations

import os
import sys
from typing import Any

_RENAME_EXCHANGE = 2

_renameat2: Any = None


def swap(name: str, other: str, folder_fd: int) -> bool:
    """Exchanges the files `name` and `other` of the folder open as `folder_fd`; tells whether
    it did. False leaves both as they were: where this system cannot swap (not Linux, an old
    kernel or C library, a filesystem without the operation), where `other` does not exist, and
    for any other refusal, which the caller's plain rename then meets and reports itself."""
    call = _load() if _renameat2 is None else _renameat2
    if call is False:
        return False
    return call(folder_fd, os.fsencode(name), folder_fd, os.fsencode(other), _RENAME_EXCHANGE) == 0  # type: ignore[no-any-return]


def _load() -> Any:
    """Finds `renameat2` in the C library once (False where there is none)."""
    global _renameat2
    found: Any = False
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            found = ctypes.CDLL(None).renameat2
        except (OSError, AttributeError):  # a libc older than glibc 2.28, or without the call
            found = False
        else:
            found.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
            found.restype = ctypes.c_int
    _renameat2 = found
    return found
