"""votakvot on Dask: which task, worker and attempt ran each trial (`meta.dask`), and a votakvot
report read in parallel on the cluster as a Dask DataFrame (`read_report`).

    votakvot_dask.count_attempts(client)         # once: trials record meta.dask.attempt
    ddf = votakvot_dask.read_report("s3://bucket/exp")

`import votakvot_dask` imports neither `distributed` nor `dask.dataframe`: the meta providers
run in every process votakvot runs in, and each name below is imported on first use.
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

from .task_meta import DASK_PROVIDERS

if _typing.TYPE_CHECKING:
    from .attempts import AttemptCounter, count_attempts
    from .report import read_report

__all__ = ["DASK_PROVIDERS", "AttemptCounter", "count_attempts", "read_report"]

_ON_FIRST_USE = {
    "AttemptCounter": ".attempts",
    "count_attempts": ".attempts",
    "read_report": ".report",
}


def __getattr__(name: str) -> object:
    module = _ON_FIRST_USE.get(name)
    if module is None:
        raise AttributeError(f"module 'votakvot_dask' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
