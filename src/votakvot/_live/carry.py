"""What a call sent to another process takes along: the settings in force where it was sent
from and the trial it was sent from, put in force around the call where it runs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import NamedTuple

from .._process import settings
from . import trial


class Carried(NamedTuple):
    """Settings (None: the other process keeps its own) and the sending trial's tid."""

    settings: settings.Settings | None
    parent: str | None


def capture(received: Carried | None = None) -> Carried | None:
    """What a call pickled now takes along, or None when there is nothing to take. A function
    that was itself `received` from another process passes on what it got, where this process
    has nothing of its own."""
    config = settings.carried()
    sending = trial.sending_trial()
    parent = sending.tid if sending is not None else None
    if received is not None:
        config = config if config is not None else received.settings
        parent = parent if parent is not None else received.parent
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
