"""The report DataFrame built from loaded rows: which columns, in which order, named and typed how."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import report_index

if TYPE_CHECKING:
    from .report import LoadResult

STANDARD_COLUMNS = ("tid", "trial", "status")
# The report's own columns after the standard ones; full=True names the times as the document does.
TIMING_COLUMNS = ("created", "finished", "duration", "error")
FULL_TIMING_COLUMNS = ("at.created", "at.finished", "at.duration", "error")
SECTIONS = ("params", "info", "result")


def own_columns(full: bool) -> tuple[str, ...]:
    """The columns every report with trials has, in order."""
    return STANDARD_COLUMNS + (FULL_TIMING_COLUMNS if full else TIMING_COLUMNS)


def column_name(section: str, name: str, owners: set[str]) -> str:
    """Names the column of `name` from `section`, prefixed when another section (or one of the
    report's own columns) has it too."""
    if len(owners) == 1 or name == section or name.startswith(section + "."):
        return name
    return f"{section}.{name}"


def _owners(rows: report_index.Table, own: tuple[str, ...], full: bool) -> dict[str, set[str]]:
    """Which sections (or the report itself, or the document for full=True) have each name."""
    owners: dict[str, set[str]] = {name: {"standard"} for name in own}
    for names in dict.fromkeys(rows.names):
        for cell in names:
            section, name = cell.split("\0", 1)
            owners.setdefault(name, set()).add(section)
    if full:
        for extra in rows.extras:  # the document's own fields keep their names
            for name in extra or ():
                if name in owners:
                    owners[name].add("document")
    return owners


def frame(pd: Any, loaded: LoadResult, full: bool, schema: LoadResult | None = None) -> Any:
    """Builds the report DataFrame: the report's own columns, then sections, then full=True's
    fields; integer columns with gaps stay integer (`Int64`).

    With `schema` (rows that decide the columns of a larger report `loaded` is part of; see
    `report_parts`), the frame has exactly the columns, names and dtypes of that report's frame.
    """
    rows = loaded.rows
    own = own_columns(full)
    template = frame(pd, schema, full) if schema is not None else None
    if not len(rows) and (template is None or template.columns.tolist() == list(STANDARD_COLUMNS)):
        return pd.DataFrame(columns=list(STANDARD_COLUMNS))  # as the SPEC has it: exactly the standard columns
    owners = _owners(schema.rows if schema is not None else rows, own, full)
    rows_of: dict[tuple[str, ...], Sequence[int]]
    if len(rows) and rows.names.count(rows.names[0]) == len(rows):  # one shape of row, as in most reports
        rows_of = {rows.names[0]: range(len(rows))}
    else:
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, names in enumerate(rows.names):
            groups.setdefault(names, []).append(i)
        rows_of = dict(groups)
    count = len(rows)
    data: dict[str, Any] = {"tid": rows.tids, "trial": loaded.trials, "status": loaded.statuses}
    created, finished, duration, error = own[3:]
    data[created] = _times(pd, rows.created, rows.offsets)
    data[finished] = _times(pd, rows.finished, rows.offsets)
    data[duration] = pd.Series(_numbers(rows.durations, "float64"), copy=False)
    data[error] = pd.Series(loaded.errors, dtype=object)  # mostly None: not worth pandas' inference
    values_of = rows.values
    for names, positions in rows_of.items():  # column-wise: one transpose per shape of row
        if not names:
            continue
        cells = (cell.split("\0", 1) for cell in names)
        columns = [column_name(section, name, owners[name]) for section, name in cells]
        transposed = zip(*(values_of[i] for i in positions), strict=True)
        for column, values in zip(columns, transposed, strict=True):
            if len(positions) == count and column not in data:
                data[column] = _typed(values)
                continue
            target = data.setdefault(column, [None] * count)
            for i, value in zip(positions, values, strict=True):
                target[i] = value
    if full:
        for i, extra in enumerate(rows.extras):
            for column, value in (extra or {}).items():
                data.setdefault(column, [None] * count)[i] = value
    if template is not None:
        return _conformed(pd, data, count, template)
    result = pd.DataFrame(data)
    keep_integers(pd, result, data, skip=len(own))
    return result


def _conformed(pd: Any, data: dict[str, Any], count: int, template: Any) -> Any:
    """A frame of `data` with the template's columns and dtypes: each column is built with the
    dtype pandas gave the whole report's column, so the parts of a report join into its frame."""
    columns: dict[str, Any] = {}
    for column, dtype in template.dtypes.items():
        values = data.get(column)
        if values is None:
            values = [None] * count
        if isinstance(values, pd.DatetimeIndex):
            columns[column] = pd.Series(values.tz_convert(dtype.tz), copy=False)
        else:
            columns[column] = pd.Series(values, dtype=dtype)
    return pd.DataFrame(columns)


def _times(pd: Any, micros: Sequence[int], offsets: Sequence[int]) -> Any:
    """A datetime column from microseconds since the epoch (`MISSING`: NaT), shown at the UTC
    offset the trials recorded (UTC when they recorded several)."""
    instants = pd.DatetimeIndex(_numbers(micros, "int64").view("M8[us]")).tz_localize("UTC")
    recorded = set(offsets)
    recorded.discard(report_index.MISSING)
    if len(recorded) == 1:
        return instants.tz_convert(datetime.timezone(datetime.timedelta(seconds=recorded.pop())))
    return instants


def _typed(values: Sequence[Any]) -> Any:
    """A column of only ints (fitting int64) or only floats as the numpy array pandas would infer
    from it, made without pandas' slower inference (a third of a report's time at 100,000 rows);
    any other column as a list, for pandas to infer."""
    kinds = set(map(type, values))
    if kinds == {float} or kinds == {int}:
        import numpy  # installed with pandas

        try:
            return numpy.array(values, dtype="float64" if float in kinds else "int64")
        except OverflowError:  # integers beyond int64: pandas decides (uint64 or object)
            pass
    return list(values)


def _numbers(values: Sequence[Any], dtype: str) -> Any:
    """A numpy array of a numeric index column (a typed array is taken without a copy)."""
    import numpy  # installed with pandas

    return numpy.asarray(values, dtype=dtype)


def keep_integers(pd: Any, table: Any, data: dict[str, Any], *, skip: int = 0) -> None:
    """Turns the float columns pandas made of integers with gaps (None) back into integers (`Int64`)."""
    dtypes = table.dtypes
    for position, column in enumerate(table.columns):
        if position < skip or dtypes.iloc[position] != "float64" or not table[column].hasnans:
            continue  # integers without gaps stay int64 anyway
        values = data[column]
        kinds = set(map(type, values))
        if int in kinds and kinds <= {int, type(None)} and all(-(2**63) <= v < 2**63 for v in values if v is not None):
            table[column] = pd.array(values, dtype="Int64")
