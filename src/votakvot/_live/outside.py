"""What a module-level verb does with no live trial of this process to act on: warn once, then nothing."""

from __future__ import annotations

import os
import warnings
from typing import IO, Any

from .._process import state

_warned: set[str] = set()


def warn_outside(verb: str, *, stacklevel: int = 3) -> None:
    """Warns once per verb that it was called with no live trial, and does nothing else."""
    if verb not in _warned:
        _warned.add(verb)
        warnings.warn(
            f"votakvot.{verb}() was called outside any trial and is ignored; "
            "call it inside `with votakvot.trial(...)` or a @votakvot.track() function",
            stacklevel=stacklevel,
        )


def discarding_file(mode: str) -> IO[Any]:
    """A file that discards what is written to it (what `attach` gives outside any trial)."""
    null_mode = ("wb" if "b" in mode else "w") if any(c in mode for c in "wax+") else mode
    return open(os.devnull, null_mode)


state.register(reset=_warned.clear)
