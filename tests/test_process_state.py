"""Process-wide state has one owner: `votakvot.testing.reset()` forgets all of it, and a forked
child starts without what belongs to its parent."""

from __future__ import annotations

import gc
import json
import os

import pytest

import votakvot
import votakvot.testing
from votakvot import events, meta, plugins
from votakvot._process import collector

FAST = {"heartbeat": 0.2, "flush_interval": 0.1}


def test_reset_forgets_everything_a_trial_leaves_behind(local_root):
    """After trials, a subscriber, a warning and a registered plug-in state, reset() puts the
    process back as it was after import."""
    plugin_cache = {"warm": True}
    plugins.register_state(reset=plugin_cache.clear)
    votakvot.init(path=local_root, **FAST)
    events.subscribe(events.Finished, lambda event: None)
    with pytest.warns(UserWarning):
        votakvot.inform(x=1)  # outside any trial: warns once per process
    with votakvot.trial("state"):
        pass
    from votakvot._builtins import document_sink

    assert document_sink._last_meta and plugins._cache and "providers" in vars(meta)

    votakvot.testing.reset()

    assert plugin_cache == {}
    assert document_sink._last_meta == []
    assert plugins._cache == {}
    assert "providers" not in vars(meta)
    assert events.handlers(events.Finished) == ()
    from votakvot._process import settings

    assert settings.current() == settings.Settings()
    with pytest.warns(UserWarning, match="outside any trial"):
        votakvot.inform(x=1)  # the once-per-process warning is armed again


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_child_forked_during_a_collector_pause_runs_with_the_collector_on():
    """A fork while a metric flush or a report paused the garbage collector does not leave the
    child without one for life."""
    assert gc.isenabled()
    read, write = os.pipe()
    with collector.paused():
        pid = os.fork()
        if pid == 0:  # the child
            os.write(write, json.dumps(gc.isenabled()).encode())
            os._exit(0)
    os.close(write)
    child_gc = json.loads(os.read(read, 100))
    os.close(read)
    os.waitpid(pid, 0)
    assert child_gc is True
    assert gc.isenabled()


def test_overlapping_pauses_restore_the_collector_after_the_last_one():
    """Two pauses that overlap (two threads flushing) leave the collector on when both end."""
    assert gc.isenabled()
    first = collector.paused()
    second = collector.paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()
