"""Metric curves for the page: every series of a trial's metric CSVs as numeric columns,
downsampled (see `downsample`) so a page with thousands of trials stays light.

Values that are not finite numbers (text, NaN, inf, empty cells) become gaps. Times are kept as
seconds since the series' first row (`t0`, seconds since the epoch), to the microsecond.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from typing import Any

from .._files import layout
from .._read.trial import Trial
from . import downsample, reading

Column = list[float | None]


def metric_files(listing: list[str]) -> dict[str, list[str]]:
    """The metric CSV names of a trial folder, by series, each series' parts in order."""
    found: dict[str, list[tuple[int, str]]] = {}
    for name in listing:
        parsed = layout.parse_metrics_file(name)
        if parsed is not None:
            found.setdefault(parsed[0], []).append((parsed[1], name))
    return {series: [name for _, name in sorted(parts)] for series, parts in sorted(found.items())}


def read(
    trials: list[Trial], listings: dict[str, list[str]], *, max_points: int, budget: int | None, floor: int
) -> tuple[dict[str, dict[str, Any]], int, int]:
    """Returns the curves of each trial with metrics (by position in `trials`, as a str), the
    rows each series could keep and the number of series that were downsampled. Each series
    keeps at most `max_points` rows, fewer when all series together would pass `budget` rows
    (but never fewer than `floor`)."""
    if not trials:
        return {}, max_points, 0
    store = trials[0].store
    files = {trial.folder: metric_files(listings[trial.folder]) for trial in trials}
    count = sum(len(series) for series in files.values())
    limit = downsample.points_per_series(count, max_points=max_points, budget=budget, floor=floor)
    paths = [
        store.join(folder, name)
        for folder, by_series in files.items()
        for parts in by_series.values()
        for name in parts
    ]
    contents = reading.read_many(store, paths)
    out: dict[str, dict[str, Any]] = {}
    cut = 0
    for position, trial in enumerate(trials):
        series_list = []
        for series, parts in files[trial.folder].items():
            texts = []
            for name in parts:
                path = store.join(trial.folder, name)
                data = contents.get(path)
                if not isinstance(data, bytes):
                    warnings.warn(f"votakvot: skipping metric file {store.url(path)}: {data}", stacklevel=3)
                    continue
                texts.append((store.url(path), data))
            parsed = _series(series, texts, limit)
            if parsed is not None:
                cut += parsed["rows"] > len(parsed["step"])
                series_list.append(parsed)
        if series_list:
            out[str(position)] = {"series": series_list}
    return out, limit, cut


def _series(name: str, parts: list[tuple[str, bytes]], limit: int) -> dict[str, Any] | None:
    """One series from its part files: step, time and each metric as columns, downsampled."""
    columns: dict[str, Column] = {}
    n = 0
    for where, data in parts:
        try:
            header, *rows = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
        except (ValueError, csv.Error) as e:
            warnings.warn(f"votakvot: skipping metric file {where}: {e}", stacklevel=4)
            continue
        if len(set(header)) != len(header):
            warnings.warn(f"votakvot: skipping metric file {where}: it names a column twice", stacklevel=4)
            continue
        rows = [row for row in rows if row]
        width = len(header)
        if any(len(row) != width for row in rows):  # short rows leave the rest empty, as read_csv does
            rows = [(row + [""] * width)[:width] for row in rows]
        for column, texts in zip(header, zip(*rows, strict=True), strict=True) if rows else ():
            columns.setdefault(column, [None] * n).extend(_numbers(texts))
        n += len(rows)
        for values in columns.values():
            if len(values) < n:
                values.extend([None] * (n - len(values)))
    if not n:
        return None
    step = columns.pop("step", None) or [float(i) for i in range(n)]
    time = columns.pop("time", None) or [None] * n
    metrics = {k: v for k, v in columns.items() if any(x is not None for x in v)}
    keep = downsample.kept_rows(n, list(metrics.values()), limit)
    if keep is not None:
        step, time = [step[i] for i in keep], [time[i] for i in keep]
        metrics = {k: [v[i] for i in keep] for k, v in metrics.items()}
    t0 = next((t for t in time if t is not None), None)
    return {
        "name": name,
        "rows": n,
        "step": [_compact(s) for s in step],
        "t0": t0,
        "time": [None if t is None or t0 is None else round(t - t0, 6) for t in time],
        "metrics": {k: [_compact(x) for x in v] for k, v in metrics.items()},
    }


def _numbers(texts: tuple[str, ...]) -> Column:
    """The cells of one column as finite floats, None where a cell is anything else."""
    try:
        numbers: Column = list(map(float, texts))
    except ValueError:
        numbers = [_number(text) for text in texts]
    if not all(map(math.isfinite, [x for x in numbers if x is not None])):
        numbers = [x if x is not None and math.isfinite(x) else None for x in numbers]
    return numbers


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _compact(number: float | None) -> float | int | None:
    """Whole numbers as ints (`3`, not `3.0`): shorter JSON, same value."""
    if number is not None and number.is_integer() and abs(number) < 2**53:
        return int(number)
    return number
