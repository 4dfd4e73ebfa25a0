"""Functions the worker tests send to other processes (importable there by this name)."""

from __future__ import annotations

import os

import votakvot


@votakvot.track()
def work(x):
    """A tracked function that meters and informs; returns where it ran."""
    votakvot.meter(x=x)
    votakvot.inform(pid=os.getpid())
    return {"x": x, "pid": os.getpid()}


def open_trial(x):
    """User code that opens a trial itself inside a task; returns the trial's folder."""
    with votakvot.trial("inside-task", x=x) as t:
        t.result = os.getpid()
    return t.path


def call(fn, *args):
    """Calls `fn(*args)`: a plain function to hand to frameworks that take only functions (Ray)."""
    return fn(*args)


@votakvot.track(exclude=["data"])
def fit_without_data(data, lr=0.1):
    """A tracked function that leaves its (large) data argument out of its params."""
    return sum(data) * lr
