"""`@votakvot.track()` and `votakvot.init`: each call a trial, in the root chosen by init or the environment."""

from __future__ import annotations

import asyncio
import os
import pickle
import re

import pytest

import votakvot
from conftest import read_yaml

FAST = {"heartbeat": 0.2, "flush_interval": 0.1}
STAMP = r"\d\d-\d\d-\d\d/\d\d:\d\d:\d\d/[0-9a-f]{32}"


@votakvot.track()
def combine(one, two=2, *, scale=1, **extra):
    votakvot.inform(called_with=one)
    votakvot.meter(partial=one + two)
    return (one + two + sum(extra.values())) * scale


@votakvot.track()
def explode(message):
    raise ValueError(message)


@votakvot.track()
async def square_later(x, delay=0.0):
    await asyncio.sleep(delay)  # stays: makes concurrent calls finish in another order than they started
    votakvot.meter(x=x)
    votakvot.inform(awaited=True)
    return x * x


@votakvot.track()
def countdown(n):
    for i in range(n, 0, -1):
        votakvot.meter(inside=i)
        yield i
    return "liftoff"


@votakvot.track()
def failing_generator(n):
    yield n
    raise RuntimeError("generator broke")


@votakvot.track(name="custom/experiment")
def renamed(a):
    return a


def _only(root: str, prefix: str) -> votakvot.Trial:
    """Returns the one trial below `root` whose tid starts with `prefix`."""
    found = [t for tid, t in votakvot.load_trials(root).items() if tid.startswith(prefix)]
    assert len(found) == 1, sorted(votakvot.load_trials(root))
    return found[0]


def test_call_runs_in_a_trial_named_module_and_function(root):
    """A tracked call is a trial in {root}/{module}/{function}/{yy-mm-dd}/{HH:MM:SS}/{uuid}."""
    votakvot.init(path=root, **FAST)
    combine(1)
    (tid,) = votakvot.load_trials(root)
    assert re.fullmatch(rf"{re.escape(__name__)}/combine/{STAMP}", tid), tid


def test_params_are_bound_arguments_with_defaults_and_flat_kwargs(root):
    """Params are the bound arguments, defaults applied and **kwargs flattened into them."""
    votakvot.init(path=root, **FAST)
    assert combine(1, three=3, four=4) == 10
    trial = _only(root, f"{__name__}/combine/")
    assert dict(trial.params) == {"one": 1, "two": 2, "scale": 1, "three": 3, "four": 4}


def test_result_is_recorded_and_returned(root):
    """The return value is both returned to the caller and stored as the trial's result."""
    votakvot.init(path=root, **FAST)
    assert combine(2, 3, scale=10) == 50
    trial = _only(root, f"{__name__}/combine/")
    assert trial.status == "done"
    assert trial.result == 50
    assert dict(trial.info) == {"called_with": 2}
    assert list(trial.metrics()["partial"]) == [5]


def test_exception_is_recorded_and_reraised(root):
    """An exception in a tracked call is recorded (failed, error, traceback) and reaches the caller."""
    votakvot.init(path=root, **FAST)
    with pytest.raises(ValueError, match="no luck"):
        explode("no luck")
    trial = _only(root, f"{__name__}/explode/")
    assert trial.status == "failed"
    assert "no luck" in trial.error
    assert dict(trial.params) == {"message": "no luck"}
    assert "traceback.txt" in trial.attached


def test_each_call_is_its_own_trial(root):
    """Every call of a tracked function makes a new trial."""
    votakvot.init(path=root, **FAST)
    for i in range(3):
        combine(i)
    trials = votakvot.load_trials(root)
    assert sorted(t.result for t in trials.values()) == [2, 3, 4]


def test_name_overrides_the_folder(root):
    """track(name=...) puts the trials under that name instead of module/function."""
    votakvot.init(path=root, **FAST)
    renamed(7)
    (tid,) = votakvot.load_trials(root)
    assert re.fullmatch(rf"custom/experiment/{STAMP}", tid), tid


def test_async_function_is_awaited_inside_its_trial(root):
    """An async def function is awaited inside its trial; its verbs land there and its result is stored."""
    votakvot.init(path=root, **FAST)
    assert asyncio.run(square_later(4)) == 16
    trial = _only(root, f"{__name__}/square_later/")
    assert trial.status == "done"
    assert trial.result == 16
    assert dict(trial.params) == {"x": 4, "delay": 0.0}
    assert dict(trial.info) == {"awaited": True}
    assert list(trial.metrics()["x"]) == [4]


