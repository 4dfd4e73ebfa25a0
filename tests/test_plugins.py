"""Entry-point plug-ins: built-ins discovered, third-party ones installed for real, broken ones skipped."""

from __future__ import annotations

import json
import logging
import os
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

import votakvot
from conftest import SRC, read_yaml, run_python
from votakvot import plugins

FAST = {"heartbeat": 0.2, "flush_interval": 0.1}

SINK_SOURCE = """
from votakvot.events import Finished, Informed, Started

EVENTS = []


class AuditSink:
    def __init__(self, trial):
        self.trial = trial

    def subscriptions(self):
        return {Started: self.record, Informed: self.record, Finished: self.record}

    def record(self, event):
        EVENTS.append((type(event).__name__, event.trial.tid, getattr(event, "status", None)))
"""

META_SOURCE = """
PROVIDERS = {"acme.answer": lambda: 42, "acme.site": lambda: "lab-3", "acme.absent": lambda: None}


def flag():
    return True
"""

SERIALIZER_SOURCE = """
class JsonSerializer:
    suffix = ".json"

    def dumps(self, obj):
        import json
        return json.dumps(obj).encode()

    def loads(self, data, *, trusted=False):
        import json
        return json.loads(data)
"""

BROKEN_SOURCE = """
raise RuntimeError("this plug-in is broken on purpose")
"""


def test_builtins_are_discovered():
    """The built-in sinks, serializers and meta providers come from the three entry-point groups."""
    sinks = plugins.entries("votakvot.sinks")
    assert {"csv", "pickle", "yaml"} <= set(sinks)
    assert all(callable(factory) for factory in sinks.values())
    serializers = plugins.entries("votakvot.serializers")
    assert {"pickle", "yaml"} <= set(serializers)
    for serializer in serializers.values():
        assert serializer().loads(serializer().dumps({"a": [1, 2]}), trusted=True) == {"a": [1, 2]}
    assert {"git", "process", "python", "system"} <= set(plugins.entries("votakvot.meta_providers"))
    assert {"git.commit", "system.node", "process.pid", "python.version"} <= set(votakvot.meta.providers)


def test_third_party_sink_receives_events_without_code_change(dist, local_root):
    """An installed sink plug-in is built for every trial and gets its events."""
    module = dist.module(SINK_SOURCE)
    dist.install("acme-audit", {"votakvot.sinks": {"audit": f"{module}:AuditSink"}})
    votakvot.init(path=local_root, **FAST)
    with votakvot.trial("exp") as t:
        t.inform(a=1)
    with pytest.raises(ValueError), votakvot.trial("exp") as failed:
        raise ValueError("x")
    seen = sys.modules[module].EVENTS
    assert seen == [
        ("Started", t.tid, None),
        ("Informed", t.tid, None),
        ("Finished", t.tid, "done"),
        ("Started", failed.tid, None),
        ("Finished", failed.tid, "failed"),
    ]
    assert read_yaml(f"{t.path}/votakvot.yaml")["status"] == "done"


def test_third_party_sink_runs_before_user_handlers(dist, local_root):
    """An installed sink, like the built-in ones, handles each event before user subscribers."""
    module = dist.module(SINK_SOURCE)
    dist.install("acme-audit", {"votakvot.sinks": {"audit": f"{module}:AuditSink"}})
    events = sys.modules.get(module) or __import__(module)
    order: list[str] = []
    votakvot.events.subscribe(votakvot.events.Informed, lambda e: order.append(f"user saw {len(events.EVENTS)}"))
    votakvot.init(path=local_root, **FAST)
    with votakvot.trial("exp") as t:
        t.inform(a=1)
    assert order == ["user saw 2"]


