"""`votakvot.carry`: a plain function that takes the settings and the open trial along when it is
sent to another process, so trials it opens there land in the sender's root under its trial."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

import votakvot


def _trial_at(root: Path, path: str) -> votakvot.Trial:
    """The trial whose folder is `path`, loaded from `root`."""
    (found,) = [t for t in votakvot.load_trials(str(root)).values() if t.path == path]
    return found


def opens_a_trial(x: int) -> str:
    """User code that opens its own trial; returns the trial's folder."""
    with votakvot.trial("inside", x=x) as t:
        t.result = x
    return t.path


def test_a_carried_function_sent_from_a_trial_records_it_as_parent(tmp_path):
    """Pickled while a trial is open and called after it closed (as a worker would), the call's
    trials record the sender's trial as their parent and land in the sender's root."""
    root = tmp_path / "results"
    votakvot.init(path=str(root))
    with votakvot.trial("sweep") as sweep:
        sent = pickle.dumps(votakvot.carry(opens_a_trial))
    received = pickle.loads(sent)
    votakvot.init(path=str(tmp_path / "elsewhere"))  # the receiving process's own settings win ...
    path = received(3)
    assert path.startswith(str(tmp_path / "elsewhere"))
    assert _trial_at(tmp_path / "elsewhere", path).data["parent"] == sweep.tid


def test_a_carried_function_brings_the_senders_settings_where_none_were_given(tmp_path):
    """Where the receiving process called no init, the sender's settings are in force for the call only."""
    root = tmp_path / "results"
    votakvot.init(path=str(root), sinks=["yaml"])
    sent = pickle.dumps(votakvot.carry(opens_a_trial))
    votakvot.testing.reset()  # a process that called no init
    path = pickle.loads(sent)(4)
    assert path.startswith(str(root))
    assert _trial_at(root, path).data.get("parent") is None  # sent with no trial open
    with votakvot.trial("after") as after:
        pass
    assert not after.path.startswith(str(root))  # only the call ran with the sender's settings


def test_calling_a_carried_function_where_it_was_made_just_calls_it(tmp_path):
    """Not sent anywhere, a carried function is the function: same result, same name, nested trials as usual."""
    votakvot.init(path=str(tmp_path))
    carried = votakvot.carry(opens_a_trial)
    assert carried.__name__ == "opens_a_trial" and carried.__wrapped__ is opens_a_trial
    assert votakvot.carry(carried) is carried
    with votakvot.trial("outer") as outer:
        path = carried(5)
    assert _trial_at(tmp_path, path).data["parent"] == outer.tid


async def _coroutine() -> None:
    return None


def _generator():
    yield 1


@pytest.mark.parametrize("fn", [_coroutine, _generator, 42], ids=["async", "generator", "not-callable"])
def test_carry_refuses_what_it_cannot_carry(fn):
    """Async and generator functions return before their body runs, so carry refuses them, as anything not callable."""
    with pytest.raises(TypeError, match="carry\\(\\) takes"):
        votakvot.carry(fn)
