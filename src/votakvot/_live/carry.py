"""What a call sent to another process takes along: the settings in force where it was sent
from and the trial it was sent from, put in force around the call where it runs; and
`votakvot.carry`, which makes any function take them along."""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, ParamSpec, TypeVar

from .._process import settings
from . import trial

P = ParamSpec("P")
R = TypeVar("R")


class Carried(NamedTuple):
    """Settings (None: the other process keeps its own) and the sending trial's tid."""

    settings: settings.Settings | None
    parent: str | None


def capture(received: Carried | None = None) -> Carried | None:
    """What a call pickled now takes along, or None when there is nothing to take. A function
    that was itself `received` from another process passes on what it got, where this process
    has nothing of its own; its parent stays the trial it was sent from unless the thread
    pickling it has a trial open (a task sending it on from its own trial)."""
    config = settings.carried()
    own = trial.current()
    if own is not None:
        parent: str | None = own.tid
    elif received is not None and received.parent is not None:
        # Passed on from outside any trial of this thread: e.g. a Dask scheduler, which lives in
        # the driver's process with a LocalCluster, sending a task on to a worker. The trial the
        # call was sent from stays its parent (not the main thread's trial of this process).
        parent = received.parent
    else:
        sending = trial.sending_trial()
        parent = sending.tid if sending is not None else None
    if received is not None:
        config = config if config is not None else received.settings
    if config is None and parent is None:
        return None
    return Carried(config, parent)


@contextlib.contextmanager
def applied(carried: Carried) -> Iterator[None]:
    """Runs a block with the carried settings (unless this process called `init` itself) and
    the sending trial as the parent of trials opened in it."""
    with contextlib.ExitStack() as stack:
        if carried.settings is not None and not settings.initialized():
            stack.enter_context(settings.scoped(carried.settings))
        if carried.parent is not None:
            token = trial.remote_parent.set(carried.parent)
            stack.callback(trial.remote_parent.reset, token)
        yield


class Carrying:
    """A function that, when pickled, takes along the settings in force and the trial open at
    that moment, and runs with them where it is called (see `votakvot.carry`)."""

    __wrapped__: Callable[..., Any]

    def __init__(self, fn: Callable[..., Any], carried: Carried | None = None) -> None:
        functools.update_wrapper(self, fn)
        self._fn = fn
        self._carried = carried

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._carried is None:
            return self._fn(*args, **kwargs)
        with applied(self._carried):
            return self._fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<votakvot.carry of {self._fn!r}>"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Carrying, (self._fn, capture(self._carried)))


def carry(fn: Callable[P, R], /) -> Callable[P, R]:
    """Makes `fn` take votakvot's settings in force and the open trial along wherever it is sent
    (pickled), as a tracked function does, without opening a trial itself: trials the call
    opens where it runs land in the sender's root and record the sender's trial as their parent.

        with votakvot.trial("sweep"):
            client.map(votakvot.carry(run_one), grid)  # run_one opens its own trials
    """
    if isinstance(fn, Carrying):
        return fn  # type: ignore[return-value]
    if not callable(fn):
        raise TypeError(f"carry() takes a function, not {fn!r}")
    if inspect.iscoroutinefunction(fn) or inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        raise TypeError(
            f"carry() takes a plain function; {fn!r} returns before its body runs, outside what it would carry "
            "(call it from a plain function and carry that)"
        )
    return Carrying(fn)  # type: ignore[return-value]
