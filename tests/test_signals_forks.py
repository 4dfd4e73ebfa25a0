"""Signals during a metric flush lose nothing; forked children never write into the parent's trial."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import votakvot
from conftest import run_python

FAST = {"heartbeat": 0.2, "flush_interval": 0.05}

METER_UNTIL_SIGNALLED = """
import sys, votakvot
votakvot.init(path={root!r}, flush_interval=3600)
i = -1
try:
    with votakvot.trial("tight") as t:
        print(t.path, flush=True)
        while True:
            i += 1
            votakvot.meter(i=i)
finally:
    with open({last!r}, "w") as f:
        f.write(str(i))
"""


def _wait_for_line(process) -> str:
    line = process.stdout.readline().strip()
    assert line, "the child printed nothing"
    return line


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_a_flush_loses_no_metered_row(tmp_path, signum):
    """A tight metering loop flushes a 4,096-row batch every few milliseconds; a signal landing in
    one of those flushes used to lose the batch. Every row up to the interrupted one is stored,
    once and in order, in each of several runs."""
    for run in range(6):
        last = tmp_path / f"last-{run}"
        child = run_python(
            METER_UNTIL_SIGNALLED.format(root=str(tmp_path / "results"), last=str(last)),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            text=True,
        )
        folder = Path(_wait_for_line(child))
        time.sleep(0.05 + 0.037 * run)  # let several batches go by, landing at different points
        child.send_signal(signum)
        child.wait(timeout=30)
        child.stdout.close()
        metered = int(last.read_text())
        with open(folder / "metrics.csv", newline="") as f:
            rows = list(csv.reader(f))[1:]
        values = [int(r[2]) for r in rows]
        assert values == list(range(len(values))), f"run {run}: rows missing or repeated"
        assert [int(r[0]) for r in rows] == values
        assert len(values) >= metered, f"run {run}: {metered - len(values)} metered rows were lost"
        assert metered > 4096, "the loop should have gone through several flushes"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_write_into_the_parents_trial(local_root):
    """A child forked inside a trial meters with a warning and no effect; the parent's file holds
    the parent's rows only, each step once, and the child's rows go nowhere."""
    votakvot.init(path=local_root, **FAST)
    read, write = os.pipe()
    with votakvot.trial("parent") as t:
        for i in range(100):
            votakvot.meter(who=0, i=i)  # buffered in the parent when it forks
        pid = os.fork()
        if pid == 0:  # the child
            try:
                with pytest.warns(UserWarning, match="outside any trial"):
                    for i in range(5_000):
                        votakvot.meter(who=1, i=i)
                    votakvot.inform(child=True)
                os.write(write, b"ok")
            finally:
                os._exit(0)
        os.close(write)
        assert os.read(read, 10) == b"ok"
        os.close(read)
        os.waitpid(pid, 0)
        for i in range(100, 200):
            votakvot.meter(who=0, i=i)
    frame = votakvot.load_trials(local_root)[t.tid].metrics()
    assert set(frame["who"]) == {0}
    assert frame["i"].tolist() == list(range(200))
    assert frame["step"].tolist() == list(range(200))
    assert "child" not in votakvot.load_trials(local_root)[t.tid].info


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_runs_its_own_trials_with_the_parent_recorded(local_root):
    """A trial opened in a forked child is its own, complete trial, with the parent's as `parent`,
    and a plug-in meta provider still answers in the child (its worker thread is made anew)."""
    providers = dict(votakvot.meta.providers)
    providers["lab.answer"] = lambda: 42  # not a built-in: it runs on the metadata worker thread
    votakvot.init(path=local_root, meta_providers=providers, meta_timeout=2, **FAST)
    read, write = os.pipe()
    with votakvot.trial("parent") as outer:
        pid = os.fork()
        if pid == 0:
            try:
                started = time.monotonic()
                with votakvot.trial("child") as inner:
                    votakvot.meter(x=1)
                    inner.result = "from the child"
                took = time.monotonic() - started
                os.write(write, json.dumps({"tid": inner.tid, "took": took}).encode())
            finally:
                os._exit(0)
        os.close(write)
        reply = json.loads(os.read(read, 1000))
        os.close(read)
        os.waitpid(pid, 0)
    child = votakvot.load_trials(local_root)[reply["tid"]]
    assert child.status == "done" and child.result == "from the child"
    assert child.data["parent"] == outer.tid
    assert child.meta.lab.answer == 42
    assert reply["took"] < 2, "the child's first trial waited for a metadata worker that died with the fork"
    assert child.metrics()["x"].tolist() == [1]


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="fork with threads")
def test_many_children_forked_while_flushing_keep_their_garbage_collector(local_root):
    """Children forked at any moment, also while the ticker thread flushes metrics with the
    collector paused, all run with the garbage collector on."""
    import gc

    votakvot.init(path=local_root, heartbeat=0.05, flush_interval=0.01)
    disabled = 0
    with votakvot.trial("forks"):
        for i in range(200):
            for _ in range(300):
                votakvot.meter(i=i)
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.write(write, b"1" if gc.isenabled() else b"0")
                os._exit(0)
            os.close(write)
            disabled += os.read(read, 1) == b"0"
            os.close(read)
            os.waitpid(pid, 0)
    assert disabled == 0
