"""One id, one runner: the claim an explicit-id trial holds while it runs, and what a second caller gets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import votakvot
from conftest import read_yaml, run_python
from votakvot.errors import TrialBusyError

# Counts to n with one metered row per loop; prints RAN when it computes and BUSY when refused.
RUNNER = """
import os, sys, time, votakvot

class Count(votakvot.resumable_fn):
    snapshot_period = 0.05

    def init(self, n):
        self.n, self.i = n, 0

    def loop(self):
        self.i += 1
        votakvot.meter(i=self.i)
        if self.i == 1:
            print("RAN", flush=True)
        time.sleep(0.01)
        return self.i if self.i >= self.n else None

votakvot.init(path="results", flush_interval=0.05, heartbeat=0.2)
go = sys.argv[1] if len(sys.argv) > 1 else None
if go:
    print("READY", flush=True)
while go and not os.path.exists(go):
    time.sleep(0.001)
try:
    print("RESULT", votakvot.call("count", Count, {"n": %d}), flush=True)
except votakvot.errors.TrialBusyError as e:
    print("BUSY", e, flush=True)
"""


def _runner(tmp_path: Path, n: int, *args: str) -> subprocess.Popen:
    code = RUNNER % n
    script = tmp_path / "runner.py"
    script.write_text(code)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent / "src"))
    return subprocess.Popen(
        [sys.executable, str(script), *args], cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True
    )


def _metrics(folder: Path) -> pd.DataFrame:
    return votakvot.metrics.load_csv_metrics(str(folder))


@pytest.mark.slow
def test_two_processes_started_together_compute_once(tmp_path: Path):
    """Two processes calling call() with one id at the same moment: one computes, the other gets TrialBusyError."""
    go = tmp_path / "go"
    procs = [_runner(tmp_path, 60, str(go)) for _ in range(2)]
    assert [p.stdout.readline().strip() for p in procs] == ["READY", "READY"]
    go.touch()
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert sorted(out.split()[0] for out in outs) == ["BUSY", "RAN"], outs
    busy = next(out for out in outs if out.startswith("BUSY"))
    assert "is being run by process" in busy and "another id" in busy
    folder = tmp_path / "results" / "count"
    rows = _metrics(folder)
    assert rows["i"].tolist() == list(range(1, 61))
    assert rows["step"].tolist() == list(range(60))
    assert (folder / "metrics.csv").read_text().count("step,time") == 1


@pytest.mark.slow
def test_a_second_caller_while_the_first_runs_is_refused_at_once(tmp_path: Path):
    """call() on an id another live process is computing raises TrialBusyError naming that process."""
    first = _runner(tmp_path, 600)  # about 6 s of work: the second caller comes well within it
    assert first.stdout.readline().strip() == "RAN"
    second = _runner(tmp_path, 600)
    out, _ = second.communicate(timeout=30)
    assert out.startswith("BUSY") and f"process {first.pid}" in out, out
    out, _ = first.communicate(timeout=60)
    assert "RESULT 600" in out
    assert _metrics(tmp_path / "results" / "count")["i"].tolist() == list(range(1, 601))


@pytest.mark.slow
def test_the_claim_of_a_killed_process_is_taken_over(tmp_path: Path):
    """After SIGKILL the next call() takes over the dead process's claim and finishes the trial."""
    first = _runner(tmp_path, 300)
    assert first.stdout.readline().strip() == "RAN"
    first.send_signal(signal.SIGKILL)
    first.wait()
    folder = tmp_path / "results" / "count"
    assert json.loads((folder / ".claim").read_text())["pid"] == first.pid
    second = _runner(tmp_path, 300)
    out, _ = second.communicate(timeout=60)
    assert "RESULT 300" in out, out
    assert not (folder / ".claim").exists()


def _plant_claim(folder: Path, **fields) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    claim = {"tid": "x", "pid": 1, "node": "some-other-machine", "heartbeat": 5.0, "beat": time.time(), "token": "t"}
    claim.update(fields)
    (folder / ".claim").write_text(json.dumps(claim))


def test_a_fresh_claim_from_another_machine_makes_the_id_busy(local_root):
    """A claim renewed recently by a process on another machine is respected: TrialBusyError, nothing written."""
    votakvot.init(path=local_root)
    folder = Path(local_root) / "x"
    _plant_claim(folder)
    with pytest.raises(TrialBusyError, match="some-other-machine"):
        votakvot.call("x", lambda: 1, {})
    with pytest.raises(TrialBusyError), votakvot.trial_at("x"):
        pass
    assert not (folder / "votakvot.yaml").exists()


def test_a_stale_claim_from_another_machine_is_taken_over(local_root):
    """A claim whose heartbeat is older than 60 s (or 4 heartbeats) belongs to a dead process: it is taken over."""
    votakvot.init(path=local_root)
    folder = Path(local_root) / "x"
    _plant_claim(folder, beat=time.time() - 120)
    assert votakvot.call("x", lambda: 1, {}) == 1
    assert not (folder / ".claim").exists()


