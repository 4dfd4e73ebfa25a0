"""Reading a trial's metric CSV files back as one DataFrame."""

from __future__ import annotations

import io
from typing import Any

from .._files import layout
from .._files.storage import Store


def _files(store: Store, folder: str, series: str | None) -> list[tuple[str, int, str]]:
    found = []
    for name in store.listdir(folder):
        parsed = layout.parse_metrics_file(name)
        if parsed is not None and (series is None or parsed[0] == series):
            found.append((parsed[0], parsed[1], name))
    found.sort()
    return found


def load(store: Store, folder: str, *, series: str | None = None) -> Any:
    """Returns the metric rows of the trial in `folder` as one DataFrame (see `votakvot.metrics`)."""
    import pandas as pd

    files = _files(store, folder, series)
    frames = []
    for name_of_series, _, name in files:
        data = store.read_bytes(store.join(folder, name))
        if data.strip():
            frames.append((name_of_series, pd.read_csv(io.BytesIO(data))))
    if not frames:
        return pd.DataFrame(columns=["step", "time"])
    if series is None and any(name for name, _ in frames):
        label = "_series" if any("series" in frame.columns for _, frame in frames) else "series"
        for name, frame in frames:
            frame.insert(0, label, name)
    return pd.concat([frame for _, frame in frames], ignore_index=True, sort=False)
