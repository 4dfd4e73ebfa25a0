"""Crashes and signals: what a trial leaves on disk when its process is killed or asked to stop."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import time
import warnings

import pandas as pd
import pytest

import votakvot
from conftest import read_yaml, run_python, wait_until

pytestmark = pytest.mark.slow

# Opens a trial, meters three rows, prints the trial folder and then waits to be killed.
CHILD = """
import sys, time, votakvot
votakvot.init(path={root!r}, heartbeat=0.2, flush_interval=0.1)
with votakvot.trial("crash", lr=0.5, tag="kill-me") as t:
    for i in range(3):
        t.meter(loss=1.0 / (i + 1))
    t.inform(reached="the wait")
    print(t.path, flush=True)
    while True:
        time.sleep(0.05)  # stays: the child idles inside its trial until it is signalled
"""


def _start(root: str, cwd) -> tuple[subprocess.Popen, str]:
    child = run_python(CHILD.format(root=root), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    path = child.stdout.readline().strip()
    if not path:
        child.kill()
        _, err = child.communicate(timeout=10)
        pytest.fail(f"the child process did not start its trial:\n{err}")
    return child, path


def _metrics(path: str) -> pd.DataFrame:
    with open(os.path.join(path, "metrics.csv"), "rb") as f:
        return pd.read_csv(io.BytesIO(f.read()))


def test_sigkill_leaves_a_complete_running_document(local_root, tmp_path):
    """A process SIGKILLed inside a trial leaves a parseable votakvot.yaml with its params and status running."""
    child, path = _start(local_root, tmp_path)
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=10)
    assert child.returncode == -signal.SIGKILL
    doc = read_yaml(os.path.join(path, "votakvot.yaml"))
    assert doc["status"] == "running"
    assert doc["params"] == {"lr": 0.5, "tag": "kill-me"}
    assert doc["tid"] == os.path.relpath(path, local_root)
    assert "started" in doc["at"]
    assert "finished" not in doc["at"]


def test_sigkill_keeps_metrics_flushed_before_it(local_root, tmp_path):
    """Rows metered more than a flush interval before a SIGKILL are in metrics.csv."""
    child, path = _start(local_root, tmp_path)
    # The child's first heartbeat is written by its ticker a heartbeat (two flush intervals) after
    # the start, in a tick that flushes metrics first.
    wait_until(lambda: os.path.exists(os.path.join(path, ".heartbeat")))
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=10)
    rows = _metrics(path)
    assert list(rows["loss"]) == [1.0, 0.5, pytest.approx(1 / 3)]


def test_sigterm_finishes_the_trial_as_interrupted(local_root, tmp_path):
    """SIGTERM ends the trial in order: status interrupted, finish time, info and every metered row on disk."""
    child, path = _start(local_root, tmp_path)
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=10)
    assert child.returncode != 0
    doc = read_yaml(os.path.join(path, "votakvot.yaml"))
    assert doc["status"] == "interrupted", err
    assert doc["params"] == {"lr": 0.5, "tag": "kill-me"}
    assert doc["info"] == {"reached": "the wait"}
    assert "finished" in doc["at"]
    assert len(_metrics(path)) == 3


def test_sigint_finishes_the_trial_as_interrupted(local_root, tmp_path):
    """SIGINT (KeyboardInterrupt) in a process ends its trial with status interrupted."""
    child, path = _start(local_root, tmp_path)
    child.send_signal(signal.SIGINT)
    child.communicate(timeout=10)
    assert child.returncode != 0
    doc = read_yaml(os.path.join(path, "votakvot.yaml"))
    assert doc["status"] == "interrupted"
    assert "finished" in doc["at"]


def test_sigterm_outside_trials_still_terminates(local_root, tmp_path):
    """After its trials ended, a process that gets SIGTERM dies of it as if votakvot were not there."""
    code = f"""
import time, votakvot
votakvot.init(path={local_root!r}, heartbeat=0.2, flush_interval=0.1)
with votakvot.trial("short") as t:
    pass
print(t.path, flush=True)
while True:
    time.sleep(0.05)  # stays: the child idles after its trial until it is signalled
"""
    child = run_python(code, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    path = child.stdout.readline().strip()
    assert path, child.communicate(timeout=10)[1]
    child.send_signal(signal.SIGTERM)
    child.communicate(timeout=10)
    assert child.returncode == -signal.SIGTERM
    assert read_yaml(os.path.join(path, "votakvot.yaml"))["status"] == "done"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_trial_keeps_the_traceback_of_where_the_signal_landed(local_root, tmp_path, signum):
    """SIGINT and SIGTERM leave traceback.txt pointing where the child was (its print or its waiting loop)."""
    child, path = _start(local_root, tmp_path)
    child.send_signal(signum)
    child.communicate(timeout=10)
    with open(os.path.join(path, "traceback.txt")) as f:
        text = f.read()
    assert re.search(r'File "<string>", line (8|9|10), in <module>', text), text
    assert text.rstrip().splitlines()[-1].startswith("KeyboardInterrupt" if signum == signal.SIGINT else "SystemExit")
    (trial,) = votakvot.load_trials(local_root).values()
    assert trial.status == "interrupted"
    assert trial.traceback_text == text


def test_sigkilled_trial_loads_as_crashed_with_an_error(local_root, tmp_path):
    """After SIGKILL the trial loads as crashed; its error, on the trial and in the report, says the process is gone."""
    child, _ = _start(local_root, tmp_path)
    pid = child.pid
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=10)
    (trial,) = votakvot.load_trials(local_root).values()
    assert trial.status == "crashed"
    assert trial.error.startswith(f"the process stopped without finishing (pid {pid} on this machine is gone")
    row = votakvot.load_report(local_root).loc[0]
    assert (row["status"], row["error"]) == ("crashed", trial.error)


# Runs short trials in a row, each replacing its start document within the second (half of them
# after an `inform` tick too), and prints a line after each until it is killed.
SHORT_TRIALS = """
import time, votakvot
votakvot.init(path={root!r}, flush_interval=0.001)
i = 0
while True:
    with votakvot.trial("short", i=i, pad="x" * (i % 3000)) as t:
        if i % 2:
            t.inform(step=i)
            time.sleep(0.003)
        t.result = i
    print(i, flush=True)
    i += 1
"""


@pytest.mark.parametrize("delay", [0.0, 0.0007, 0.0013, 0.0021, 0.0034])
def test_sigkill_amid_short_trials_leaves_only_complete_documents(local_root, tmp_path, delay):
    """SIGKILL at an arbitrary moment of a stream of short trials, whose final documents are
    swapped in for their start ones: every votakvot.yaml is complete, and every trial loads,
    done, or crashed for the one that was running."""
    child = run_python(SHORT_TRIALS.format(root=local_root), cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    for _ in range(20):  # a few trials done: the process is warm, the kill lands mid-stream
        assert child.stdout.readline(), "the child process stopped before it was killed"
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=10)
    documents = [os.path.join(d, "votakvot.yaml") for d, _, files in os.walk(local_root) if "votakvot.yaml" in files]
    assert len(documents) >= 20
    for path in documents:
        doc = read_yaml(path)
        assert doc["status"] in ("done", "running"), doc
        assert doc["params"]["i"] == (doc["result"] if doc["status"] == "done" else doc["params"]["i"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a broken document would be skipped with a warning
        trials = votakvot.load_trials(local_root)
    assert len(trials) == len(documents)
    assert {t.status for t in trials.values()} <= {"done", "crashed"}
    assert sum(t.status == "crashed" for t in trials.values()) <= 1