def test_third_party_meta_provider_adds_meta_without_code_change(dist, local_root):
    """An installed meta provider (a mapping, or one callable named by its entry point) lands in meta."""
    module = dist.module(META_SOURCE)
    dist.install(
        "acme-meta",
        {"votakvot.meta_providers": {"acme": f"{module}:PROVIDERS", "acme_flag": f"{module}:flag"}},
    )
    votakvot.init(path=local_root, **FAST)
    assert {"acme.answer", "acme.site", "acme_flag", "git.commit"} <= set(votakvot.meta.providers)
    with votakvot.trial("exp") as t:
        pass
    meta = read_yaml(f"{t.path}/votakvot.yaml")["meta"]
    assert meta["acme"] == {"answer": 42, "site": "lab-3"}
    assert meta["acme_flag"] is True
    assert meta["system"]["node"]


def test_third_party_serializer_is_discovered(dist):
    """An installed serializer plug-in is found by name in votakvot.serializers."""
    module = dist.module(SERIALIZER_SOURCE)
    dist.install("acme-json", {"votakvot.serializers": {"json": f"{module}:JsonSerializer"}})
    serializer = plugins.get("votakvot.serializers", "json")()
    assert serializer.suffix == ".json"
    assert serializer.loads(serializer.dumps({"a": 1})) == {"a": 1}


GOOD = {
    "votakvot.sinks": (SINK_SOURCE, "AuditSink"),
    "votakvot.meta_providers": (META_SOURCE, "PROVIDERS"),
    "votakvot.serializers": (SERIALIZER_SOURCE, "JsonSerializer"),
}


@pytest.mark.parametrize("group", sorted(GOOD))
@pytest.mark.parametrize("breakage", ["raises-on-import", "missing-module", "missing-attribute"])
def test_broken_plugin_is_logged_and_skipped(dist, local_root, caplog, group, breakage):
    """A plug-in that fails to load is logged on votakvot.plugins and skipped; the working one beside it loads."""
    source, attribute = GOOD[group]
    good = dist.module(source)
    if breakage == "raises-on-import":
        target = f"{dist.module(BROKEN_SOURCE)}:Thing"
    elif breakage == "missing-module":
        target = "votakvot_test_no_such_module_anywhere:Thing"
    else:
        target = f"{good}:NoSuchAttribute"
    dist.install("acme-mixed", {group: {"broken": target, "working": f"{good}:{attribute}"}})
    votakvot.init(path=local_root, **FAST)
    with caplog.at_level(logging.WARNING, logger="votakvot.plugins"):
        found = plugins.entries(group)
        with votakvot.trial("exp", a=1) as t:
            t.inform(b=2)
    assert "working" in found
    assert "broken" not in found
    assert {"csv", "yaml"} <= set(plugins.entries("votakvot.sinks"))
    logged = [r for r in caplog.records if r.name == "votakvot.plugins" and r.levelno >= logging.WARNING]
    assert len(logged) == 1
    assert "broken" in logged[0].getMessage()
    assert group in logged[0].getMessage()
    doc = read_yaml(f"{t.path}/votakvot.yaml")
    assert doc["status"] == "done"
    assert doc["params"] == {"a": 1}
    assert doc["info"] == {"b": 2}


def test_sink_that_cannot_be_built_is_skipped(dist, local_root, caplog):
    """A sink whose constructor raises is logged and left out; the trial and the other sinks go on."""
    module = dist.module(
        """
        class ExplodingSink:
            def __init__(self, trial):
                raise OSError("no space left on the audit device")
        """
    )
    dist.install("acme-exploding", {"votakvot.sinks": {"exploding": f"{module}:ExplodingSink"}})
    votakvot.init(path=local_root, **FAST)
    with caplog.at_level(logging.WARNING, logger="votakvot"), votakvot.trial("exp") as t:
        t.meter(x=1)
        t.result = "fine"
    assert "exploding" in caplog.text
    assert "no space left on the audit device" in caplog.text
    doc = read_yaml(f"{t.path}/votakvot.yaml")
    assert doc["status"] == "done"
    assert doc["result"] == "fine"
    assert list(votakvot.metrics.load_csv_metrics(t.path)["x"]) == [1]


