"""A progress bar on stderr for long loads, shown only when stderr is a terminal.

A dozen lines rather than a dependency: `load_report(progress=...)` reports (done, total) a few
times per second at most, and the bar only has to redraw one line.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import TextIO

# Loads shorter than this never draw a bar; the first draw waits until then.
_AFTER_SECONDS = 0.5
_WIDTH = 30


class LoadBar:
    """`progress(done, total)` for the bulk readers: draws `reading trials [####   ] 1500/4000`."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.shown = self.stream.isatty()
        self.start = time.monotonic()
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        if not self.shown or total <= 0 or time.monotonic() - self.start < _AFTER_SECONDS:
            return
        filled = _WIDTH * done // total
        self.stream.write(f"\rreading trials [{'#' * filled}{' ' * (_WIDTH - filled)}] {done}/{total}")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        """Clears the bar's line, so what the command prints next starts on a clean line."""
        if self.drawn:
            self.stream.write("\r" + " " * (_WIDTH + 40) + "\r")
            self.stream.flush()
            self.drawn = False


@contextlib.contextmanager
def load_bar() -> Iterator[LoadBar]:
    """A `LoadBar` on stderr, cleared when the load ends (or fails)."""
    bar = LoadBar()
    try:
        yield bar
    finally:
        bar.close()
