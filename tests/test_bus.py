"""The event bus: which events a trial publishes, in what order, and what a failing subscriber costs."""

from __future__ import annotations

import logging

import pytest

import votakvot
from conftest import read_yaml, wait_until
from votakvot.events import Attached, Finished, Informed, Metered, Snapshotted, Started, subscribe, unsubscribe

FAST = {"heartbeat": 0.2, "flush_interval": 0.1}
ALL = (Started, Informed, Metered, Attached, Snapshotted, Finished)


def _record(seen: list, *types: type) -> None:
    for event_type in types or ALL:
        subscribe(event_type, seen.append)


def _rows(seen: list) -> list[dict]:
    """Returns the metered values carried by the Metered batches in `seen`, in order."""
    return [values for e in seen if isinstance(e, Metered) for _, _, values in e.rows]


def test_trial_publishes_each_event_in_order(root):
    """A trial publishes Started, Informed, Attached, Snapshotted, Finished(done) in order, metric rows in between."""
    votakvot.init(path=root, **FAST)
    seen: list = []
    _record(seen)
    state = {"epoch": 3}
    with votakvot.trial("exp", lr=0.1) as t:
        t.inform(note="hi")
        t.meter(loss=0.5)
        t.meter(loss=0.25)
        with t.attach("logs/a.txt", "w") as f:
            f.write("x")
        t.snapshot(state)
    assert all(e.trial is t for e in seen)
    assert [type(e) for e in seen if not isinstance(e, Metered)] == [Started, Informed, Attached, Snapshotted, Finished]
    assert isinstance(seen[0], Started)
    assert isinstance(seen[-1], Finished)
    _, informed, attached, snapshotted, finished = (e for e in seen if not isinstance(e, Metered))
    assert informed.values == {"note": "hi"}
    assert (attached.name, attached.mode) == ("logs/a.txt", "w")
    assert snapshotted.obj is state
    assert finished.status == "done"
    metered = [e for e in seen if isinstance(e, Metered)]
    assert metered
    assert all(e.series == "" for e in metered)
    assert _rows(seen) == [{"loss": 0.5}, {"loss": 0.25}]
    assert [step for e in metered for step, _, _ in e.rows] == [0, 1]


def test_module_verbs_publish_the_same_events(root):
    """votakvot.inform / meter / attach publish Informed, Metered rows and Attached for the innermost trial."""
    votakvot.init(path=root, **FAST)
    seen: list = []
    _record(seen, Informed, Metered, Attached)
    with votakvot.trial("exp") as t:
        votakvot.inform(a=1)
        votakvot.meter(m=2)
        votakvot.meter(m=3)
        with votakvot.attach("f.txt") as f:
            f.write("x")
    assert all(e.trial is t for e in seen)
    assert [type(e) for e in seen if not isinstance(e, Metered)] == [Informed, Attached]
    assert _rows(seen) == [{"m": 2}, {"m": 3}]


@pytest.mark.parametrize(
    ("exc", "status"),
    [(ValueError("x"), "failed"), (KeyboardInterrupt(), "interrupted"), (SystemExit(1), "interrupted")],
    ids=["exception", "keyboard-interrupt", "system-exit"],
)
def test_finished_carries_the_final_status(root, exc, status):
    """Finished carries failed for an exception and interrupted for KeyboardInterrupt / SystemExit."""
    votakvot.init(path=root, **FAST)
    seen: list = []
    _record(seen, Finished)
    with pytest.raises(type(exc)), votakvot.trial("exp"):
        raise exc
    assert [e.status for e in seen] == [status]


def test_sinks_handle_events_before_user_handlers(root):
    """User handlers run after the sinks: on Started the document exists, on Finished it already says done."""
    votakvot.init(path=root, **FAST)
    documents: dict[str, dict] = {}
    subscribe(Started, lambda e: documents.setdefault("started", read_yaml(f"{e.trial.path}/votakvot.yaml")))
    subscribe(Finished, lambda e: documents.setdefault("finished", read_yaml(f"{e.trial.path}/votakvot.yaml")))
    with votakvot.trial("exp", a=1) as t:
        t.result = 42
    assert documents["started"]["status"] == "running"
    assert documents["started"]["params"] == {"a": 1}
    assert documents["finished"]["status"] == "done"
    assert documents["finished"]["result"] == 42


def test_user_handlers_run_in_registration_order(root):
    """User handlers of one event type are called in the order they subscribed."""
    votakvot.init(path=root, **FAST)
    calls: dict[str, list[str]] = {}
    for label in ("zeta", "alpha", "mu"):
        for event_type in (Started, Informed, Metered, Finished):
            subscribe(event_type, lambda e, label=label: calls.setdefault(type(e).__name__, []).append(label))
    with votakvot.trial("exp") as t:
        t.inform(a=1)
        t.meter(b=2)
    assert calls == {name: ["zeta", "alpha", "mu"] for name in ("Started", "Informed", "Metered", "Finished")}