def test_concurrent_async_calls_keep_their_own_trials(root):
    """Several tracked coroutines awaited together each record only their own values."""
    votakvot.init(path=root, **FAST)

    async def main():
        return await asyncio.gather(*(square_later(x, delay=0.01 * (5 - x)) for x in range(5)))

    assert asyncio.run(main()) == [0, 1, 4, 9, 16]
    trials = votakvot.load_trials(root)
    assert len(trials) == 5
    for trial in trials.values():
        x = trial.params["x"]
        assert trial.result == x * x
        assert list(trial.metrics()["x"]) == [x]


def test_generator_result_is_its_return_value(root):
    """A tracked generator yields through unchanged and its return value is the result."""
    votakvot.init(path=root, **FAST)
    gen = countdown(3)
    assert list(gen) == [3, 2, 1]
    trial = _only(root, f"{__name__}/countdown/")
    assert trial.status == "done"
    assert trial.result == "liftoff"
    assert dict(trial.params) == {"n": 3}
    assert list(trial.metrics()["inside"]) == [3, 2, 1]


def test_generator_return_value_reaches_the_consumer(root):
    """`yield from` a tracked generator gives the consumer its return value."""
    votakvot.init(path=root, **FAST)

    def consumer():
        returned = yield from countdown(2)
        return returned

    gen = consumer()
    with pytest.raises(StopIteration) as stop:
        while True:
            next(gen)
    assert stop.value.value == "liftoff"


def test_consumer_verbs_between_yields_stay_out_of_the_generator_trial(root):
    """While the consumer runs between yields, its votakvot.meter goes to its own trial, not the generator's."""
    votakvot.init(path=root, **FAST)
    with votakvot.trial("consumer") as outer:
        for value in countdown(3):
            votakvot.meter(outside=value)
            votakvot.inform(consumer_saw=value)
    generator_trial = _only(root, f"{__name__}/countdown/")
    outer_trial = votakvot.load_trials(root)[outer.tid]
    assert list(generator_trial.metrics().columns) == ["step", "time", "inside"]
    assert list(generator_trial.metrics()["inside"]) == [3, 2, 1]
    assert dict(generator_trial.info) == {}
    assert list(outer_trial.metrics().columns) == ["step", "time", "outside"]
    assert list(outer_trial.metrics()["outside"]) == [3, 2, 1]
    assert dict(outer_trial.info) == {"consumer_saw": 1}


def test_consumer_outside_any_trial_does_not_write_into_the_generator_trial(root):
    """A consumer with no trial of its own that meters between yields writes nothing into the generator's trial."""
    votakvot.init(path=root, **FAST)
    with pytest.warns(UserWarning, match="meter"):
        for value in countdown(2):
            votakvot.meter(outside=value)
    trial = _only(root, f"{__name__}/countdown/")
    assert "outside" not in trial.metrics().columns


def test_failing_generator_is_recorded_and_reraised(root):
    """An exception raised inside a tracked generator marks its trial failed and reaches the consumer."""
    votakvot.init(path=root, **FAST)
    got = []
    with pytest.raises(RuntimeError, match="generator broke"):
        for value in failing_generator(5):
            got.append(value)
    assert got == [5]
    trial = _only(root, f"{__name__}/failing_generator/")
    assert trial.status == "failed"
    assert "generator broke" in trial.error


def test_tracked_function_is_picklable(root):
    """A decorated module-level function survives pickle and the unpickled one still tracks its calls."""
    votakvot.init(path=root, **FAST)
    for fn in (square_later, countdown):
        assert pickle.loads(pickle.dumps(fn)) is fn
    restored = pickle.loads(pickle.dumps(combine))
    assert restored.__wrapped__ is combine.__wrapped__
    assert restored(5, 5) == 10
    trial = _only(root, f"{__name__}/combine/")
    assert trial.result == 10
    assert dict(trial.params) == {"one": 5, "two": 5, "scale": 1}


