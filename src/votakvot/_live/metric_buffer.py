"""Metric rows waiting in memory until they are published as `Metered` batches.

`meter()` only appends the caller's own kwargs dict, stamped with the time under a private key
(a dict of atomic values is not tracked by the garbage collector, so a full buffer costs no GC
work). Steps are numbered when rows are flushed, in buffer order, one counter per series.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import threading
from collections.abc import Callable, Iterator
from typing import Any

from .._files import layout
from .._process import collector

# Rows buffered before `meter()` itself flushes them (the ticker flushes sooner).
BATCH_ROWS = 4096
# The private key of a buffered row's time (never a string, so never a metric name).
TIME = -2

Row = tuple[int, float, dict[str, Any]]
Publish = Callable[[str, list[Row]], None]


class MetricBuffer:
    """The metric rows of one trial not yet published, with the next step of each series."""

    def __init__(self, publish: Publish) -> None:
        self.publish = publish
        # Default-series rows, appended to directly by `LiveTrial.meter` (the hot path); a flush
        # swaps in a new deque, so appenders look the attribute up each time.
        self.rows: collections.deque[dict[Any, Any]] = collections.deque()
        self.series_rows: collections.deque[tuple[str, float, dict[str, Any]]] = collections.deque()
        self.next_steps: dict[str, int] = {}
        self.lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self.rows or self.series_rows)

    def add_series(self, series: str, stamp: float, values: dict[str, Any]) -> None:
        """Buffers one row of a named series."""
        if series not in self.next_steps:
            self.next_steps[layout.check_series(series)] = 0
        self.series_rows.append((series, stamp, values))
        if len(self.series_rows) >= BATCH_ROWS:
            self.flush()

    def continue_steps(self, last_steps: dict[str, int]) -> None:
        """Numbers the next rows of each series after `last_steps` (a resumed trial's)."""
        for series, last in last_steps.items():
            self.next_steps[series] = last + 1

    def counts(self) -> dict[str, int]:
        """Flushes, then returns the step the next row of each series gets (its rows so far):
        every row counted is published by then."""
        self.flush()
        with self.lock:
            return dict(self.next_steps)

    @contextlib.contextmanager
    def rewound(self, counts: dict[str, int]) -> Iterator[None]:
        """Numbers the next rows of each series from `counts` (0 for a series not in it) and
        keeps every flush waiting until the block ends, while the stored rows are rewound."""
        with self.lock:
            for series in self.next_steps:
                self.next_steps[series] = 0
            self.next_steps.update(counts)
            yield

    def flush(self) -> None:
        """Publishes every buffered row, in order, one batch per series; any thread may call it.

        Rows leave the buffer only once published: when a signal interrupts the flush (SIGTERM,
        Ctrl-C) at any point, they are put back in front with the same steps, for the final
        flush (sinks skip rows they had already stored).
        """
        with self.lock, collector.paused():
            if self.rows:
                self._flush_default()
            if self.series_rows:
                self._flush_series()

    def _flush_default(self) -> None:
        # The buffer is swapped for an empty one with no point in between where a signal handler
        # or another thread can run, so every row is either taken here (and put back in front
        # on any interrupt below) or appended to the new buffer.
        first = self.next_steps.get("", 0)
        fresh: collections.deque[dict[Any, Any]] = collections.deque()
        taken: collections.deque[dict[Any, Any]] | None = None
        batch: list[Row] | None = None
        try:
            taken = self.rows
            self.rows = fresh
            batch = [(step, row[TIME], row) for step, row in zip(itertools.count(first), taken)]
            for row in taken:
                del row[TIME]
            self.next_steps[""] = first + len(batch)
            self.publish("", batch)
        except BaseException:
            if taken is not None:
                if batch is not None:
                    for (_, stamp, _values), row in zip(batch, taken, strict=True):
                        row[TIME] = stamp
                self.next_steps[""] = first
                self.rows.extendleft(reversed(taken))
            raise

    def _flush_series(self) -> None:
        fresh: collections.deque[tuple[str, float, dict[str, Any]]] = collections.deque()
        taken: collections.deque[tuple[str, float, dict[str, Any]]] | None = None
        published: set[str] = set()
        try:
            taken = self.series_rows
            self.series_rows = fresh
            batches: dict[str, list[tuple[float, dict[str, Any]]]] = {}
            for series, stamp, values in taken:
                batches.setdefault(series, []).append((stamp, values))
            for series, rows in batches.items():
                first = self.next_steps[series]
                self.next_steps[series] = first + len(rows)
                try:
                    self.publish(series, [(first + i, stamp, values) for i, (stamp, values) in enumerate(rows)])
                    published.add(series)
                except BaseException:
                    self.next_steps[series] = first  # published again with the same steps
                    raise
        except BaseException:
            if taken is not None:
                self.series_rows.extendleft(reversed([row for row in taken if row[0] not in published]))
            raise
