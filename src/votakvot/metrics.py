"""Reading metric series back: every CSV of a trial as one DataFrame."""

from __future__ import annotations

import io
import os
from typing import Any

from . import _layout
from ._storage import Store, open_store

__all__ = ["load_csv_metrics"]


def _files(store: Store, folder: str, series: str | None) -> list[tuple[str, int, str]]:
    found = []
    for name in store.listdir(folder):
        parsed = _layout.parse_metrics_file(name)
        if parsed is not None and (series is None or parsed[0] == series):
            found.append((parsed[0], parsed[1], name))
    found.sort()
    return found


def load_csv_metrics(trial_or_path: Any, *, series: str | None = None) -> Any:
    """Returns all metric rows of a trial as one pandas DataFrame, in order.

    Takes a loaded or live trial, or the path/URL of a trial folder. Columns are `step`, `time`
    and the metric names; a `series` column (`_series` if a metric has that name) is added when
    the trial has named series. Pass
    `series="eval"` for one series (`""` is the default one). No metrics: an empty DataFrame.

        votakvot.metrics.load_csv_metrics(trial.path)
    """
    import pandas as pd

    if hasattr(trial_or_path, "store") and hasattr(trial_or_path, "folder"):
        store, folder = trial_or_path.store, trial_or_path.folder
    else:
        store, folder = open_store(os.fspath(trial_or_path))
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
