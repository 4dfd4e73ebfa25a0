"""`read_report`: a votakvot report as a Dask DataFrame, its trial documents read in parallel on
the cluster with votakvot's own reader, so its columns are those of `votakvot.load_report`."""

from __future__ import annotations

import os
import uuid
import warnings
from typing import Any

import votakvot
from votakvot.errors import MissingDependencyError

__all__ = ["read_report"]


def _dask() -> tuple[Any, Any]:
    try:
        import dask
        import dask.dataframe as dd
    except ImportError as e:
        raise MissingDependencyError(
            f"votakvot_dask.read_report needs dask.dataframe ({e}); "
            "install it with: pip install 'votakvot-dask[dataframe]'"
        ) from e
    return dask, dd


def _summary(rows: votakvot.ReportRows) -> tuple[list[Any], votakvot.ReportRows, list[str]]:
    """What the caller needs of a read part to plan the partitions: its rows' sort keys, the rows
    that decide its columns, and why folders were skipped."""
    return rows.sort_keys, rows.schema(), rows.skipped


def _partition(pieces: list[votakvot.ReportRows], schema: votakvot.ReportRows, start: int) -> Any:
    """One partition: the pieces joined in report order, with the whole report's columns, and the
    positions the rows have in `load_report`'s frame as the index."""
    import pandas as pd

    frame = votakvot.ReportRows.concat(pieces).frame(schema=schema)
    frame.index = pd.RangeIndex(start, start + len(frame))
    return frame


def read_report(
    url: str | os.PathLike[str] | Any,
    storage_options: dict[str, Any] | None = None,
    *,
    full: bool = False,
    safe: bool = True,
    trusted: bool = False,
    partition_size: int = 1000,
) -> Any:
    """Reads the trials below `url` into a Dask DataFrame held on the cluster: one row per trial,
    in `votakvot.load_report`'s order, with its columns, names and dtypes and its index (0, 1, ...).

    The trial folders are listed here (one recursive listing on object stores); the documents
    are read and parsed by tasks, `partition_size` folders each, on the workers of the current
    Dask scheduler (a `distributed.Client`'s cluster, else Dask's local scheduler); the rows are
    then put in report order into partitions of `partition_size` rows, which are kept in the
    cluster's memory (persisted). `url`, `storage_options`, `full`, `safe` and `trusted` are those
    of `load_report`; a folder that cannot be read is skipped with a warning here (`safe=False`:
    `TrialLoadError`). A local folder must be the same path on the workers.

        ddf = votakvot_dask.read_report("s3://bucket/exp", storage_options={"profile": "lab"})
        ddf.groupby("lr").result.mean().compute()
    """
    dask, dd = _dask()
    # report_parts' warning (a path that does not exist) is given again from the caller's line.
    # The filters are process-wide while it lists: a warning of another thread meanwhile is given
    # again too (from here), never lost.
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        parts = votakvot.report_parts(
            url, full, size=partition_size, safe=safe, trusted=trusted, storage_options=storage_options
        )
    for warning in said:
        warnings.warn(warning.message, stacklevel=2)
    if not parts:
        with dask.config.set({"dataframe.convert-string": False}):
            return dd.from_pandas(votakvot.ReportRows.concat([]).frame(), npartitions=1)
    token = uuid.uuid4().hex[:12]
    read = dask.persist(
        *(
            dask.delayed(votakvot.ReportPart.read, pure=False)(part, dask_key_name=f"votakvot-read-{token}-{i}")
            for i, part in enumerate(parts)
        )
    )
    summaries = dask.compute(*(dask.delayed(_summary, pure=False)(rows) for rows in read))
    for _, _, skipped in summaries:
        for message in skipped:
            warnings.warn(message, stacklevel=2)
    schema = votakvot.ReportRows.concat(part_schema for _, part_schema, _ in summaries)
    order = sorted((key, p, i) for p, (keys, _, _) in enumerate(summaries) for i, key in enumerate(keys))
    shared_schema = dask.delayed(schema, name=f"votakvot-schema-{token}")
    partitions, divisions = [], []
    for q, start in enumerate(range(0, len(order), partition_size)):
        picked: dict[int, list[int]] = {}
        for _, p, i in order[start : start + partition_size]:
            picked.setdefault(p, []).append(i)
        pieces = [
            dask.delayed(votakvot.ReportRows.take, pure=False)(
                read[p], sorted(positions), dask_key_name=f"votakvot-take-{token}-{q}-{p}"
            )
            for p, positions in picked.items()
        ]
        name = f"votakvot-rows-{token}-{q}"
        partitions.append(dask.delayed(_partition, pure=False)(pieces, shared_schema, start, dask_key_name=name))
        divisions.append(start)
    divisions.append(len(order) - 1)
    meta = schema.frame(schema=schema).iloc[:0]
    # Dask would turn text columns into pyarrow strings, and the `trial` column's objects into
    # their repr: the frame must keep load_report's dtypes and the loaded trials.
    with dask.config.set({"dataframe.convert-string": False}):
        frame = dd.from_delayed(partitions, meta=meta, divisions=divisions, verify_meta=False)
        return frame.persist()
