"""Continuing a trial stored at an explicit id: what is read back, and what the new run takes over."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._files import yaml_format
from .._read.trial import Trial, read_trial
from ..errors import ParamsMismatchError

if TYPE_CHECKING:
    from .trial import LiveTrial


def stored(trial: LiveTrial) -> Trial | None:
    """Returns the trial already stored at `trial`'s folder, or None.

    Raises ParamsMismatchError if it was run with other params (compared as stored).
    """
    previous = read_trial(trial.store, trial.folder, trial.tid)
    if previous is not None and previous.params != _as_stored(trial.params):
        raise ParamsMismatchError(
            f"trial {trial.tid!r} already exists with params {previous.params!r}, not {trial.params!r}; "
            "use another id, or delete the folder to start over"
        )
    return previous


def take_over(trial: LiveTrial, previous: Trial) -> None:
    """Makes `trial` the continuation of `previous`: same uid and creation time, its info kept,
    this run appended to `at.resumed`, metric steps going on from the last stored ones."""
    trial.previous = previous
    trial.uid = previous.uid or trial.uid
    at = previous.data.get("at") or {}
    if at.get("created") is not None:
        trial.at["created"] = at["created"]
    earlier = at.get("resumed") or []
    trial.at["resumed"] = list(earlier) if isinstance(earlier, list) else []
    trial.resumed = len(trial.at["resumed"]) + 1
    trial.info.update(previous.data.get("info") or {})
    trial._buffer.continue_steps(previous.last_steps())


def _as_stored(params: dict[str, Any]) -> Any:
    return yaml_format.loads(yaml_format.dumps(params))