def test_init_sinks_picks_sinks_by_name(dist, local_root):
    """init(sinks=[...]) uses only the named sinks; init() without it uses every installed one."""
    module = dist.module(SINK_SOURCE)
    dist.install("acme-audit", {"votakvot.sinks": {"audit": f"{module}:AuditSink"}})
    events = sys.modules.get(module) or __import__(module)

    votakvot.init(path=local_root, sinks=["yaml"], **FAST)
    with votakvot.trial("only-yaml") as only_yaml:
        only_yaml.meter(x=1)
    assert "metrics.csv" not in {p.name for p in Path(only_yaml.path).iterdir()}
    assert read_yaml(f"{only_yaml.path}/votakvot.yaml")["status"] == "done"
    assert events.EVENTS == []

    votakvot.init(path=local_root, sinks=["yaml", "audit"], **FAST)
    with votakvot.trial("yaml-and-audit") as chosen:
        chosen.meter(x=1)
    assert "metrics.csv" not in {p.name for p in Path(chosen.path).iterdir()}
    assert [name for name, tid, _ in events.EVENTS if tid == chosen.tid] == ["Started", "Finished"]

    votakvot.init(path=local_root, **FAST)
    with votakvot.trial("all") as everything:
        everything.meter(x=1)
    assert "metrics.csv" in {p.name for p in Path(everything.path).iterdir()}
    assert [name for name, tid, _ in events.EVENTS if tid == everything.tid] == ["Started", "Finished"]


def test_plugins_env_switch_keeps_only_builtins(dist, monkeypatch):
    """VOTAKVOT_PLUGINS=0 skips third-party entry points but keeps the built-ins."""
    module = dist.module(SINK_SOURCE)
    dist.install("acme-audit", {"votakvot.sinks": {"audit": f"{module}:AuditSink"}})
    assert "audit" in plugins.entries("votakvot.sinks")
    monkeypatch.setenv("VOTAKVOT_PLUGINS", "0")
    plugins.reset()
    sinks = plugins.entries("votakvot.sinks")
    assert "audit" not in sinks
    assert {"csv", "pickle", "yaml"} <= set(sinks)


FLAKY_SINK_SOURCE = """
from votakvot.events import Finished, Informed

CALLS = []


class FlakySink:
    def __init__(self, trial):
        self.trial = trial

    def subscriptions(self):
        return {Informed: self.informed, Finished: self.finished}

    def informed(self, event):
        CALLS.append("informed")
        raise RuntimeError("this sink fails on purpose")

    def finished(self, event):
        CALLS.append("finished")
"""


def test_a_failing_sink_handler_is_dropped_for_the_rest_of_the_trial(dist, local_root, caplog):
    """A sink handler that raises is logged once and not called again in that trial; its other
    handlers still run, and what it could not store is reported (here as the chosen warning)."""
    module = dist.module(FLAKY_SINK_SOURCE)
    dist.install("acme-flaky", {"votakvot.sinks": {"flaky": f"{module}:FlakySink"}})
    votakvot.init(path=local_root, storage_errors="warn", **FAST)
    with (
        caplog.at_level(logging.WARNING, logger="votakvot.trial"),
        pytest.warns(votakvot.errors.StorageWarning, match="fails on purpose"),
        votakvot.trial("exp") as t,
    ):
        for i in range(3):
            t.inform(i=i)
    assert sys.modules[module].CALLS == ["informed", "finished"]
    assert sum("could not store the Informed" in r.getMessage() for r in caplog.records) == 1
    doc = read_yaml(f"{t.path}/votakvot.yaml")
    assert doc["status"] == "done" and doc["info"] == {"i": 2}


