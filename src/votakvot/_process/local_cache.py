"""Where votakvot keeps its local caches (the report index, the entry points found), never in a store."""

from __future__ import annotations

import os

from .. import _envvars


def cache_dir() -> str:
    """Returns the folder of votakvot's local caches (`$VOTAKVOT_CACHE_DIR`, else
    `$XDG_CACHE_HOME/votakvot`, else `~/.cache/votakvot`)."""
    explicit = os.environ.get(_envvars.CACHE_DIR)
    if explicit:
        return explicit
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(xdg, "votakvot")
