"""A votakvot meta provider for Kubernetes: kubectl's context, client version and namespace, and
the pod and node a trial runs in. Where kubectl is absent its values are None, which votakvot skips.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["K8S_PROVIDERS", "TIMEOUT", "cache_clear", "client_version", "context", "namespace", "node", "pod"]

log = logging.getLogger("votakvot_k8s")

TIMEOUT = 2.0
"""Seconds one kubectl call may take before it is killed and kubectl is skipped (read at each call)."""

# Mounted into every pod that has a service account token (the default).
_POD_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def _kill(proc: subprocess.Popen[str]) -> None:
    # kubectl is often a wrapper script (version managers, cloud SDK shims) whose children keep
    # running after the script dies; it was started in its own session, so end the whole group.
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except OSError:  # it ended on its own meanwhile
        pass
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


class _Kubectl:
    """One kubectl executable under one kubeconfig; asks it each question at most once."""

    def __init__(self, exe: str | None) -> None:
        self.exe = exe
        self.answers: dict[tuple[str, ...], str | None] = {}
        self.hung = False

    def ask(self, *args: str) -> str | None:
        if self.exe is None or self.hung:
            return None
        if args not in self.answers:
            self.answers[args] = self._run(self.exe, args)
        return self.answers[args]

    def _run(self, exe: str, args: tuple[str, ...]) -> str | None:
        try:
            proc = subprocess.Popen(
                [exe, *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                errors="replace",
                start_new_session=hasattr(os, "killpg"),
            )
        except OSError as e:  # not executable, removed since `which`, ...
            log.debug("could not start %s: %r", exe, e)
            return None
        try:
            out, _ = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            _kill(proc)
            # No kubectl call below would fare better, and each would cost the trial another wait.
            self.hung = True
            log.warning(
                "%s %s gave no answer within %.1f s; k8s metadata from kubectl is skipped until PATH or the "
                "kubeconfig changes",
                exe,
                " ".join(args),
                TIMEOUT,
            )
            return None
        if proc.returncode != 0:  # e.g. no current context: an ordinary state, not worth a warning
            log.debug("%s %s exited with %s", exe, " ".join(args), proc.returncode)
            return None
        return out.strip()


# Each kubectl call costs tens of milliseconds (a Go binary starting and reading the kubeconfig),
# too much for every one of many short trials, and the answers rarely change. So they are cached
# per process under a key made of PATH (which kubectl runs) and the path and stat data of each
# kubeconfig file (`kubectl config use-context` rewrites it): a trial pays a getenv and a stat or
# two. Not seen until `cache_clear()`: a kubectl binary replaced in place on an unchanged PATH.
_lock = threading.Lock()
_key: tuple[Any, ...] | None = None
_kubectl = _Kubectl(None)


def _stat(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _signature() -> tuple[Any, ...]:
    search_path = os.environ.get("PATH")
    listed = os.environ.get("KUBECONFIG")
    if listed:
        files = [f for f in listed.split(os.pathsep) if f]
    else:
        files = [os.path.join(os.path.expanduser("~"), ".kube", "config")]
    return (search_path, tuple((f, _stat(f)) for f in files))


def _ask(*args: str) -> str | None:
    global _key, _kubectl
    key = _signature()
    # Held across the call, so trials starting together in threads run kubectl once, not each.
    with _lock:
        if key != _key:
            _kubectl = _Kubectl(shutil.which("kubectl", path=key[0]))
            _key = key
        return _kubectl.ask(*args)


def _in_pod() -> bool:
    # The kubelet sets KUBERNETES_SERVICE_HOST in every container and HOSTNAME to the pod's name;
    # a laptop shell usually has HOSTNAME alone, so both are required.
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST") and os.environ.get("HOSTNAME"))


def context() -> str | None:
    """Returns kubectl's current context, or None without kubectl or without a current context.

        context()  # 'kind-experiments'
    """
    return _ask("config", "current-context") or None


def client_version() -> str | None:
    """Returns the client version kubectl reports (its `gitVersion`), or None without kubectl.

        client_version()  # 'v1.30.2'
    """
    out = _ask("version", "--client", "-o", "json")
    if not out:
        return None
    try:
        parsed = json.loads(out)
    except ValueError:
        return None
    client = parsed.get("clientVersion") if isinstance(parsed, dict) else None
    version = client.get("gitVersion") if isinstance(client, dict) else None
    return version if isinstance(version, str) and version else None


def namespace() -> str | None:
    """Returns the pod's namespace inside a pod, else the namespace of kubectl's current context.

    In a pod it is `$POD_NAMESPACE` (set through the downward API) or the service account's
    namespace file. Outside, a context without a namespace means kubectl's `default`.

        namespace()  # 'default'
    """
    if _in_pod():
        found = os.environ.get("POD_NAMESPACE")
        if found:
            return found
        try:
            with open(_POD_NAMESPACE_FILE, encoding="utf-8") as f:
                found = f.read().strip()
        except OSError:
            found = None
        if found:
            return found
    out = _ask("config", "view", "--minify", "-o", "jsonpath={.contexts[0].context.namespace}")
    if out is None:
        return None
    return out or "default"


def pod() -> str | None:
    """Returns the name of the pod the trial runs in (its `$HOSTNAME`), or None outside a pod."""
    return os.environ["HOSTNAME"] if _in_pod() else None


def node() -> str | None:
    """Returns the node the pod runs on, from `$NODE_NAME` (downward API `spec.nodeName`), else None."""
    return (os.environ.get("NODE_NAME") or None) if _in_pod() else None


def cache_clear() -> None:
    """Forgets every cached kubectl answer, so the next trial asks kubectl again."""
    global _key, _kubectl
    with _lock:
        _key = None
        _kubectl = _Kubectl(None)


K8S_PROVIDERS: dict[str, Callable[[], Any]] = {
    "k8s.client_version": client_version,
    "k8s.context": context,
    "k8s.namespace": namespace,
    "k8s.node": node,
    "k8s.pod": pod,
}
"""The entry point `k8s` of group `votakvot.meta_providers`: every provider above, by meta key."""