def test_a_failing_sink_ends_the_trial_with_a_storage_error(dist, local_root):
    """By default, what a storage sink could not store reaches the caller as StorageError when
    the block ends, naming the trial and the cause; the trial's own files are complete."""
    module = dist.module(FLAKY_SINK_SOURCE)
    dist.install("acme-flaky", {"votakvot.sinks": {"flaky": f"{module}:FlakySink"}})
    votakvot.init(path=local_root, **FAST)
    with pytest.raises(votakvot.errors.StorageError, match="fails on purpose") as caught, votakvot.trial("exp") as t:
        t.inform(i=1)
        t.result = 42
    assert caught.value.tid == t.tid and caught.value.result == 42
    assert isinstance(caught.value, OSError)
    doc = read_yaml(f"{t.path}/votakvot.yaml")
    assert doc["status"] == "done" and doc["result"] == 42


def _documented_sink_source() -> str:
    """The example sink from `votakvot.plugins`' docstring, as a user would copy it."""
    doc = plugins.__doc__ or ""
    block = doc.split("A sink, complete::", 1)[1].split("\n\n", 1)[1]
    body = []
    for line in block.splitlines():
        if line and not line.startswith("    "):
            break
        body.append(line)
    return "import json\n\nimport votakvot\n\n" + textwrap.dedent("\n".join(body))


def test_a_sink_written_from_the_docs_alone_stores_its_file(dist, local_root):
    """The documented sink, installed as a plug-in, writes its file into each trial's folder
    through the public `TrialView` alone."""
    module = dist.module(_documented_sink_source())
    dist.install("acme-json", {"votakvot.sinks": {"json": f"{module}:JsonResultSink"}})
    votakvot.init(path=local_root, **FAST)
    with votakvot.trial("documented", x=1) as t:
        t.result = 2
    import json

    stored = json.loads((Path(t.path) / "result.json").read_text())
    assert stored == {"tid": t.tid, "status": "done"}
    assert "result.json" in votakvot.load_trials(local_root)[t.tid].attached


def test_a_live_trial_is_a_trial_view_for_sinks(local_root):
    """What a sink gets is a `votakvot.plugins.TrialView`: every member of the contract is there."""
    votakvot.init(path=local_root, **FAST)
    with votakvot.trial("probe") as t:
        members = [n for n in vars(plugins.TrialView) if not n.startswith("_")]
        assert {"tid", "files", "document", "flush_metrics"} <= set(members)
        assert all(hasattr(t, name) for name in members)
        assert "votakvot.yaml" in t.files.list()
        t.files.write("direct.txt", b"hi")
        with t.files.open("sub/x.txt", "w") as f:
            f.write("there")
    assert (Path(t.path) / "direct.txt").read_bytes() == b"hi"
    assert (Path(t.path) / "sub" / "x.txt").read_text() == "there"


def _meta_of_a_trial(root: str) -> dict:
    with votakvot.trial("t") as t:
        pass
    return read_yaml(f"{t.path}/votakvot.yaml")["meta"]


def _entry_point_cache(tmp_path: Path) -> Path:
    (found,) = (tmp_path / "votakvot-cache" / "entry-points").glob("*.json")
    return found


def test_entry_points_are_read_from_the_cache_until_an_install_changes_sys_path(dist, local_root, tmp_path):
    """The scan is kept in the local cache; a process with the same sys.path folders reads it back, and
    installing a distribution (a new *.dist-info) makes the next process scan again."""
    first = dist.module(META_SOURCE)
    dist.install("acme-meta", {"votakvot.meta_providers": {"acme": f"{first}:PROVIDERS"}})
    package = dist.site / f"planted_{uuid.uuid4().hex[:12]}"
    package.mkdir()
    (package / "__init__.py").write_text("")
    votakvot.init(path=local_root, **FAST)
    assert _meta_of_a_trial(local_root)["acme"]["answer"] == 42
    cache = _entry_point_cache(tmp_path)
    # Not installed, only named in the cache: written below sys.path's folders, whose times stay.
    (package / "providers.py").write_text('PROVIDERS = {"planted.seen": lambda: "from the cache"}')
    data = json.loads(cache.read_text())
    data["groups"]["votakvot.meta_providers"].append(["planted", f"{package.name}.providers:PROVIDERS"])
    cache.write_text(json.dumps(data))
    votakvot.testing.reset()
    votakvot.init(path=local_root, **FAST)
    assert _meta_of_a_trial(local_root)["planted"] == {"seen": "from the cache"}
    second = dist.module('PROVIDERS = {"beta.flag": lambda: True}')
    dist.install("beta-meta", {"votakvot.meta_providers": {"beta": f"{second}:PROVIDERS"}})
    votakvot.init(path=local_root, **FAST)
    meta = _meta_of_a_trial(local_root)
    assert meta["beta"] == {"flag": True} and meta["acme"]["answer"] == 42
    assert "planted" not in meta
    sys.modules.pop(f"{package.name}.providers", None)
    sys.modules.pop(package.name, None)


