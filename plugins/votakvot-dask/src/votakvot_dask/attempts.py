"""Counting attempts at each task on the Dask scheduler, so a trial knows which attempt it ran in.

The scheduler sends a task to a worker again when it failed with retries left, when its worker
died, or when its result was lost; each send is an attempt. `AttemptCounter` counts the sends
of each key in the task's own annotations, which travel with the next send to the worker, where
`votakvot_dask.task_meta.attempt` reads them. The count lives and goes with the task: a key the
scheduler forgets starts again from 1.
"""

from __future__ import annotations

from typing import Any

from distributed import Client, SchedulerPlugin

from .task_meta import SENT

__all__ = ["AttemptCounter", "count_attempts"]


class AttemptCounter(SchedulerPlugin):
    """A scheduler plugin that counts the sends of each task into the task's annotations."""

    name = "votakvot-attempts"
    idempotent = True

    def __init__(self) -> None:
        self._scheduler: Any = None

    async def start(self, scheduler: Any) -> None:
        self._scheduler = scheduler

    def update_graph(self, scheduler: Any, *, tasks: list[Any] | None = None, **kwargs: Any) -> None:
        # New tasks get a count of 0 before their first send, so their first run knows it is
        # the first (a run whose task has no count was sent before this plugin was installed).
        self._scheduler = scheduler
        for task_key in tasks or ():
            ts = scheduler.tasks.get(task_key)
            if ts is not None and SENT not in (ts.annotations or {}):
                ts.annotations = {**(ts.annotations or {}), SENT: 0}

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        if finish != "processing" or self._scheduler is None:
            return
        ts = self._scheduler.tasks.get(key)
        if ts is None:
            return
        # The message of this send was built before plugins hear of the transition, from the
        # annotations dict as it was; a new dict (never an edit of that one) counts this send
        # for the next one.
        annotations = ts.annotations or {}
        ts.annotations = {**annotations, SENT: int(annotations.get(SENT, 0)) + 1}


def count_attempts(client: Client) -> None:
    """Installs the `AttemptCounter` on the client's scheduler (once; again is a no-op), so that
    trials run in tasks sent from then on record `meta.dask.attempt`.

        client = distributed.Client(cluster)
        votakvot_dask.count_attempts(client)
    """
    if not isinstance(client, Client):
        raise TypeError(f"count_attempts() takes a distributed.Client, not {client!r}")
    client.register_plugin(AttemptCounter())
