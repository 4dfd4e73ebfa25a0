"""A report read in parts: trial folders found once, read where each part is sent (another
process or machine), and put together with the columns one `load_report` of them all has."""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable, Sequence
from typing import Any

from .._files.storage import Store, open_root, open_store
from .._process import settings
from ..errors import SelectionError
from . import discovery, report, report_frame, report_index
from .trial import Trial

SortKey = tuple[bool, int, str]


class ReportRows:
    """Report rows of some trials, in report order (creation time, then folder), not yet a
    DataFrame. Picklable, so rows read by workers can be sent, joined and cut.

        rows = votakvot.ReportRows.concat(part.read() for part in votakvot.report_parts(root))
        rows.frame()  # the DataFrame load_report(root) gives
    """

    __module__ = "votakvot"
    __slots__ = ("_loaded", "full", "skipped")

    def __init__(self, loaded: report.LoadResult, *, full: bool, skipped: Sequence[str] = ()) -> None:
        self._loaded = loaded
        self.full = full
        self.skipped = list(skipped)
        """The warnings of the folders that were skipped because they could not be read."""

    def __len__(self) -> int:
        return len(self._loaded.rows)

    def __repr__(self) -> str:
        return f"<votakvot.ReportRows of {len(self)} trials>"

    @property
    def sort_keys(self) -> list[SortKey]:
        """A comparable key per row that puts rows of any parts in report order (as `sorted` does)."""
        rows = self._loaded.rows
        missing = report_index.MISSING
        pairs = zip(rows.created, rows.folders, strict=True)
        return [(created == missing, created, folder) for created, folder in pairs]

    def take(self, positions: Sequence[int]) -> ReportRows:
        """Returns the rows at `positions` (ascending positions keep them in report order)."""
        loaded = self._loaded
        picked = list(positions)
        result = report.LoadResult(
            loaded.rows.take(picked),
            [loaded.trials[i] for i in picked],
            [loaded.statuses[i] for i in picked],
            [loaded.errors[i] for i in picked],
            loaded.base,
        )
        return ReportRows(result, full=self.full)

    @classmethod
    def concat(cls, parts: Iterable[ReportRows]) -> ReportRows:
        """Joins rows of one report (all read with the same `full`) into one, in report order."""
        parts = list(parts)
        fulls = {part.full for part in parts}
        if len(fulls) > 1:
            raise ValueError("ReportRows.concat() joins rows read alike; these mix full=True and full=False")
        table = report_index.Table()
        trials: list[Trial] = []
        statuses: list[str] = []
        errors: list[str | None] = []
        skipped: list[str] = []
        for part in parts:
            table.extend(part._loaded.rows)
            trials.extend(part._loaded.trials)
            statuses.extend(part._loaded.statuses)
            errors.extend(part._loaded.errors)
            skipped.extend(part.skipped)
        order = table.sort()
        base = parts[0]._loaded.base if parts else ""
        result = report.LoadResult(
            table, [trials[i] for i in order], [statuses[i] for i in order], [errors[i] for i in order], base
        )
        return cls(result, full=fulls.pop() if fulls else False, skipped=skipped)

    def schema(self) -> ReportRows:
        """Returns the few rows that decide the report's columns: their names, order and dtypes.

        These are the first row of each shape (set of params, info and result fields), of each
        full=True field, and of each kind of value (type, an int beyond int64, a datetime's
        time zone) in each column, and of each recorded UTC offset. The schema of all the parts
        of a report, joined with `concat`, decides the columns of the whole report.
        """
        rows = self._loaded.rows
        keep: list[int] = []
        seen: set[Any] = set()
        for i in range(len(rows)):
            names = rows.names[i]
            marks: list[tuple[Any, ...]] = [("shape", names), ("offset", rows.offsets[i])]
            marks.extend((cell, _kind(value)) for cell, value in zip(names, rows.values[i], strict=True))
            extra = rows.extras[i]
            if extra:
                marks.extend(("full", column, _kind(value)) for column, value in extra.items())
            new = [mark for mark in marks if mark not in seen]
            if new:
                seen.update(new)
                keep.append(i)
        return self.take(keep)

    def frame(self, *, schema: ReportRows | None = None) -> Any:
        """Returns these rows as the report DataFrame `load_report` would give for them.

        With `schema` (the joined `schema()` of every part of a larger report), the frame has
        exactly that report's columns, in its order, with its names and dtypes, so the frames of
        its parts join (`pandas.concat`) into the frame of the whole.
        """
        import pandas as pd

        if schema is not None and schema.full != self.full:
            raise ValueError("ReportRows.frame() takes the schema of the same report (full= differs)")
        return report_frame.frame(pd, self._loaded, self.full, schema._loaded if schema is not None else None)