def test_a_claim_of_a_dead_process_on_this_machine_is_taken_over(local_root):
    """On the same machine the pid tells: a claim whose process is gone is taken over at once."""
    import platform

    dead = subprocess.Popen(["true"])
    dead.wait()
    votakvot.init(path=local_root)
    folder = Path(local_root) / "x"
    _plant_claim(folder, node=platform.node(), pid=dead.pid)
    assert votakvot.call("x", lambda: 2, {}) == 2


def test_a_garbled_claim_is_taken_over(local_root):
    """A claim file that is not a claim (empty, garbage) does not lock the id forever."""
    votakvot.init(path=local_root)
    folder = Path(local_root) / "x"
    folder.mkdir(parents=True)
    (folder / ".claim").write_bytes(b"\x00garbage")
    assert votakvot.call("x", lambda: 3, {}) == 3


def test_a_live_trial_holds_its_claim_and_releases_it_at_the_end(root):
    """While a trial_at trial runs its id is claimed (another trial_at is refused); when it ends the claim is gone."""
    votakvot.init(path=root)
    with votakvot.trial_at("held") as t:
        assert ".claim" in t.files.list()
        with pytest.raises(TrialBusyError, match="is being run by process"), votakvot.trial_at("held"):
            pass
    assert ".claim" not in t.files.list()
    with votakvot.trial_at("held") as again:  # free again
        pass
    assert again.resumed == 1


def test_a_failed_trial_releases_its_claim(local_root):
    """A trial that raises releases its id, so call() can run it again."""
    votakvot.init(path=local_root)
    with pytest.raises(ZeroDivisionError):
        votakvot.call("boom", lambda: 1 / 0, {})
    assert not (Path(local_root) / "boom" / ".claim").exists()
    assert votakvot.call("boom", lambda: 4, {}) == 4


def test_threads_of_one_process_claim_too(local_root):
    """Two threads of one process calling the same id: one computes, the other gets TrialBusyError."""
    import threading

    votakvot.init(path=local_root)
    inside = threading.Event()
    leave = threading.Event()
    outcome: list[object] = []

    def slow():
        inside.set()
        leave.wait(10)
        return "slow"

    worker = threading.Thread(target=lambda: outcome.append(votakvot.call("t", slow, {})))
    worker.start()
    assert inside.wait(10)
    try:
        with pytest.raises(TrialBusyError):
            votakvot.call("t", slow, {})
    finally:
        leave.set()
        worker.join(10)
    assert outcome == ["slow"]
    assert read_yaml(os.path.join(local_root, "t", "votakvot.yaml"))["status"] == "done"


def test_a_finished_id_returns_its_result_without_claiming(local_root):
    """call() on a done id returns the stored result and creates or removes nothing in its folder."""
    votakvot.init(path=local_root)
    votakvot.call("done", lambda: 5, {})
    folder = Path(local_root) / "done"
    before = folder.stat().st_mtime_ns
    time.sleep(0.01)
    assert votakvot.call("done", lambda: 6, {}) == 5
    assert folder.stat().st_mtime_ns == before, "a file was created or removed in the folder"


CHILD_HOLDS = """
import time, votakvot
votakvot.init(path={root!r}, heartbeat=0.2)
with votakvot.trial_at("held") as t:
    print("HELD", flush=True)
    time.sleep(60)
"""


@pytest.mark.slow
def test_a_claim_is_renewed_while_the_trial_runs(local_root, tmp_path):
    """The claim's heartbeat is renewed every init(heartbeat=...) seconds while the trial runs."""
    child = run_python(CHILD_HOLDS.format(root=local_root), cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "HELD"
        claim = Path(local_root) / "held" / ".claim"
        beats = set()
        deadline = time.monotonic() + 10
        while len(beats) < 4 and time.monotonic() < deadline:
            beats.add(json.loads(claim.read_text())["beat"])
            time.sleep(0.05)
        assert len(beats) >= 4
    finally:
        child.kill()
        child.wait()


def test_a_claim_lost_while_running_ends_the_trial_with_storage_error(local_root):
    """If another process takes the id over while this run holds it (this one looked dead), the
    run does not end quietly: the two may have written into one folder, and StorageError says so."""
    from conftest import wait_until

    votakvot.init(path=local_root, heartbeat=0.05, flush_interval=0.05)
    with pytest.raises(votakvot.errors.StorageError, match="lost its claim") as caught, votakvot.trial_at("job") as t:
        claim = Path(t.path) / ".claim"
        taken = dict(json.loads(claim.read_text()), pid=1, node="another-machine", token="theirs")
        replacement = Path(t.path) / "claim.new"
        replacement.write_text(json.dumps(taken))
        os.replace(replacement, claim)
        wait_until(lambda: t._claim is not None and t._claim.lost, timeout=10)
        t.result = 1
    assert caught.value.result == 1
    assert json.loads(claim.read_text())["token"] == "theirs"  # the other run's claim is left alone
