"""`load_metrics`: the metric rows of many trials as one long DataFrame, each row with its trial id."""

from __future__ import annotations

import itertools
import os
import warnings
from collections.abc import Iterable
from typing import Any

from .._files import layout
from .._process import collector
from ..errors import SelectionError, TrialLoadError
from . import csv_batch, report, report_frame
from .trial import Trial

_PARAM = "params\0"


def load_metrics(
    path: str | os.PathLike[str] | None = None,
    series: str | None = None,
    *,
    params: bool | list[str] = False,
    safe: bool = True,
    trusted: bool = False,
    index: bool | None = None,
    storage_options: dict[str, Any] | None = None,
) -> Any:
    """Loads the metric rows of every trial below `path` into one long DataFrame.

    Columns: `tid`, `series` (when rows of several series are loaded; `_series` if a metric has
    that name), `step`, `time`, then the metrics. Trials come in report order (creation time), each
    trial's rows as `Trial.metrics()` gives them. `series="eval"` loads one series (`""`: the
    default one). `params=True` adds every param as a column, `params=["lr"]` the ones named.
    `path`, `safe`, `trusted`, `index` and `storage_options` are as for `load_report`.

        df = votakvot.load_metrics("./my-results/**/21-05-20", params=["lr"])
    """
    import pandas as pd

    if series:
        layout.check_series(series)
    wanted = _wanted_params(params)
    with collector.paused():
        loaded = report._load(
            path, storage_options, safe=safe, trusted=trusted, rows=wanted is not None, full=False, index=index
        )
        params_of = _params_of(loaded.rows, wanted) if wanted is not None else None
        parts = _read_parts(pd, loaded.trials, series, safe=safe)
        return _frame(pd, loaded.trials, parts, series, params_of)


def _wanted_params(params: Any) -> list[str] | bool | None:
    """None (no params), True (all of them) or the names asked for."""
    if params is False or params is None:
        return None
    if params is True:
        return True
    if isinstance(params, str) or not isinstance(params, Iterable) or not all(isinstance(n, str) for n in params):
        raise TypeError(f"load_metrics(params={params!r}) takes True, False or a list of param names such as ['lr']")
    return list(params)


def _read_parts(pd: Any, trials: list[Trial], series: str | None, *, safe: bool) -> _Parts:
    """Reads and parses every metric file of `trials` (fetched in one batch where the store
    allows): their rows in trial order, and (trial position, series, rows) per file."""
    if not trials:
        return _Parts(pd.DataFrame(), [])
    store = trials[0].store  # one load reads one store
    listings = store.listdirs([trial.folder for trial in trials])
    files: list[tuple[int, str, str]] = []
    for position, trial in enumerate(trials):
        found = []
        for name in listings[trial.folder]:
            parsed = layout.parse_metrics_file(name)
            if parsed is not None and (series is None or parsed[0] == series):
                found.append((parsed, store.join(trial.folder, name)))
        found.sort()
        files.extend((position, name_of_series, where) for (name_of_series, _), where in found)
    contents = store.read_many([where for _, _, where in files])
    readable: list[tuple[int, str, str]] = []
    texts: list[bytes] = []
    for position, name_of_series, where in files:
        data = contents.get(where)
        if not isinstance(data, bytes):
            _skip(store, where, TrialLoadError(f"cannot read it ({data!r})"), safe)
        elif data.strip():
            readable.append((position, name_of_series, where))
            texts.append(data)

    def failed(index: int, error: Exception) -> None:
        _skip(store, readable[index][2], error, safe)

    batch = csv_batch.parse(pd, texts, failed)
    kept = [
        (position, name_of_series, n)
        for (position, name_of_series, _), n in zip(readable, batch.counts, strict=True)
        if n
    ]
    return _Parts(batch.frame, kept)


class _Parts:
    """The metric rows of a load, in order, and which trial and series each run of rows is from."""

    __slots__ = ("files", "frame")

    def __init__(self, frame: Any, files: list[tuple[int, str, int]]) -> None:
        self.frame, self.files = frame, files


def _skip(store: Any, where: str, error: Exception, safe: bool) -> None:
    if not safe:
        raise TrialLoadError(f"{store.url(where)}: {error}") from error
    warnings.warn(f"votakvot: skipping metric file {store.url(where)}: {error}", stacklevel=6)


def _params_of(rows: Any, wanted: list[str] | bool) -> dict[str, list[Any]]:
    """Returns the wanted params as columns with one value per trial (None where a trial has none)."""
    per_trial: list[dict[str, Any]] = []
    seen: dict[str, None] = {}
    for names, values in zip(rows.names, rows.values, strict=True):
        own = {cell[len(_PARAM) :]: value for cell, value in zip(names, values, strict=True) if cell.startswith(_PARAM)}
        seen.update(dict.fromkeys(own))
        per_trial.append(own)
    names = list(seen) if wanted is True else wanted
    assert isinstance(names, list)
    unknown = [name for name in names if name not in seen]
    if unknown and per_trial:
        raise SelectionError(
            f"load_metrics(params=...) names {unknown!r}, which no loaded trial has; their params are {sorted(seen)!r}"
        )
    return {name: [own.get(name) for own in per_trial] for name in names}


def _frame(pd: Any, trials: list[Trial], parts: _Parts, series: str | None, params_of: Any) -> Any:
    if not parts.files:
        return pd.DataFrame(columns=["tid", "step", "time"])
    metrics = parts.frame
    counts = [n for _, _, n in parts.files]
    positions = [position for position, _, _ in parts.files]
    taken = set(metrics.columns)
    front = {_free("tid", taken): _repeat(pd, [trials[position].tid for position in positions], counts)}
    if series is None and any(name for _, name, _ in parts.files):
        front[_free("series", taken)] = _repeat(pd, [name for _, name, _ in parts.files], counts)
    for column, values in reversed(front.items()):
        metrics.insert(0, column, values)
    if params_of:
        data = {
            f"params.{name}" if name in metrics.columns else name: _repeat(pd, [values[p] for p in positions], counts)
            for name, values in params_of.items()
        }
        added = pd.DataFrame(data, index=metrics.index)
        report_frame.keep_integers(pd, added, data)
        metrics = pd.concat([metrics, added], axis=1)
    return metrics


def _free(name: str, taken: set[str]) -> str:
    """`name`, or `_name` when a metric already has that name."""
    return f"_{name}" if name in taken else name


def _repeat(pd: Any, values: list[Any], counts: list[int]) -> Any:
    """Each of `values` `counts` times over, for a column: strings as the array pandas makes of
    them, built by taking from the distinct ones (turning 200,000 str objects into pandas' Arrow
    strings one by one takes half of a `load_metrics`); anything else as a list."""
    if values and all(type(value) is str for value in values):
        import numpy as np

        return pd.Series(values).take(np.repeat(np.arange(len(values)), counts)).array
    return list(itertools.chain.from_iterable(itertools.repeat(v, n) for v, n in zip(values, counts, strict=True)))
