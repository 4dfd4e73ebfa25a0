"""Functions the tests run in Ray tasks and actors (importable there by this name)."""

from __future__ import annotations

import os

import votakvot


@votakvot.track()
def square(x: int) -> int:
    """A tracked function."""
    return x * x


@votakvot.track()
def flaky(x: int, marker: str, failures: int) -> int:
    """A tracked function whose first `failures` runs fail (counted by files in `marker`)."""
    os.makedirs(marker, exist_ok=True)
    runs = len(os.listdir(marker))
    with open(os.path.join(marker, str(runs)), "w"):
        pass
    if runs < failures:
        raise RuntimeError(f"run {runs} fails")
    return x


def call(fn, *args):
    """Calls `fn(*args)` in a task and returns its result with the task's id and node: a plain
    function to hand a tracked one to (`ray.remote` takes only functions and classes)."""
    import ray

    context = ray.get_runtime_context()
    return fn(*args), context.get_task_id(), context.get_node_id()


class Counter:
    """An actor whose method opens a trial; returns the actor's and the call's ids."""

    def __init__(self, root: str) -> None:
        votakvot.init(path=root)  # the actor's own settings
        self.count = 0

    def step(self) -> tuple[str, str]:
        import ray

        self.count += 1
        with votakvot.trial("actor-step", count=self.count):
            pass
        context = ray.get_runtime_context()
        return context.get_actor_id(), context.get_task_id()
