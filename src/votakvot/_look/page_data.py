"""What the page shows of a root, as JSON data: the table, and for a report also every trial's
panel and curves (the live dashboard fetches those when asked)."""

from __future__ import annotations

import datetime
from typing import Any

from .._version import __version__
from . import curves, details, table

REPORT_MAX_POINTS = 1000
# Rows of all curves of a report together: past it each series keeps fewer rows (not under the
# floor), so a report of 10,000 trials stays a file a browser opens in a second or two.
REPORT_BUDGET = 400_000
REPORT_FLOOR = 40
LIVE_MAX_POINTS = 2000
RULE = "each metric keeps its minimum and maximum in equal buckets of rows, and the first and last rows stay"


def base(loaded: table.Loaded, root: str, *, live: dict[str, Any] | None, max_points: int) -> dict[str, Any]:
    """The data every page has: what it shows of the root, its table and the downsampling rule."""
    columns, rows = table.build(loaded)
    return {
        "format": 1,
        "root": root,
        "version": __version__,
        "generated": datetime.datetime.now().astimezone().isoformat(" ", "seconds"),
        "live": live,
        "generation": 0,
        "columns": columns,
        "trials": rows,
        "downsample": {"max_points": max_points, "rule": RULE, "series": 0, "series_cut": 0},
    }


def report(loaded: table.Loaded, root: str, *, max_points: int, budget: int | None) -> dict[str, Any]:
    """The data of a report: the table, and every trial's panel and (downsampled) curves."""
    trials = [loaded.by_tid[tid] for tid in loaded.tids]
    listings = trials[0].store.listdirs([t.folder for t in trials]) if trials else {}
    data = base(loaded, root, live=None, max_points=max_points)
    tracebacks = details.tracebacks(trials, listings)
    sections = details.MetaSections()
    extras = loaded.result.rows.extras
    data["details"] = [
        details.shared(details.record(trial, extras[i], listings[trial.folder], tracebacks.get(trial.folder)), sections)
        for i, trial in zip(loaded.positions, trials, strict=True)
    ]
    data["meta"] = sections.sections
    found, limit, cut = curves.read(trials, listings, max_points=max_points, budget=budget, floor=REPORT_FLOOR)
    data["curves"] = found
    series = sum(len(c["series"]) for c in found.values())
    data["downsample"].update(series=series, series_cut=cut, max_points=limit)
    return data
