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


class FailsOnce(CountTo):
    """Fails at its third step unless it was restored from a snapshot."""

    def loop(self):
        if self.i == 3 and not self.restored:
            raise RuntimeError("first time fails")
        return super().loop()


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
    assert trial.traceback_text is None, "the first run's traceback outlived the run that succeeded"


class SlowCount(CountTo):
    snapshot_period = datetime.timedelta(milliseconds=1)

    def loop(self):
        time.sleep(0.003)  # stays: each loop() outlasts the snapshot period, so snapshots are due
        return super().loop()


def test_snapshot_period_accepts_timedelta(local_root):
    """snapshot_period may be a timedelta; snapshots are taken between loop() calls."""
    votakvot.init(path=local_root)
    taken = []
    votakvot.events.subscribe(votakvot.events.Snapshotted, lambda e: taken.append(e.obj.i))
    votakvot.call("slow", SlowCount, {"n": 5})
    assert taken and taken == sorted(taken) and set(taken) <= {1, 2, 3, 4}


def test_snapshot_needs_trust_to_load(local_root):
    """Unpickling a snapshot runs code, so load_snapshot() refuses without trusted=True."""
    votakvot.init(path=local_root)
    with pytest.raises(RuntimeError):
        votakvot.call("once", FailsOnce, {"n": 5})
    with pytest.raises(PermissionError, match="trusted=True"):
        votakvot.load_trials(local_root)["once"].load_snapshot()


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


def test_call_with_the_id_forgotten_says_so(local_root):
    """call(Fn, params) (no id) names the mistake: the id comes first."""
    votakvot.init(path=local_root)
    with pytest.raises(votakvot.errors.CallArgumentError, match=r"trial id first.*call\('my-id', CountTo"):
        votakvot.call(CountTo, {"n": 3})
    assert not os.path.exists(local_root)


def test_call_with_params_that_are_not_a_dict_says_so(local_root):
    """call(id, Fn, 3) says params must be a dict of keyword arguments."""
    votakvot.init(path=local_root)
    with pytest.raises(votakvot.errors.CallArgumentError, match=r"params.*dict.*got 3"):
        votakvot.call("id", CountTo, 3)
    with pytest.raises(votakvot.errors.CallArgumentError, match=r"function or resumable_fn class.*got 'oops'"):
        votakvot.call("id", "oops", {})
    with pytest.raises(votakvot.errors.CallArgumentError, match=r"trial id.*got 7"):
        votakvot.trial_at(7)
    assert not os.path.exists(local_root)


def test_unstorable_params_are_compared_as_stored(local_root):
    """call() again with params YAML cannot hold (a lock, a too-deep list) matches the stored stand-ins."""
    import threading
    import warnings

    votakvot.init(path=local_root)
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert votakvot.call("lock", lambda lock: "ran", {"lock": threading.Lock()}) == "ran"
        assert votakvot.call("lock", lambda lock: "again", {"lock": threading.Lock()}) == "ran"
        assert votakvot.call("deep", lambda x: "ran", {"x": deep}) == "ran"
        assert votakvot.call("deep", lambda x: "again", {"x": deep}) == "ran"
        with pytest.raises(votakvot.errors.ParamsMismatchError):
            votakvot.call("lock", lambda lock: "other", {"lock": threading.RLock()})
    stored = votakvot.load_trials(local_root)["lock"].params["lock"]
    assert stored.startswith("<unstorable lock: <unlocked _thread.lock object") and " at 0x" not in stored


def test_resuming_reads_only_the_tail_of_big_metric_files(local_root):
    """Finding the last step of a 64 MiB metrics.csv reads its tail, not the whole file."""
    import tracemalloc

    votakvot.init(path=local_root)
    with pytest.raises(RuntimeError), votakvot.trial_at("big") as t:
        t.meter(loss=0.5)
        raise RuntimeError("stop")
    row = "".join(f"{step},1700000000.0,0.5\r\n" for step in range(1, 100_001)).encode()
    with open(os.path.join(local_root, "big", "metrics.csv"), "ab") as f:
        for _ in range(28):  # ~64 MiB; steps repeat, the last one is 100000
            f.write(row)
    trial = votakvot.load_trials(local_root)["big"]
    tracemalloc.start()
    try:
        assert trial.last_steps() == {"": 100_000}
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, f"finding the last step took {peak / 2**20:.0f} MiB"
    with votakvot.trial_at("big") as again:
        again.meter(loss=0.25)
    assert votakvot.load_trials(local_root)["big"].metrics()["step"].iloc[-1] == 100_001


HOSTILE_RESUME = """
import resource, sys, votakvot
resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))
votakvot.init(path="results")
try:
    votakvot.call("hostile", lambda: 1, {})
except votakvot.errors.TrialLoadError as e:
    print("REFUSED", e, flush=True)
"""