@pytest.mark.parametrize("damage", ["garbage", "wrong shape", "unwritable"])
def test_a_broken_or_unwritable_entry_point_cache_is_scanned_past(dist, local_root, tmp_path, monkeypatch, damage):
    name = dist.module(META_SOURCE)
    dist.install("acme-meta", {"votakvot.meta_providers": {"acme": f"{name}:PROVIDERS"}})
    if damage == "unwritable":
        blocker = tmp_path / "a-file"
        blocker.write_text("not a folder")
        monkeypatch.setenv("VOTAKVOT_CACHE_DIR", str(blocker))
    else:
        votakvot.init(path=local_root, **FAST)
        _meta_of_a_trial(local_root)
        cache = _entry_point_cache(tmp_path)
        cache.write_text("{not json" if damage == "garbage" else '{"key": 1, "groups": [["x"]]}')
        votakvot.testing.reset()
    votakvot.init(path=local_root, **FAST)
    assert _meta_of_a_trial(local_root)["acme"]["site"] == "lab-3"


MIRROR_SINK_SOURCE = """
from votakvot.events import Finished, Informed, Started

CALLS = []


class UnreachableTrackerSink:
    mirror = True

    def __init__(self, trial):
        self.trial = trial

    def subscriptions(self):
        return {Started: self.started, Informed: self.informed, Finished: self.finished}

    def started(self, event):
        CALLS.append(("started", self.trial.name))

    def informed(self, event):
        CALLS.append("informed")
        raise ConnectionRefusedError("the tracker is down on purpose")

    def finished(self, event):
        CALLS.append("finished")
"""


@pytest.mark.parametrize("storage_errors", ["raise", "warn"])
def test_a_failing_mirror_sink_warns_and_never_fails_the_trial(dist, local_root, caplog, storage_errors):
    """A sink with `mirror = True` whose handler raises ends the trial normally, with a
    MirrorWarning naming the sink and the cause (never a StorageError, whatever storage_errors
    says); the trial's own files are complete and the failing handler is dropped."""
    module = dist.module(MIRROR_SINK_SOURCE)
    dist.install("acme-mirror", {"votakvot.sinks": {"mirror": f"{module}:UnreachableTrackerSink"}})
    votakvot.init(path=local_root, storage_errors=storage_errors, **FAST)
    with (
        caplog.at_level(logging.WARNING, logger="votakvot.trial"),
        pytest.warns(
            votakvot.errors.MirrorWarning, match=r"UnreachableTrackerSink: ConnectionRefusedError\('the tracker is down"
        ) as caught,
        votakvot.trial("grid/small", lr=0.1) as t,
    ):
        t.inform(i=1)
        t.inform(i=2)
        t.result = 42
    assert not [w for w in caught if issubclass(w.category, votakvot.errors.StorageWarning)]
    assert sys.modules[module].CALLS == [("started", "grid/small"), "informed", "finished"]
    assert sum("could not mirror the Informed" in r.getMessage() for r in caplog.records) == 1
    doc = read_yaml(f"{t.path}/votakvot.yaml")
    assert (doc["status"], doc["result"], doc["info"]) == ("done", 42, {"i": 2})


