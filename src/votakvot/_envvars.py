"""The VOTAKVOT_* environment variables, all in one place."""

from __future__ import annotations

# Root folder or fsspec URL used before (or without) votakvot.init(path=...).
PATH = "VOTAKVOT_PATH"
# Set to "0" to skip entry-point discovery and use only the built-in plug-ins.
PLUGINS = "VOTAKVOT_PLUGINS"
# Folder of the local report index cache (default: $XDG_CACHE_HOME/votakvot or ~/.cache/votakvot).
CACHE_DIR = "VOTAKVOT_CACHE_DIR"
# Set to "0" to load reports without the local index (every document is parsed every time) and
# without the shared one (pieces in the store are neither read nor written).
INDEX = "VOTAKVOT_INDEX"
# The shared report index in the store: "read" to use it without adding to it, "0" to ignore it
# (as init(share_index="read") and init(share_index=False) do).
SHARE_INDEX = "VOTAKVOT_SHARE_INDEX"
# The settings of `votakvot.init` as JSON, written by `init` so that processes started after it
# (spawn and forkserver pools, loky, Dask and Ray workers started later) track into the same root.
SETTINGS = "VOTAKVOT_SETTINGS"
