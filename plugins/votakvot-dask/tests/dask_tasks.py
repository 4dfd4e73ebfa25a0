"""Functions the tests send to Dask workers (importable there by this name)."""

from __future__ import annotations

import os

import votakvot


@votakvot.track()
def square(x: int) -> int:
    """A tracked task."""
    return x * x


@votakvot.track()
def flaky(x: int, marker: str, failures: int) -> int:
    """A tracked task whose first `failures` runs fail (counted by files in `marker`)."""
    os.makedirs(marker, exist_ok=True)
    runs = len(os.listdir(marker))
    with open(os.path.join(marker, str(runs)), "w"):
        pass
    if runs < failures:
        raise RuntimeError(f"run {runs} fails")
    return x


def double(x: int) -> int:
    """A plain function, run as an explicit id by `opens_trials`."""
    return 2 * x


def opens_trials(x: int) -> str:
    """User code that opens a trial and runs an explicit id itself; returns the first one's tid."""
    with votakvot.trial("by-hand", x=x) as t:
        t.result = x
    assert votakvot.call(f"resumable/{x}", double, {"x": x}) == 2 * x
    return t.tid


@votakvot.track()
def fans_out(xs: list[int]) -> list[int]:
    """A tracked task that submits tracked tasks of its own (a nested fan-out)."""
    from distributed import worker_client

    with worker_client() as client:
        return list(client.gather(client.map(square, xs)))


@votakvot.track()
def meta_of_my_trial() -> dict:
    """Returns the dask meta votakvot collected for this very trial."""
    current = votakvot.current()
    assert current is not None
    return dict(current.meta.get("dask", {}))
