"""The rule that shortens long metric curves for the page: each metric keeps its extremes.

A series of `n` rows longer than `limit` is cut by row position into equal buckets (as many as
fit `limit` when each of its `m` metrics keeps two rows per bucket); every metric keeps the row
of its minimum and of its maximum in each bucket, and the first and last rows stay. Spikes and
dips survive, flat stretches shrink, and the result never has more than `limit` rows.
"""

from __future__ import annotations

from collections.abc import Sequence


def kept_rows(n: int, columns: Sequence[Sequence[float | None]], limit: int) -> list[int] | None:
    """Returns the positions of the rows to keep (ascending), or None when all `n` rows fit."""
    if n <= limit:
        return None
    buckets = max(1, (limit - 2) // (2 * max(1, len(columns))))
    kept = {0, n - 1}
    inner = n - 2
    for b in range(buckets):
        lo = 1 + inner * b // buckets
        hi = 1 + inner * (b + 1) // buckets
        for column in columns:
            low = high = None
            low_at = high_at = lo
            for i in range(lo, hi):
                value = column[i]
                if value is None:
                    continue
                if low is None or value < low:
                    low, low_at = value, i
                if high is None or value > high:
                    high, high_at = value, i
            if low is not None:
                kept.add(low_at)
                kept.add(high_at)
    return sorted(kept)


def points_per_series(series_count: int, *, max_points: int, budget: int | None, floor: int) -> int:
    """Returns how many rows each series may keep: `max_points`, less when `series_count` series
    would pass the page's `budget` of rows in all, but never under `floor`."""
    if budget is None or series_count == 0:
        return max_points
    return max(floor, min(max_points, budget // series_count))