def _kind(value: Any) -> Any:
    """What of a value decides the dtype pandas gives its column."""
    kind = type(value)
    if kind is int:
        return kind, -(2**63) <= value < 2**63
    if kind is datetime.datetime:
        return kind, value.tzinfo
    return kind


class ReportPart:
    """Some trial folders of one report, to be read where the part is sent. Picklable; made by
    `votakvot.report_parts`.

        rows = part.read()  # on a worker
    """

    __module__ = "votakvot"
    __slots__ = ("_anchors", "_folders", "_store", "full", "safe", "trusted")

    def __init__(
        self, store: Store, folders: list[str], anchors: list[str], *, full: bool, safe: bool, trusted: bool
    ) -> None:
        self._store, self._folders, self._anchors = store, folders, anchors
        self.full, self.safe, self.trusted = full, safe, trusted

    def __len__(self) -> int:
        return len(self._folders)

    def __repr__(self) -> str:
        return f"<votakvot.ReportPart of {len(self)} trial folders>"

    @property
    def folders(self) -> list[str]:
        """The trial folders of this part (local paths, or URLs for remote stores)."""
        return [self._store.url(folder) for folder in self._folders]

    def read(self) -> ReportRows:
        """Reads and parses the documents of this part's folders into report rows (remote stores
        fetch them concurrently). A folder that cannot be read is skipped, its warning kept in
        `ReportRows.skipped`; with `safe=False` it raises `TrialLoadError`."""
        skipped: list[str] = []
        table, trials = report.read(
            self._store,
            dict.fromkeys(self._folders, (None, None)),
            self._anchors,
            safe=self.safe,
            trusted=self.trusted,
            rows=True,
            full=self.full,
            skipped=skipped,
        )
        order = table.sort()
        loaded = report.loaded(table, [trials[i] for i in order], "")
        return ReportRows(loaded, full=self.full, skipped=skipped)


def report_parts(
    path: str | os.PathLike[str] | Any | None = None,
    full: bool = False,
    *,
    size: int = 1000,
    safe: bool = True,
    trusted: bool = False,
    storage_options: dict[str, Any] | None = None,
) -> list[ReportPart]:
    """Finds the trial folders `load_report(path)` would read and splits them into parts of at
    most `size` folders, to be read elsewhere (in the order of their paths).

    Only the folders are listed here (one recursive listing on remote stores); each part reads
    its documents when its `read()` is called, e.g. on a Dask or Ray worker. `path`, `full`,
    `safe`, `trusted` and `storage_options` are those of `load_report`; the report index is not
    used. A local root must be the same path where the parts are read.

        parts = votakvot.report_parts("s3://bucket/exp", size=500)
        rows = votakvot.ReportRows.concat(part.read() for part in parts)
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise SelectionError(f"report_parts() size is the number of trial folders per part (an int >= 1), not {size!r}")
    config = settings.current()
    store, pattern = open_store(path, storage_options) if path is not None else open_root(config, storage_options)
    literal = not discovery.has_glob(pattern) or store.exists(pattern)
    found = discovery.find(store, pattern, {}, None, literal=literal)
    if not found.signatures:
        report.warn_if_missing(store, found.base, pattern, stacklevel=3)
    anchors = report.anchors_of(store, found.base, config)
    folders = sorted(found.signatures)
    return [
        ReportPart(store, folders[i : i + size], anchors, full=full, safe=safe, trusted=trusted)
        for i in range(0, len(folders), size)
    ]