def test_a_failing_mirror_sink_keeps_the_trials_own_error(dist, local_root):
    """When the block raises too, its exception propagates unchanged (no StorageError around it),
    and the mirror's failure is still a warning."""
    module = dist.module(MIRROR_SINK_SOURCE)
    dist.install("acme-mirror", {"votakvot.sinks": {"mirror": f"{module}:UnreachableTrackerSink"}})
    votakvot.init(path=local_root, **FAST)
    with pytest.warns(votakvot.errors.MirrorWarning), pytest.raises(KeyError, match="boom"), votakvot.trial("exp") as t:
        t.inform(i=1)
        raise KeyError("boom")
    assert read_yaml(f"{t.path}/votakvot.yaml")["status"] == "failed"


def test_a_storage_sink_failure_is_still_a_storage_error_beside_a_mirror(dist, local_root):
    """A mirror sink does not soften storage: a failing storage sink in the same trial still ends
    it with StorageError, which names only the storage sink's failure."""
    mirror = dist.module(MIRROR_SINK_SOURCE)
    flaky = dist.module(FLAKY_SINK_SOURCE)
    dist.install(
        "acme-both",
        {"votakvot.sinks": {"mirror": f"{mirror}:UnreachableTrackerSink", "flaky": f"{flaky}:FlakySink"}},
    )
    votakvot.init(path=local_root, **FAST)
    with (
        pytest.warns(votakvot.errors.MirrorWarning),
        pytest.raises(votakvot.errors.StorageError) as caught,
        votakvot.trial("exp") as t,
    ):
        t.inform(i=1)
    assert [type(cause) for _, cause in caught.value.failures] == [RuntimeError]
    assert "fails on purpose" in str(caught.value) and "tracker is down" not in str(caught.value)
    assert read_yaml(f"{t.path}/votakvot.yaml")["status"] == "done"


def test_trial_view_names_the_trial(local_root):
    """`TrialView.name` is the name given to the trial, the function's for @track, and the id for trial_at."""
    votakvot.init(path=local_root, **FAST)

    @votakvot.track()
    def probe():
        return votakvot.current().name

    with votakvot.trial("grid/small") as t:
        assert t.name == "grid/small" and t.tid.startswith("grid/small/")
    assert probe() == f"{__name__}/test_trial_view_names_the_trial.probe"
    with votakvot.trial_at("fixed/id") as explicit:
        assert explicit.name == "fixed/id"


def test_a_mirror_failing_for_a_trial_finished_at_exit_warns(dist, tmp_path):
    """A trial finished by the exit hook (left open in a daemon thread) whose mirror sink fails
    warns with MirrorWarning at exit; its document is stored as interrupted."""
    import subprocess

    failing_at_the_end = MIRROR_SINK_SOURCE.replace(
        'CALLS.append("finished")', 'raise ConnectionRefusedError("the tracker is down on purpose")'
    )
    assert failing_at_the_end != MIRROR_SINK_SOURCE
    module = dist.module(failing_at_the_end)
    dist.install("acme-mirror", {"votakvot.sinks": {"mirror": f"{module}:UnreachableTrackerSink"}})
    code = textwrap.dedent(
        """
        import threading, time, votakvot
        votakvot.init(path="results", heartbeat=0.2, flush_interval=0.1)
        opened = threading.Event()

        def left_open():
            with votakvot.trial("left-open"):
                opened.set()
                time.sleep(3600)

        threading.Thread(target=left_open, daemon=True).start()
        opened.wait()
        """
    )
    done = run_python(code, cwd=tmp_path, env={"PYTHONPATH": f"{dist.site}{os.pathsep}{SRC}"}, stderr=subprocess.PIPE)
    _, stderr = done.communicate(timeout=60)
    assert done.returncode == 0, stderr
    assert b"MirrorWarning: trial 'left-open/" in stderr and b"tracker is down on purpose" in stderr
    (trial,) = votakvot.load_trials(str(tmp_path / "results")).values()
    assert trial.status == "interrupted"