def test_tracked_function_keeps_its_name_and_docs():
    """The decorated function keeps its name, qualname and module."""
    assert combine.__name__ == "combine"
    assert combine.__qualname__ == "combine"
    assert combine.__module__ == __name__


def test_init_path_sets_the_root(root):
    """init(path=...) sends trials to that folder or fsspec URL."""
    votakvot.init(path=root, **FAST)
    combine(1)
    (trial,) = votakvot.load_trials(root).values()
    assert trial.result == 3
    assert read_yaml(f"{trial.path}/votakvot.yaml")["result"] == 3


def test_root_defaults_to_the_current_folder(tmp_path):
    """Before any init, trials go below the current folder."""
    combine(1)
    folder = tmp_path / __name__ / "combine"
    assert folder.is_dir()
    (trial,) = votakvot.load_trials(str(tmp_path)).values()
    assert trial.result == 3


def test_root_defaults_to_votakvot_path(tmp_path, monkeypatch):
    """Before any init, $VOTAKVOT_PATH is the root when it is set."""
    target = tmp_path / "from-env"
    monkeypatch.setenv("VOTAKVOT_PATH", str(target))
    combine(1)
    assert (target / __name__ / "combine").is_dir()
    assert not (tmp_path / __name__).exists()


def test_init_path_wins_over_votakvot_path(tmp_path, monkeypatch):
    """init(path=...) takes precedence over $VOTAKVOT_PATH."""
    monkeypatch.setenv("VOTAKVOT_PATH", str(tmp_path / "from-env"))
    votakvot.init(path=str(tmp_path / "from-init"), **FAST)
    combine(1)
    assert (tmp_path / "from-init" / __name__).is_dir()
    assert not (tmp_path / "from-env").exists()


def test_init_again_replaces_every_earlier_setting(tmp_path):
    """A second init() replaces all settings: options it does not give return to their defaults."""
    first, second = str(tmp_path / "first"), str(tmp_path / "second")
    votakvot.init(path=first, meta_providers={"only.this": lambda: 1}, sinks=["yaml"], **FAST)
    combine(1)
    (early,) = votakvot.load_trials(first).values()
    assert dict(early.meta) == {"only": {"this": 1}}
    assert "metrics.csv" not in os.listdir(early.path)

    votakvot.init(path=second)
    combine(2)
    assert len(votakvot.load_trials(first)) == 1
    (late,) = votakvot.load_trials(second).values()
    assert "only" not in late.meta
    assert late.meta.system.node
    assert "metrics.csv" in os.listdir(late.path)

    votakvot.init()
    combine(3)
    assert (tmp_path / __name__ / "combine").is_dir()


class Model:
    """A class with a tracked method."""

    def __init__(self, scale):
        self.scale = scale

    @votakvot.track()
    def fit(self, x, epochs=1):
        return x * self.scale * epochs


def test_tracked_function_looks_like_the_function():
    """A tracked plain function keeps __wrapped__, __doc__ and its signature; async and generator
    functions stay functions that inspect recognises."""
    import inspect

    assert combine.__wrapped__.__name__ == "combine"
    assert inspect.signature(combine) == inspect.signature(combine.__wrapped__)
    assert explode.__doc__ is None and Model.fit.__doc__ is None
    assert inspect.iscoroutinefunction(square_later)
    assert inspect.isgeneratorfunction(countdown)


def test_tracked_method_binds_to_its_object(root):
    """A tracked method binds like a method: `self` is passed and left out of the params."""
    votakvot.init(path=root, **FAST)
    assert Model(3).fit(2, epochs=2) == 12
    trial = _only(root, f"{__name__}/Model.fit/")
    assert dict(trial.params) == {"x": 2, "epochs": 2}
    assert trial.result == 12


def test_pickled_call_runs_with_the_senders_settings_and_parent(tmp_path):
    """A tracked function pickled after init, inside a trial, runs where the sender's trials go
    (with its other settings) and records the sender's trial as parent, in a process with no init."""
    sender = str(tmp_path / "sender")
    votakvot.init(path=sender, sinks=["yaml"], **FAST)
    with votakvot.trial("driver") as driver:
        sent = pickle.dumps(combine)
    votakvot.testing.reset()  # the receiving side: no init, no $VOTAKVOT_SETTINGS
    assert pickle.loads(sent)(1) == 3
    trial = _only(sender, f"{__name__}/combine/")
    assert trial.data["parent"] == driver.tid
    assert "metrics.csv" not in trial.attached
    assert not (tmp_path / __name__).exists()


