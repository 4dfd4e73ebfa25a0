"""Resumable tasks and `votakvot.call`: explicit ids, snapshots, resuming after SIGKILL."""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

import votakvot
from conftest import read_yaml, run_python, wait_until


class CountTo(votakvot.resumable_fn):
    """Counts to `n`, one step per loop; remembers how often it was restored from a snapshot."""

    snapshot_period = 0

    def init(self, n):
        self.n, self.i, self.restored = n, 0, 0

    def __getstate__(self):
        return {"n": self.n, "i": self.i, "restored": self.restored}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.restored += 1

    def loop(self):
        self.i += 1
        votakvot.meter(i=self.i)
        if self.i >= self.n:
            return {"i": self.i, "restored": self.restored}
        return None


class NeverLoops(votakvot.resumable_fn):
    def init(self, n):
        self.n = n

    def loop(self):
        raise AssertionError("loop() must not run for a finished trial")


def test_call_runs_a_resumable_fn_to_its_result(root):
    """call() runs init() then loop() until it returns non-None, and returns that result."""
    votakvot.init(path=root)
    assert votakvot.call("count/n=5", CountTo, {"n": 5}) == {"i": 5, "restored": 0}
    trial = votakvot.load_trials(root)["count/n=5"]
    assert trial.status == "done" and trial.params == {"n": 5}
    assert trial.metrics()["i"].tolist() == [1, 2, 3, 4, 5]


def test_call_uses_the_explicit_id_as_the_folder(local_root):
    """The trial folder is exactly {root}/{tid}: no date and no uuid."""
    votakvot.init(path=local_root)
    votakvot.call("grid/lr=0.1/seed=1", lambda lr, seed: lr * seed, {"lr": 0.1, "seed": 1})
    doc = read_yaml(os.path.join(local_root, "grid", "lr=0.1", "seed=1", "votakvot.yaml"))
    assert doc["tid"] == "grid/lr=0.1/seed=1" and doc["result"] == 0.1 and doc["status"] == "done"


def test_call_with_a_plain_function(root):
    """A plain function is called with the params as keyword arguments."""
    votakvot.init(path=root)
    assert votakvot.call("plain", lambda a, b: a + b, {"a": 1, "b": 2}) == 3


def test_finished_trial_is_not_recomputed(root):
    """Calling again with a finished id returns the stored result without running loop()."""
    votakvot.init(path=root)
    first = votakvot.call("count/n=3", CountTo, {"n": 3})
    assert votakvot.call("count/n=3", NeverLoops, {"n": 3}) == first


def test_same_id_with_other_params_is_an_error(root):
    """An existing id called with different params raises ParamsMismatchError and changes nothing."""
    votakvot.init(path=root)
    votakvot.call("count", CountTo, {"n": 2})
    with pytest.raises(votakvot.errors.ParamsMismatchError, match="already exists with params"):
        votakvot.call("count", CountTo, {"n": 3})
    assert votakvot.load_trials(root)["count"].result == {"i": 2, "restored": 0}


def test_bad_ids_are_refused(local_root):
    """Ids that would leave the root or name no folder raise TrialNameError."""
    votakvot.init(path=local_root)
    for bad in ("", "../x", "/abs", "a//b", "a/./b"):
        with pytest.raises(votakvot.errors.TrialNameError):
            votakvot.call(bad, lambda: 1, {})
    assert not os.path.exists(local_root)


def test_failed_trial_runs_again(root):
    """A failed trial at an id is run again by the next call (only `done` is final)."""
    votakvot.init(path=root)
    attempts = []

    def flaky():
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first time fails")
        return "ok"

    with pytest.raises(RuntimeError):
        votakvot.call("flaky", flaky, {})
    assert votakvot.call("flaky", flaky, {}) == "ok"
    trial = votakvot.load_trials(root)["flaky"]
    assert trial.status == "done" and len(trial.at.resumed) == 1


class SlowCount(CountTo):
    snapshot_period = datetime.timedelta(milliseconds=1)

    def loop(self):
        time.sleep(0.003)  # stays: each loop() outlasts the snapshot period, so snapshots are due
        return super().loop()


def test_snapshot_period_accepts_timedelta(local_root):
    """snapshot_period may be a timedelta; snapshots are taken between loop() calls."""
    votakvot.init(path=local_root)
    votakvot.call("slow", SlowCount, {"n": 5})
    trial = votakvot.load_trials(local_root)["slow"]
    assert "snapshot.pickle" in trial.attached
    assert trial.load_snapshot(trusted=True).i >= 1


