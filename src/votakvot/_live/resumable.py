"""Resumable tasks: `resumable_fn` objects snapshotted between steps, and `call` by explicit id."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .._process import settings
from ..errors import CallArgumentError, SettingsError
from .verbs import trial_at


class resumable_fn:  # the seed's lower-case spelling, kept so its examples run as written
    """A computation split into `init(**params)` and repeated `loop()` calls, so it can resume.

    `loop()` returns None to go on, anything else to finish with that result. Under
    `votakvot.call` the object is pickled (its own `__getstate__`/`__setstate__` honoured) at most
    every `snapshot_period` seconds between `loop()` calls; after a crash the next `call` with the
    same id continues from the last snapshot. Outside tracking, use `MyFn.call(**params)` or
    iterate an initialised object (`for _ in obj: ...` yields None per step; `obj.result` at end).
    """

    __module__ = "votakvot"

    snapshot_period: float | datetime.timedelta = 5.0

    def init(self, **params: Any) -> None:
        """Sets the starting state from the trial's params."""

    def loop(self) -> Any:
        """Does one step; returns None to go on, or the final result."""
        raise NotImplementedError(f"{type(self).__name__} must define loop()")

    @classmethod
    def call(cls, **params: Any) -> Any:
        """Runs a fresh object to completion with no tracking and returns its result."""
        obj = cls()
        obj.init(**params)
        for _ in obj:
            pass
        return obj.result

    def __iter__(self) -> Iterator[None]:
        while True:
            result = self.loop()
            if result is not None:
                self.result = result
                return
            yield None


def _seconds(period: float | datetime.timedelta) -> float:
    return period.total_seconds() if isinstance(period, datetime.timedelta) else float(period)


def call(
    tid: str,
    fn: Callable[..., Any] | type[resumable_fn],
    params: dict[str, Any] | None = None,
    *,
    storage_options: Mapping[str, Any] | None = None,
) -> Any:
    """Runs `fn(**params)` as the trial with the explicit id `tid` and returns its result.

    A trial already `done` at that id is not run again: its stored result is returned. Only one
    run computes an id at a time: a second caller while it runs gets `TrialBusyError`. A
    `resumable_fn` subclass with a snapshot at that id resumes from it. Different params for an
    existing id raise `ParamsMismatchError`. `storage_options` replace init's for this call.

        votakvot.call(f"resumable_pi/n={n}", my_function, {"n": n})
    """
    params = _checked(tid, fn, params)
    with contextlib.ExitStack() as stack:
        if storage_options is not None:
            stack.enter_context(settings.scoped(_with_options(storage_options)))
        return _call(tid, fn, params)


def _with_options(storage_options: Mapping[str, Any]) -> settings.Settings:
    config = settings.current()
    if not isinstance(storage_options, Mapping):
        raise SettingsError(f"call(storage_options={storage_options!r}) must be a dict of fsspec options")
    if config.filesystem is not None:
        raise SettingsError(
            "call(storage_options=...) with a filesystem object as the root: the filesystem has its own options"
        )
    return dataclasses.replace(config, storage_options=dict(storage_options))


def _call(tid: str, fn: Callable[..., Any] | type[resumable_fn], params: dict[str, Any]) -> Any:
    t = trial_at(tid, **params)
    previous = t.existing()
    if previous is not None and previous.status == "done":
        return previous.result
    t.claim()
    try:
        previous = t.existing()  # read again under the claim: its last run may have just finished it
    except BaseException:
        t.release()
        raise
    if previous is not None and previous.status == "done":
        t.release()
        return previous.result
    with t:
        if isinstance(fn, type) and issubclass(fn, resumable_fn):
            t.result = _run_resumable(t, fn, params)
        else:
            t.result = fn(**params)
    return t.result


def _checked(tid: Any, fn: Any, params: Any) -> dict[str, Any]:
    """Returns `params` as a dict, or says which argument of `call(tid, fn, params)` is wrong."""
    if not isinstance(tid, str):
        if callable(tid):
            name = getattr(tid, "__name__", repr(tid))
            raise CallArgumentError(
                f"call() takes the trial id first, then the function: call('my-id', {name}, {{...}}); "
                f"got {tid!r} as the id"
            )
        raise CallArgumentError(f"call() takes a trial id string such as 'grid/lr=0.1' first, got {tid!r}")
    if not callable(fn):
        raise CallArgumentError(
            f"call() takes a function or resumable_fn class second (after the id {tid!r}), got {fn!r}"
        )
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise CallArgumentError(
            f"call() takes the params as a dict of keyword arguments for {getattr(fn, '__name__', fn)}, "
            f"such as {{'n': 3}}; got {params!r}"
        )
    bad = [key for key in params if not isinstance(key, str)]
    if bad:
        raise CallArgumentError(f"call() params are keyword arguments: their keys must be strings, not {bad[0]!r}")
    return dict(params)


def _run_resumable(t: Any, cls: type[resumable_fn], params: dict[str, Any]) -> Any:
    obj = t.restore()
    if obj is None:
        obj = cls()
        obj.init(**params)
    period = _seconds(cls.snapshot_period)
    last = time.monotonic()
    while True:
        result = obj.loop()
        if result is not None:
            return result
        if time.monotonic() - last >= period:
            t.snapshot(obj)
            last = time.monotonic()