def test_receivers_own_init_wins_over_the_carried_settings(tmp_path):
    """A process that called init itself keeps its own settings for calls sent to it."""
    votakvot.init(path=str(tmp_path / "sender"))
    sent = pickle.dumps(combine)
    votakvot.testing.reset()
    votakvot.init(path=str(tmp_path / "receiver"), **FAST)
    pickle.loads(sent)(1)
    assert len(votakvot.load_trials(str(tmp_path / "receiver"))) == 1
    assert not (tmp_path / "sender").exists()


def test_votakvot_path_of_the_sender_is_carried(tmp_path, monkeypatch):
    """The sender's $VOTAKVOT_PATH travels too; with nothing set, the receiver keeps its own root."""
    monkeypatch.setenv("VOTAKVOT_PATH", "from-env")
    sent_with_path = pickle.dumps(combine)
    monkeypatch.delenv("VOTAKVOT_PATH")
    sent_without = pickle.dumps(combine)
    os.chdir(tmp_path / "..")
    pickle.loads(sent_with_path)(1)
    assert (tmp_path / "from-env" / __name__ / "combine").is_dir()
    pickle.loads(sent_without)(2)
    assert (tmp_path.parent / __name__ / "combine").is_dir()


def test_a_received_function_sent_on_keeps_the_settings(tmp_path):
    """A received function sent on again (a task that submits tasks) takes the same settings along."""
    votakvot.init(path=str(tmp_path / "sender"), **FAST)
    sent = pickle.dumps(combine)
    votakvot.testing.reset()
    sent_on = pickle.dumps(pickle.loads(sent))
    pickle.loads(sent_on)(4)
    assert len(votakvot.load_trials(str(tmp_path / "sender"))) == 1
    assert not (tmp_path / __name__).exists()


def test_a_received_function_passed_on_outside_any_trial_keeps_its_parent(tmp_path):
    """Passed on by a thread with no trial of its own (a Dask scheduler in the driver's process
    forwarding a task a worker submitted), a received call keeps the trial it was sent from as its
    parent, not the main thread's trial; a thread with its own trial open makes that the parent."""
    import threading

    votakvot.init(path=str(tmp_path / "sender"), **FAST)
    with votakvot.trial("task") as task:
        received = pickle.loads(pickle.dumps(combine))  # as a worker gets it, sent from `task`
    forwarded: list[bytes] = []
    with votakvot.trial("driver") as driver:
        helper = threading.Thread(target=lambda: forwarded.append(pickle.dumps(received)))
        helper.start()
        helper.join()
        sent_on_from_driver = pickle.dumps(received)
    pickle.loads(forwarded[0])(1, 2)
    pickle.loads(sent_on_from_driver)(3, 4)
    trials = votakvot.load_trials(str(tmp_path / "sender")).values()
    parents = {t.params["one"]: t.data.get("parent") for t in trials if t.tid.startswith(f"{__name__}/combine/")}
    assert parents == {1: task.tid, 3: driver.tid}


def test_modules_registered_by_value_with_cloudpickle_travel_by_value(tmp_path):
    """cloudpickle sends a tracked function by value when its module is registered so (code that
    workers cannot import), and by reference otherwise; either way it takes the settings along."""
    cloudpickle = pytest.importorskip("cloudpickle")
    import worker_tasks

    votakvot.init(path=str(tmp_path / "sender"), **FAST)
    by_reference = cloudpickle.dumps(worker_tasks.work)
    cloudpickle.register_pickle_by_value(worker_tasks)
    try:
        by_value = cloudpickle.dumps(worker_tasks.work)
    finally:
        cloudpickle.unregister_pickle_by_value(worker_tasks)
    votakvot.testing.reset()
    assert pickle.loads(by_reference).__wrapped__ is worker_tasks.work.__wrapped__
    rebuilt = pickle.loads(by_value)
    assert rebuilt.__wrapped__ is not worker_tasks.work.__wrapped__
    assert rebuilt(7)["x"] == 7
    (trial,) = votakvot.load_trials(str(tmp_path / "sender")).values()
    assert trial.tid.startswith("worker_tasks/work/")
