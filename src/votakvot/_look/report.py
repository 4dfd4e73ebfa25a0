"""`votakvot.write_report`: one self-contained HTML page of a root's trials, to open offline."""

from __future__ import annotations

import os
from typing import Any

from .._process import collector
from . import page, page_data, table


def write_report(
    path: str | os.PathLike[str] | Any | None = None,
    out: str | os.PathLike[str] = "report.html",
    *,
    max_points: int = page_data.REPORT_MAX_POINTS,
    budget: int | None = page_data.REPORT_BUDGET,
    storage_options: dict[str, Any] | None = None,
) -> str:
    """Writes one HTML file showing the trials below `path` (default: the root from `init`) and
    returns its path: a sortable, filterable table, metric curves of the trials you tick, each
    trial's details and params against a result. It opens offline (the chart library is inside).

    Curves longer than `max_points` rows are downsampled (each metric keeps its extremes), to
    fewer rows when all series together pass `budget` rows (None: no such limit). Needs
    `pip install 'votakvot[report]'` (plotly). Nothing in the trial folders is executed.

        votakvot.write_report("./my-results", "report.html")
    """
    if not isinstance(max_points, int) or isinstance(max_points, bool) or max_points < 10:
        raise ValueError(f"write_report(max_points={max_points!r}) takes an int of at least 10, e.g. 1000")
    if budget is not None and (not isinstance(budget, int) or isinstance(budget, bool) or budget < 0):
        raise ValueError(f"write_report(budget={budget!r}) takes None or a number of rows such as 400_000")
    page.plotly_js()  # a missing extra fails before the root is read
    with collector.paused():
        loaded = table.Loaded(path, storage_options)
        data = page_data.report(loaded, table.root_name(path), max_points=max_points, budget=budget)
    html = page.render(data)
    target = os.fspath(out)
    with open(target, "w", encoding="utf-8") as f:
        f.write(html)
    return target
