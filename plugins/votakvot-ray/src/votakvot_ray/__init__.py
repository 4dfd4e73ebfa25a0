"""Meta providers for trials run in Ray tasks and actors: the task id, the actor id, the node and
which attempt at the task this run is (`meta.ray`).

Each is read in the task's own thread from the worker's runtime context (Ray keeps the running
task per thread). A process that has not imported `ray`, or a Ray driver, records nothing and
pays a dict lookup or two; `import votakvot_ray` does not import `ray`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import votakvot.meta

__all__ = ["RAY_PROVIDERS", "actor_id", "attempt", "node_id", "task_id"]


@votakvot.meta.once_per_collection
def _context() -> Any:
    """The runtime context of the Ray task or actor running this thread, or None outside one."""
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return None
    context = ray.get_runtime_context()
    worker = getattr(context, "worker", None)
    if getattr(worker, "mode", None) != ray.WORKER_MODE:  # a driver: no task of its own
        return None
    return context


@votakvot.meta.in_trial_thread
def task_id() -> str | None:
    """Returns the id of the Ray task (or actor method call) running the trial, in hex, or None."""
    context = _context()
    return context.get_task_id() if context is not None else None


@votakvot.meta.in_trial_thread
def actor_id() -> str | None:
    """Returns the id of the Ray actor running the trial, in hex, or None outside an actor."""
    context = _context()
    return context.get_actor_id() if context is not None else None


@votakvot.meta.in_trial_thread
def node_id() -> str | None:
    """Returns the id of the Ray node running the trial's task, in hex, or None outside a task."""
    context = _context()
    return context.get_node_id() if context is not None else None


@votakvot.meta.in_trial_thread
def attempt() -> int | None:
    """Returns which attempt at its task this run is (1 for the first; Ray retries a task whose
    worker died, or that raised with `retry_exceptions`), or None outside a task.

    Ray exposes the number only on its core worker (`get_current_task_attempt_number`, not
    public API); where a Ray version lacks it, this is None.
    """
    context = _context()
    core_worker = getattr(getattr(context, "worker", None), "core_worker", None)
    number = getattr(core_worker, "get_current_task_attempt_number", None)
    if number is None:
        return None
    value = number()
    return int(value) + 1 if isinstance(value, int) else None


RAY_PROVIDERS: dict[str, Callable[[], Any]] = {
    "ray.task_id": task_id,
    "ray.actor_id": actor_id,
    "ray.node_id": node_id,
    "ray.attempt": attempt,
}
"""The entry point `ray` of group `votakvot.meta_providers`: every provider above, by meta key."""
