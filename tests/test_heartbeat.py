"""Heartbeats: scheduled on a monotonic clock, as often as init(heartbeat=...) says, gone when the trial ends."""

from __future__ import annotations

import os
import time

import votakvot


def _beats(path: str, seconds: float) -> list[str]:
    """The distinct contents of the trial's .heartbeat file seen within `seconds`."""
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with open(os.path.join(path, ".heartbeat")) as f:
                text = f.read()
        except FileNotFoundError:
            text = ""
        if text and (not seen or seen[-1] != text):
            seen.append(text)
        time.sleep(0.02)
    return seen


def test_heartbeat_is_independent_of_the_flush_interval(local_root):
    """init(heartbeat=0.3, flush_interval=5) beats about every 0.3 s, not every 5 s."""
    votakvot.init(path=local_root, heartbeat=0.3, flush_interval=5)
    with votakvot.trial("beating") as t:
        beats = _beats(t.path, 2.5)
    assert len(beats) >= 4, beats
    stamps = [float(b) for b in beats]
    assert stamps == sorted(stamps)


def test_heartbeat_goes_on_when_the_wall_clock_jumps_back(local_root, monkeypatch):
    """A wall clock set back an hour does not stop the heartbeat: it keeps beating, recording the clock's time."""
    votakvot.init(path=local_root, heartbeat=0.2, flush_interval=0.2)
    real = time.time
    with votakvot.trial("jump") as t:
        assert len(_beats(t.path, 0.7)) >= 1
        monkeypatch.setattr(time, "time", lambda: real() - 3600)
        beats = _beats(t.path, 1.5)
        monkeypatch.setattr(time, "time", real)
    jumped = [b for b in beats if float(b) < real() - 3000]
    assert len(jumped) >= 3, beats


def test_a_finished_trial_keeps_no_heartbeat(root):
    """The .heartbeat file is there while the trial runs and removed when it ends, however it ends."""
    votakvot.init(path=root, heartbeat=0.05, flush_interval=0.05)
    with votakvot.trial("done") as t:
        deadline = time.monotonic() + 5
        while ".heartbeat" not in t.files.list() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ".heartbeat" in t.files.list()
    assert ".heartbeat" not in t.files.list()
    try:
        with votakvot.trial("failed") as failed:
            time.sleep(0.3)
            raise ValueError("no")
    except ValueError:
        pass
    assert ".heartbeat" not in failed.files.list()
