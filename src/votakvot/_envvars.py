"""The VOTAKVOT_* environment variables, all in one place."""

from __future__ import annotations

# Root folder or fsspec URL used before (or without) votakvot.init(path=...).
PATH = "VOTAKVOT_PATH"
# Set to "0" to skip entry-point discovery and use only the built-in plug-ins.
PLUGINS = "VOTAKVOT_PLUGINS"