@pytest.mark.parametrize("failing", ALL, ids=lambda t: t.__name__)
def test_raising_subscriber_is_logged_and_the_trial_completes(root, caplog, failing):
    """A subscriber that raises is logged on votakvot.trial; the others still get events and all data is written."""
    votakvot.init(path=root, **FAST)
    seen: list = []

    def broken(event):
        raise RuntimeError("subscriber on purpose")

    subscribe(failing, broken)
    _record(seen)
    with caplog.at_level(logging.WARNING, logger="votakvot.trial"), votakvot.trial("exp", lr=0.1) as t:
        t.inform(note="kept")
        t.meter(loss=0.5)
        with t.attach("kept.txt") as f:
            f.write("kept")
        t.snapshot({"s": 1})
        t.result = "ok"
    assert [type(e) for e in seen if not isinstance(e, Metered)] == [Started, Informed, Attached, Snapshotted, Finished]
    assert _rows(seen) == [{"loss": 0.5}]
    logged = [r for r in caplog.records if r.name == "votakvot.trial" and r.levelno >= logging.WARNING]
    assert len(logged) == 1
    assert logged[0].exc_info is not None
    assert "subscriber on purpose" in caplog.text
    assert "broken" in logged[0].getMessage()
    doc = read_yaml(f"{t.path}/votakvot.yaml")
    assert doc["status"] == "done"
    assert doc["params"] == {"lr": 0.1}
    assert doc["info"] == {"note": "kept"}
    assert doc["result"] == "ok"
    assert list(votakvot.metrics.load_csv_metrics(t.path)["loss"]) == [0.5]


@pytest.mark.parametrize("event_type", [Informed, Metered], ids=lambda t: t.__name__)
def test_raising_subscriber_is_dropped_for_the_rest_of_that_trial_only(root, caplog, event_type):
    """A subscriber that raised is not called again in that trial, but is called again in the next one."""
    votakvot.init(path=root, **FAST)
    calls: list[str] = []

    def broken(event):
        calls.append(event.trial.tid)
        raise RuntimeError("subscriber on purpose")

    subscribe(event_type, broken)
    published: list = []
    _record(published, Metered)
    with caplog.at_level(logging.WARNING, logger="votakvot.trial"):
        with votakvot.trial("exp") as first:
            for i in range(3):
                first.inform(i=i)
                first.meter(i=i)
                if event_type is Metered:  # each row is its own Metered batch: published before the next
                    wait_until(lambda i=i: len(_rows(published)) > i)
        with votakvot.trial("exp") as second:
            second.inform(i=0)
            second.meter(i=0)
    assert calls == [first.tid, second.tid]
    assert read_yaml(f"{first.path}/votakvot.yaml")["info"] == {"i": 2}
    assert list(votakvot.metrics.load_csv_metrics(first.path)["i"]) == [0, 1, 2]


def test_metered_batches_arrive_while_the_trial_runs(root):
    """Metered rows reach subscribers about once per flush interval, not only at the end."""
    votakvot.init(path=root, **FAST)
    seen: list = []
    _record(seen, Metered)
    with votakvot.trial("exp") as t:
        t.meter(x=1)
        wait_until(lambda: seen, timeout=3)
        assert _rows(seen) == [{"x": 1}]
        t.meter(x=2)
    assert _rows(seen) == [{"x": 1}, {"x": 2}]


def test_unsubscribe_stops_calls(root):
    """After unsubscribe() a handler gets no more events, even within a running trial."""
    votakvot.init(path=root, **FAST)
    seen: list = []
    subscribe(Informed, seen.append)
    with votakvot.trial("exp") as t:
        t.inform(a=1)
        unsubscribe(Informed, seen.append)
        t.inform(b=2)
    with votakvot.trial("exp") as again:
        again.inform(c=3)
    assert [e.values for e in seen] == [{"a": 1}]


def test_subscribe_during_a_trial_takes_effect(root):
    """A handler subscribed while a trial runs gets that trial's later events."""
    votakvot.init(path=root, **FAST)
    seen: list = []
    with votakvot.trial("exp") as t:
        t.inform(a=1)
        _record(seen, Informed, Metered, Finished)
        t.inform(b=2)
        t.meter(m=2)
    assert [type(e) for e in seen if not isinstance(e, Metered)] == [Informed, Finished]
    assert seen[0].values == {"b": 2}
    assert _rows(seen) == [{"m": 2}]


def test_unsubscribe_of_unknown_handler_raises_value_error():
    """unsubscribe() of a handler that never subscribed (or already left) raises ValueError."""

    def handler(event):
        pass

    with pytest.raises(ValueError):
        unsubscribe(Started, handler)
    subscribe(Started, handler)
    with pytest.raises(ValueError):
        unsubscribe(Finished, handler)
    unsubscribe(Started, handler)
    with pytest.raises(ValueError):
        unsubscribe(Started, handler)


@pytest.mark.parametrize(
    "not_an_event",
    [int, object, "Started", Exception, votakvot.LiveTrial, None],
    ids=["int", "object", "str", "exception", "live-trial", "none"],
)
def test_subscribe_with_a_non_event_type_raises_type_error(not_an_event, root):
    """subscribe() with anything but an event type raises TypeError and subscribes nothing."""
    calls: list = []
    with pytest.raises(TypeError):
        subscribe(not_an_event, calls.append)
    votakvot.init(path=root, **FAST)
    with votakvot.trial("exp") as t:
        t.inform(a=1)
    assert calls == []
