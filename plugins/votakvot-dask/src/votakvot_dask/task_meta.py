"""Meta providers for trials run in a Dask task: the task's key, the worker's address, the run
the scheduler numbered it with and, where attempts are counted, which attempt it is.

Each is read from the worker's own state in the task's thread (no message to the scheduler).
A process that has not imported `distributed` pays one dict lookup per provider.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import votakvot.meta

__all__ = ["DASK_PROVIDERS", "SENT", "attempt", "key", "run_id", "worker"]

SENT = "votakvot-sends"
"""The task annotation in which `AttemptCounter` keeps how many times the scheduler had sent the
task before this send (this module must not import `distributed`, hence it is defined here)."""


@votakvot.meta.once_per_collection
def _running() -> tuple[Any, Any] | None:
    """The worker and the key of the task running in this thread, or None outside a Dask task."""
    module = sys.modules.get("distributed.worker")
    if module is None:  # never imported: this process runs no Dask task
        return None
    task_key = getattr(module.thread_state, "key", None)
    if task_key is None:
        return None
    try:
        return module.get_worker(), task_key
    except ValueError:  # a thread that has the key but not the worker: not a task of this worker
        return None


def _task_state() -> Any:
    running = _running()
    if running is None:
        return None
    dask_worker, task_key = running
    return dask_worker.state.tasks.get(task_key)


@votakvot.meta.in_trial_thread
def key() -> str | None:
    """Returns the key of the Dask task running the trial (as text), or None outside a task.

        key()  # "train-5d1c8e0f2b9a4c7e8f6a1b2c3d4e5f60" or "('from_sequence-1a2b', 3)"
    """
    running = _running()
    return str(running[1]) if running is not None else None


@votakvot.meta.in_trial_thread
def worker() -> str | None:
    """Returns the address of the Dask worker running the trial, or None outside a task.

    worker()  # "tcp://10.0.0.7:38211"
    """
    running = _running()
    return str(running[0].address) if running is not None else None


@votakvot.meta.in_trial_thread
def run_id() -> int | None:
    """Returns the number the scheduler gave this run of the task (a new one each time it sends
    the task to a worker, increasing), or None outside a task."""
    ts = _task_state()
    value = getattr(ts, "run_id", None)
    return value if isinstance(value, int) else None


@votakvot.meta.in_trial_thread
def attempt() -> int | None:
    """Returns which attempt at its task this run is (1 for the first), where the scheduler counts
    them (`votakvot_dask.count_attempts`); None elsewhere."""
    ts = _task_state()
    annotations = getattr(ts, "annotations", None)
    sent = annotations.get(SENT) if isinstance(annotations, dict) else None
    return sent + 1 if isinstance(sent, int) else None


DASK_PROVIDERS: dict[str, Callable[[], Any]] = {
    "dask.key": key,
    "dask.worker": worker,
    "dask.attempt": attempt,
    "dask.run_id": run_id,
}
"""The entry point `dask` of group `votakvot.meta_providers`: every provider above, by meta key."""