def test_snapshot_needs_trust_to_load(local_root):
    """Unpickling a snapshot runs code, so load_snapshot() refuses without trusted=True."""
    votakvot.init(path=local_root)
    votakvot.call("count", CountTo, {"n": 3})
    with pytest.raises(PermissionError, match="trusted=True"):
        votakvot.load_trials(local_root)["count"].load_snapshot()


def test_resumable_runs_without_tracking():
    """MyFn.call(**params) and plain iteration run a resumable_fn with no trial at all."""
    with pytest.warns(UserWarning, match="outside any trial"):  # its meter() calls are ignored
        assert CountTo.call(n=4) == {"i": 4, "restored": 0}
    obj = CountTo()
    obj.init(n=3)
    steps = list(obj)
    assert steps == [None, None] and obj.result == {"i": 3, "restored": 0}


RESUMABLE_SCRIPT = """
import sys, time, votakvot

class Slow(votakvot.resumable_fn):
    snapshot_period = 0.05

    def init(self, n):
        self.n, self.i, self.restored = n, 0, 0

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.restored += 1

    def loop(self):
        self.i += 1
        votakvot.meter(i=self.i)
        print(self.i, flush=True)
        time.sleep(0.01)  # stays: slow enough to be killed mid-way, with snapshots taken on the way
        if self.i >= self.n:
            return {"i": self.i, "restored": self.restored}
        return None

votakvot.init(path="results", flush_interval=0.05)
print("RESULT", votakvot.call("slow/n=150", Slow, {"n": 150}), flush=True)
"""


@pytest.mark.slow
def test_sigkill_then_call_again_resumes_from_the_snapshot(tmp_path: Path):
    """A resumable computation SIGKILLed mid-way finishes from its last snapshot on the next call."""
    proc = run_python(RESUMABLE_SCRIPT, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    for _ in range(60):
        proc.stdout.readline()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    folder = tmp_path / "results" / "slow" / "n=150"
    assert read_yaml(str(folder / "votakvot.yaml"))["status"] == "running"
    assert (folder / "snapshot.pickle").exists()

    second = run_python(RESUMABLE_SCRIPT, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    out, _ = second.communicate(timeout=60)
    assert second.returncode == 0
    first_step_after_resume = int(out.split()[0])
    assert first_step_after_resume > 1, "the second run did not start from scratch"
    result_line = next(line for line in out.splitlines() if line.startswith("RESULT"))
    assert "'i': 150" in result_line and "'restored': 1" in result_line

    doc = read_yaml(str(folder / "votakvot.yaml"))
    assert doc["status"] == "done" and doc["resumed"] == 1 and len(doc["at"]["resumed"]) == 1
    metrics = votakvot.metrics.load_csv_metrics(str(folder))
    steps = metrics["i"].tolist()
    assert steps[-1] == 150 and set(range(1, 151)) <= set(steps), "metrics from before the crash are kept"
    assert metrics["step"].is_monotonic_increasing or len(set(metrics["step"])) == len(metrics)

    third = run_python(RESUMABLE_SCRIPT, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    out3, _ = third.communicate(timeout=60)
    assert out3.startswith("RESULT"), "a finished trial runs no loop() again"


BIG_STATE_SCRIPT = """
import os, votakvot

class Big(votakvot.resumable_fn):
    snapshot_period = 0

    def init(self, n):
        self.n, self.i, self.blob = n, 0, os.urandom(4_000_000)

    def loop(self):
        self.i += 1
        return self.i if self.i >= self.n else None

votakvot.init(path="results")
print("ready", flush=True)
votakvot.call("big", Big, {"n": 10**9})
"""


@pytest.mark.slow
def test_snapshot_is_never_torn_by_sigkill(tmp_path: Path):
    """Killing a process while it writes large snapshots always leaves a complete, loadable one."""
    import pickletools

    snapshot = tmp_path / "results" / "big" / "snapshot.pickle"

    def written() -> tuple[int, int] | None:
        try:
            st = snapshot.stat()
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_ino

    for delay in (0.0, 0.002, 0.005):
        before = written()
        proc = run_python(BIG_STATE_SCRIPT, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
        proc.stdout.readline()
        wait_until(lambda before=before: written() != before)  # it is writing snapshots now
        time.sleep(delay)  # stays: kills at different moments of a snapshot write (one takes ~4 ms)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if snapshot.exists():
            ops = list(pickletools.genops(snapshot.read_bytes()))  # a torn pickle fails to parse
            assert ops[-1][0].name == "STOP"
            assert any(isinstance(arg, bytes) and len(arg) == 4_000_000 for _, arg, _ in ops)
