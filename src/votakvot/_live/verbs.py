"""The module-level verbs: open a trial, and act on the innermost live one."""

from __future__ import annotations

from typing import IO, Any

from .._files import layout
from ..errors import CallArgumentError
from .outside import discarding_file, warn_outside
from .trial import LiveTrial, _active


def trial(name: str, /, **params: Any) -> LiveTrial:
    """Opens a trial in `{root}/{name}/{yy}-{mm}-{dd}/{HH}:{MM}:{SS}/{uuid4}`; use it with `with`.

    with votakvot.trial("my_exp", lr=0.1) as t:
        t.meter(loss=0.5)
        t.result = {"acc": 0.9}
    """
    uid = layout.new_uid()
    return LiveTrial(layout.dated_tid(name, uid), params, uid=uid, name=name)


def trial_at(tid: str, /, **params: Any) -> LiveTrial:
    """Opens a trial with the explicit id `tid` (folder `{root}/{tid}`); resumes one that exists.

    If the folder already holds a trial, the new run continues it: same uid, its `info` kept,
    `at.resumed` extended, status `resumed` while it runs. Different params raise
    `ParamsMismatchError`. While it runs the id is claimed: another `trial_at` or `call` of the
    same id (in any process) raises `TrialBusyError`.
    """
    if not isinstance(tid, str):
        raise CallArgumentError(f"trial_at() takes the trial id first, a string such as 'grid/lr=0.1'; got {tid!r}")
    return LiveTrial(layout.check_relative(tid, what="trial id"), params, explicit=True)


def inform(**values: Any) -> None:
    """Adds information to the innermost live trial (ignored, with one warning, outside trials)."""
    t = _active.get()
    if t is None:
        warn_outside("inform")
        return
    t.inform(**values)


def meter(**values: Any) -> None:
    """Appends one row of metrics to the innermost live trial (ignored outside trials).

    votakvot.meter(loss=0.25, acc=0.9)
    """
    t = _active.get()
    if t is None:
        warn_outside("meter")
        return
    t._add_row(values)


def attach(name: str, mode: str = "w", **kwargs: Any) -> IO[Any]:
    """Opens a file inside the innermost live trial's folder; outside trials, a file that discards writes.

    with votakvot.attach("notes.txt", "w") as f:
        f.write("...")
    """
    t = _active.get()
    if t is None:
        layout.check_attach_name(name)  # a wrong name fails here too, not first inside a trial
        warn_outside("attach")
        return discarding_file(mode)
    return t.attach(name, mode, **kwargs)


class MetricSeries:
    """A named metric series of the innermost live trial, with its own step counter.

    evaluation = votakvot.series("eval")
    evaluation.meter(acc=0.91)        # -> metrics.eval.csv
    """

    __module__ = "votakvot"

    def __init__(self, name: str) -> None:
        self.name = layout.check_series(name)

    def __repr__(self) -> str:
        return f"votakvot.series({self.name!r})"

    def meter(self, **values: Any) -> None:
        """Appends one row to this series of the innermost live trial (ignored outside trials)."""
        t = _active.get()
        if t is None:
            warn_outside("series().meter")
            return
        t.meter_series(self.name, values)


def series(name: str) -> MetricSeries:
    """Returns the metric series `name` (its rows go to `metrics.{name}.csv`)."""
    return MetricSeries(name)
