"""Reading metric series back: every CSV of a trial as one DataFrame."""

from __future__ import annotations

from typing import Any

from ._files.storage import open_store
from ._read import metric_files

__all__ = ["load_csv_metrics"]


def load_csv_metrics(
    trial_or_path: Any, *, series: str | None = None, storage_options: dict[str, Any] | None = None
) -> Any:
    """Returns all metric rows of a trial as one pandas DataFrame, in order.

    Takes a loaded or live trial, or the path/URL of a trial folder (`storage_options` go to
    fsspec, as in `load_report`). Columns are `step`, `time`
    and the metric names; a `series` column (`_series` if a metric has that name) is added when
    the trial has named series. Pass
    `series="eval"` for one series (`""` is the default one). No metrics: an empty DataFrame.

        votakvot.metrics.load_csv_metrics(trial.path)
    """
    if hasattr(trial_or_path, "store") and hasattr(trial_or_path, "folder"):
        store, folder = trial_or_path.store, trial_or_path.folder
    else:
        store, folder = open_store(trial_or_path, storage_options)
    return metric_files.load(store, folder, series=series)