def _run_hostile(tmp_path: Path) -> str:
    proc = run_python(HOSTILE_RESUME, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("call() hung on a hostile trial folder")
    assert out.startswith("REFUSED"), err[-2000:]
    return out


def test_a_fifo_planted_as_a_metrics_file_is_refused(tmp_path: Path):
    """A named pipe where metrics.csv should be gives a clear TrialLoadError at once, not a hang."""
    folder = tmp_path / "results" / "hostile"
    folder.mkdir(parents=True)
    (folder / "votakvot.yaml").write_text("tid: hostile\nstatus: failed\nparams: {}\n")
    os.mkfifo(folder / "metrics.csv")
    out = _run_hostile(tmp_path)
    assert "metrics.csv" in out and "named pipe" in out and "not a regular file" in out


def test_an_alias_bomb_document_is_refused(tmp_path: Path):
    """A votakvot.yaml built as a YAML alias bomb gives a clear TrialLoadError quickly, in little memory."""
    folder = tmp_path / "results" / "hostile"
    folder.mkdir(parents=True)
    lines = ["tid: hostile", "status: failed", "params: {}", "info:", '  a0: &a0 ["lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        refs = ",".join([f"*a{level - 1}"] * 10)
        lines.append(f"  a{level}: &a{level} [{refs}]")
    (folder / "votakvot.yaml").write_text("\n".join(lines) + "\n")
    out = _run_hostile(tmp_path)
    assert "votakvot.yaml" in out and "alias" in out and "another id" in out


def test_an_unreadable_document_at_an_id_is_not_overwritten(local_root):
    """An id whose votakvot.yaml cannot be parsed raises TrialLoadError and leaves the file as it was."""
    folder = Path(local_root) / "broken"
    folder.mkdir(parents=True)
    (folder / "votakvot.yaml").write_text("status: [unclosed\n")
    votakvot.init(path=local_root)
    with pytest.raises(votakvot.errors.TrialLoadError, match="cannot be read"):
        votakvot.call("broken", lambda: 1, {})
    assert (folder / "votakvot.yaml").read_text() == "status: [unclosed\n"


def test_the_snapshot_is_removed_when_the_trial_is_done_and_kept_otherwise(local_root):
    """snapshot.pickle stays while the trial can resume (failed) and is gone once it is done."""
    votakvot.init(path=local_root)
    with pytest.raises(RuntimeError):
        votakvot.call("once", FailsOnce, {"n": 5})
    folder = Path(local_root) / "once"
    assert (folder / "snapshot.pickle").exists()
    assert votakvot.load_trials(local_root)["once"].load_snapshot(trusted=True).i == 3
    assert votakvot.call("once", FailsOnce, {"n": 5}) == {"i": 5, "restored": 1}
    assert not (folder / "snapshot.pickle").exists()
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []


CONSISTENT_SCRIPT = """
import sys, time, votakvot

class Slow(votakvot.resumable_fn):
    snapshot_period = 1.0

    def init(self, n):
        self.n, self.i = n, 0

    def loop(self):
        self.i += 1
        votakvot.meter(i=self.i)
        votakvot.series("eval").meter(i=self.i)
        print(self.i, flush=True)
        time.sleep(0.01)
        return self.i if self.i >= self.n else None

votakvot.events.subscribe(votakvot.events.Snapshotted, lambda e: print("SNAP", e.obj.i, flush=True))
votakvot.init(path="results", flush_interval=0.05, heartbeat=0.1)
print("RESULT", votakvot.call("consistent", Slow, {"n": 200}), flush=True)
"""


@pytest.mark.slow
def test_resume_after_sigkill_is_consistent(tmp_path: Path):
    """After SIGKILL and resume: one row per iteration with step == i - 1 in every series, rows
    metered after the last snapshot set aside, no heartbeat, claim or snapshot left, times kept."""
    proc = run_python(CONSISTENT_SCRIPT, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    snapped_at = None
    after_snap = 0
    for line in proc.stdout:
        if line.startswith("SNAP"):
            snapped_at = int(line.split()[1])
        elif snapped_at is not None:
            after_snap += 1
            if after_snap >= 30:  # well past a flush interval after the snapshot
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    folder = tmp_path / "results" / "consistent"
    first = read_yaml(str(folder / "votakvot.yaml"))
    killed_rows = votakvot.metrics.load_csv_metrics(str(folder), series="")
    assert killed_rows["i"].max() > snapped_at, "no row was flushed after the snapshot"

    second = run_python(CONSISTENT_SCRIPT, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    out, _ = second.communicate(timeout=60)
    assert "RESULT 200" in out
    assert int(out.split()[0]) == snapped_at + 1, "the resumed run did not continue from the snapshot"

    for series in ("", "eval"):
        rows = votakvot.metrics.load_csv_metrics(str(folder), series=series)
        assert rows["i"].tolist() == list(range(1, 201)), series
        assert rows["step"].tolist() == list(range(200)), series
    superseded = votakvot.metrics.load_csv_metrics(str(folder / ".superseded" / "1"), series="")
    assert superseded["i"].tolist() == list(range(snapped_at + 1, killed_rows["i"].max() + 1))
    assert superseded["step"].tolist() == [i - 1 for i in superseded["i"]]

    files = sorted(p.name for p in folder.iterdir() if p.is_file())
    assert files == ["metrics.1.csv", "metrics.csv", "metrics.eval.1.csv", "metrics.eval.csv", "votakvot.yaml"]
    doc = read_yaml(str(folder / "votakvot.yaml"))
    assert doc["status"] == "done" and doc["resumed"] == 1
    assert doc["at"]["started"] == first["at"]["started"] and doc["at"]["created"] == first["at"]["created"]
    assert len(doc["at"]["resumed"]) == 1 and doc["at"]["resumed"][0] > doc["at"]["started"]
    wall = (doc["at"]["finished"] - doc["at"]["started"]).total_seconds()
    assert doc["at"]["duration"] == pytest.approx(wall, abs=0.05)


class MetersThenFails(votakvot.resumable_fn):
    """Meters a text value per loop (some with quotes and newlines); fails once at `fail_at`."""

    snapshot_period = 3600  # no snapshot: a resume starts again from init()

    def init(self, n, fail_at):
        self.n, self.fail_at, self.i = n, fail_at, 0

    def loop(self):
        self.i += 1
        votakvot.meter(i=self.i, note=f'line "{self.i}"\nnext')
        if self.i == self.fail_at and not os.path.exists("failed-once"):
            open("failed-once", "w").close()
            raise RuntimeError("first run fails")
        return self.i if self.i >= self.n else None


def test_resume_without_a_snapshot_sets_the_earlier_rows_aside(root):
    """A resumable task that failed before its first snapshot starts again from init(): its rows
    are set aside in .superseded/1/ and the trial's metrics are those of the run that finished."""
    votakvot.init(path=root)
    with pytest.raises(RuntimeError):
        votakvot.call("fresh", MetersThenFails, {"n": 5, "fail_at": 3})
    assert votakvot.call("fresh", MetersThenFails, {"n": 5, "fail_at": 3}) == 5
    trial = votakvot.load_trials(root)["fresh"]
    rows = trial.metrics()
    assert rows["i"].tolist() == [1, 2, 3, 4, 5] and rows["step"].tolist() == [0, 1, 2, 3, 4]
    assert rows["note"].tolist()[2] == 'line "3"\nnext'
    aside = votakvot.metrics.load_csv_metrics(f"{trial.path}/.superseded/1")
    assert aside["i"].tolist() == [1, 2, 3] and aside["note"].tolist()[0] == 'line "1"\nnext'


def test_rewinding_metric_files_cuts_between_rows_on_every_store(root):
    """Going back to a snapshot keeps the first rows of a series (quoted, multi-line values
    included), moves the rest with their header to .superseded/, and drops later parts whole."""
    import io

    from votakvot._builtins import csv_rewind
    from votakvot._files.storage import Folder, open_store

    store, path = open_store(root)
    files = Folder(store, store.join(path, "t"))
    files.makedirs()
    part0 = 'step,time,v\r\n0,1.0,"a\r\nb"\r\n1,1.0,"say ""hi"""\r\n2,1.0,c\r\n'
    files.write("metrics.csv", part0.encode())
    files.write("metrics.1.csv", b"step,time,v,w\r\n3,1.0,d,1\r\n")
    files.write("metrics.eval.csv", b"step,time,acc\r\n0,1.0,0.5\r\n")
    csv_rewind.rewind(files, {"": 2, "eval": 1}, ".superseded/1")
    assert files.list() and sorted(files.list()) == ["metrics.csv", "metrics.eval.csv"]
    with files.open("metrics.csv") as f:
        assert f.read().decode() == 'step,time,v\r\n0,1.0,"a\r\nb"\r\n1,1.0,"say ""hi"""\r\n'
    with files.open(".superseded/1/metrics.csv") as f:
        assert f.read().decode() == "step,time,v\r\n2,1.0,c\r\n"
    with files.open(".superseded/1/metrics.1.csv") as f:
        assert f.read() == b"step,time,v,w\r\n3,1.0,d,1\r\n"
    with files.open("metrics.eval.csv") as f:
        assert f.read() == b"step,time,acc\r\n0,1.0,0.5\r\n"
    with files.open("metrics.csv") as f:
        import pandas as pd

        assert pd.read_csv(io.BytesIO(f.read()))["v"].tolist() == ["a\r\nb", 'say "hi"']
