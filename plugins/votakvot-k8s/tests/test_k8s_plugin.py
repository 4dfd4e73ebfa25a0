"""Tests of the votakvot-k8s plug-in against real executables: kubectl stand-ins written as shell
scripts onto a temporary PATH from which any real kubectl is hidden."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

import pytest
import votakvot_k8s
import yaml

import votakvot
import votakvot.meta
import votakvot.plugins
import votakvot.testing

pytestmark = pytest.mark.skipif(os.name != "posix", reason="kubectl stand-ins are POSIX shell scripts")

VERSION_JSON = json.dumps({"clientVersion": {"major": "1", "minor": "30", "gitVersion": "v1.30.2"}})


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Runs each test in its own folder, outside any pod, with every cache forgotten."""
    # The root is given by environment, not init(), so a reset after a PATH change keeps it.
    monkeypatch.setenv("VOTAKVOT_PATH", str(tmp_path / "results"))
    monkeypatch.delenv("VOTAKVOT_PLUGINS", raising=False)
    for name in ("KUBERNETES_SERVICE_HOST", "POD_NAMESPACE", "NODE_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    monkeypatch.chdir(tmp_path)
    votakvot.testing.reset()
    votakvot_k8s.cache_clear()
    yield
    votakvot.testing.reset()
    votakvot_k8s.cache_clear()


@pytest.fixture(scope="session")
def path_without_kubectl(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The session's PATH with every kubectl hidden: each folder holding one is replaced by a copy
    made of symlinks to everything else in it (built once; thousands of symlinks are not free)."""
    shadows: dict[str, str] = {}
    folders = []
    for folder in os.environ.get("PATH", os.defpath).split(os.pathsep):
        if folder and os.path.exists(os.path.join(folder, "kubectl")):
            real = os.path.realpath(folder)
            if real not in shadows:
                shadow = tmp_path_factory.mktemp("path-without-kubectl")
                for entry in os.scandir(real):
                    if entry.name != "kubectl":
                        (shadow / entry.name).symlink_to(entry.path)
                shadows[real] = str(shadow)
            folder = shadows[real]
        folders.append(folder)
    return os.pathsep.join(folders)


@pytest.fixture
def no_kubectl(path_without_kubectl: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Sets PATH to one without kubectl (and votakvot's caches afresh); returns that PATH."""
    monkeypatch.setenv("PATH", path_without_kubectl)
    votakvot.testing.reset()
    assert shutil.which("kubectl") is None
    return path_without_kubectl


def fake_kubectl(folder: Path, script: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Writes an executable `kubectl` shell script into `folder` and puts `folder` first on PATH."""
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / "kubectl"
    exe.write_text("#!/bin/sh\n" + script)
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", str(folder) + os.pathsep + os.environ["PATH"])
    votakvot.testing.reset()
    return exe


def answering(context: str = "kind-experiments", namespace: str = "", calls: Path | None = None) -> str:
    """A kubectl script that knows the three questions the plug-in asks (logging each to `calls`)."""
    log = f'echo "$*" >> "{calls}"\n' if calls else ""
    return log + (
        'case "$1 $2" in\n'
        f'  "config current-context") echo "{context}" ;;\n'
        f"  \"version --client\") echo '{VERSION_JSON}' ;;\n"
        f'  "config view") printf "%s" "{namespace}" ;;\n'
        '  *) echo "unknown command $*" >&2; exit 1 ;;\n'
        "esac\n"
    )


def run_trial() -> dict:
    """Runs one real trial and returns its votakvot.yaml as written."""
    with votakvot.trial("x") as t:
        t.result = 1
    assert t.path.startswith(os.environ["VOTAKVOT_PATH"])
    with open(os.path.join(t.path, "votakvot.yaml"), "rb") as f:
        return yaml.safe_load(f)


def warnings_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_entry_point_is_discovered():
    """The `k8s` entry point loads to the plug-in's table, and its keys join votakvot.meta.providers."""
    assert votakvot.plugins.entries("votakvot.meta_providers")["k8s"] is votakvot_k8s.K8S_PROVIDERS
    for key in ("k8s.context", "k8s.client_version", "k8s.namespace", "k8s.pod", "k8s.node"):
        assert votakvot.meta.providers[key] is votakvot_k8s.K8S_PROVIDERS[key]


def test_without_kubectl_nothing_is_recorded_or_reported(
    no_kubectl: str, caplog: pytest.LogCaptureFixture, recwarn: pytest.WarningsRecorder
):
    """With no kubectl on PATH the trial has no `k8s` meta, and nothing is logged or warned."""
    caplog.set_level(logging.DEBUG)

    doc = run_trial()

    assert doc["status"] == "done"
    assert "k8s" not in doc["meta"]
    assert "system" in doc["meta"]
    assert warnings_logged(caplog) == []
    assert [r for r in caplog.records if r.name.startswith("votakvot_k8s")] == []
    assert len(recwarn) == 0


def test_kubectl_answers_are_recorded(tmp_path: Path, no_kubectl: str, monkeypatch: pytest.MonkeyPatch):
    """Context, parsed client version and the context's namespace from kubectl land in the trial's meta."""
    fake_kubectl(tmp_path / "bin", answering(namespace="experiments"), monkeypatch)

    doc = run_trial()

    assert doc["meta"]["k8s"] == {
        "client_version": "v1.30.2",
        "context": "kind-experiments",
        "namespace": "experiments",
    }


def test_context_without_namespace_means_default(tmp_path: Path, no_kubectl: str, monkeypatch: pytest.MonkeyPatch):
    """A current context that names no namespace is recorded as kubectl's `default`."""
    fake_kubectl(tmp_path / "bin", answering(namespace=""), monkeypatch)

    assert run_trial()["meta"]["k8s"]["namespace"] == "default"


def test_failing_kubectl_is_skipped_silently(
    tmp_path: Path, no_kubectl: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    """A kubectl that exits non-zero (no kubeconfig, no context) leaves the keys out, with no warning."""
    fake_kubectl(tmp_path / "bin", 'echo "error: current-context is not set" >&2\nexit 1\n', monkeypatch)

    doc = run_trial()

    assert doc["status"] == "done"
    assert "k8s" not in doc["meta"]
    assert warnings_logged(caplog) == []


def test_unparsable_version_is_left_out(tmp_path: Path, no_kubectl: str, monkeypatch: pytest.MonkeyPatch):
    """Output of `kubectl version` that is not the expected JSON gives no client_version, and no error."""
    script = answering().replace(VERSION_JSON, "Client Version: v1.30.2")
    fake_kubectl(tmp_path / "bin", script, monkeypatch)

    k8s = run_trial()["meta"]["k8s"]

    assert "client_version" not in k8s
    assert k8s["context"] == "kind-experiments"


def test_hanging_kubectl_is_killed_within_timeout(
    tmp_path: Path, no_kubectl: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    """A kubectl that hangs is killed with its children after TIMEOUT, logged once, and not asked again."""
    monkeypatch.setattr(votakvot_k8s, "TIMEOUT", 0.5)  # the default 2 s, shorter: the test waits for it
    child_pid = tmp_path / "child.pid"
    sleep = shutil.which("sleep", path=no_kubectl)
    assert sleep is not None
    # A wrapper script whose child holds the output pipe, as kubectl version-manager shims do.
    # The `sleep 30` stays: it is the hang, which must outlast TIMEOUT.
    fake_kubectl(tmp_path / "bin", f'"{sleep}" 30 &\necho $! > "{child_pid}"\nwait\n', monkeypatch)

    start = time.monotonic()
    first = run_trial()
    took_first = time.monotonic() - start
    start = time.monotonic()
    second = run_trial()
    took_second = time.monotonic() - start

    assert first["status"] == second["status"] == "done"
    assert "k8s" not in first["meta"]
    assert "k8s" not in second["meta"]
    assert votakvot_k8s.TIMEOUT <= took_first < votakvot_k8s.TIMEOUT + 2
    assert took_second < 1
    (record,) = [r for r in caplog.records if r.name == "votakvot_k8s"]
    assert record.levelno == logging.WARNING
    assert "gave no answer" in record.getMessage()
    assert not _alive(int(child_pid.read_text()))


def _alive(pid: int) -> bool:
    """Tells whether `pid` is still running (a zombie waiting for its parent to reap it is not)."""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rpartition(")")[2].split()[0]
        except FileNotFoundError:
            return False
        except OSError:  # no /proc: ask the kernel instead
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return False
            state = "R"
        if state in ("Z", "X"):
            return False
        time.sleep(0.05)
    return True


def test_answers_are_cached_until_path_or_kubeconfig_changes(
    tmp_path: Path, no_kubectl: str, monkeypatch: pytest.MonkeyPatch
):
    """kubectl is asked once per question while PATH and the kubeconfig stay; a change of either is seen."""
    calls = tmp_path / "calls.log"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("one\n")
    reads_kubeconfig = answering(calls=calls).replace('echo "kind-experiments"', 'read -r c < "$KUBECONFIG"; echo "$c"')
    fake_kubectl(tmp_path / "bin", reads_kubeconfig, monkeypatch)

    assert run_trial()["meta"]["k8s"]["context"] == "one"
    assert run_trial()["meta"]["k8s"]["context"] == "one"
    assert len(calls.read_text().splitlines()) == 3

    kubeconfig.write_text("two-longer\n")
    assert run_trial()["meta"]["k8s"]["context"] == "two-longer"

    fake_kubectl(tmp_path / "other-bin", answering(context="from-other-path"), monkeypatch)
    assert run_trial()["meta"]["k8s"]["context"] == "from-other-path"
    assert len(calls.read_text().splitlines()) == 6


def test_pod_and_node_come_from_the_environment(no_kubectl: str, monkeypatch: pytest.MonkeyPatch):
    """In a pod, pod name, node and namespace come from the kubelet and downward-API variables."""
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("HOSTNAME", "trainer-7d9c5-xk2lp")
    monkeypatch.setenv("NODE_NAME", "pool-1-4f2a")
    monkeypatch.setenv("POD_NAMESPACE", "ml-team")

    assert run_trial()["meta"]["k8s"] == {"namespace": "ml-team", "node": "pool-1-4f2a", "pod": "trainer-7d9c5-xk2lp"}


def test_hostname_alone_is_not_a_pod(no_kubectl: str, monkeypatch: pytest.MonkeyPatch):
    """HOSTNAME without KUBERNETES_SERVICE_HOST (an ordinary shell) records no pod or node."""
    monkeypatch.setenv("HOSTNAME", "my-laptop")
    monkeypatch.setenv("NODE_NAME", "pool-1-4f2a")

    assert "k8s" not in run_trial()["meta"]


def test_removing_the_keys_turns_it_off(tmp_path: Path, no_kubectl: str, monkeypatch: pytest.MonkeyPatch):
    """A copy of the provider table without the k8s.* keys records nothing and never runs kubectl."""
    calls = tmp_path / "calls.log"
    fake_kubectl(tmp_path / "bin", answering(calls=calls), monkeypatch)
    providers = {k: v for k, v in votakvot.meta.providers.items() if not k.startswith("k8s.")}
    votakvot.init(meta_providers=providers)

    doc = run_trial()

    assert "k8s" not in doc["meta"]
    assert not calls.exists()
