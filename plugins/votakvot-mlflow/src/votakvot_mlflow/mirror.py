"""One trial's MLflow run: made when the trial starts, fed its metric batches, ended with it.

Everything here runs on the bridge's background thread (`worker`), which is also the only place
that imports MLflow (about a second), so neither `import votakvot` nor a trial pays for it. A
trial whose run could not be made, or whose batch MLflow refused, is reported once (see
`reporting`) and not sent anything more: its MLflow run is then missing or partial, its votakvot
record is complete.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterable
from typing import Any

from votakvot.plugins import TrialFiles, register_state

from . import config, mapping, reporting

# A tracking server that does not accept a connection within this is taken for down: MLflow's
# own client would retry a refused connection for about four minutes.
PROBE_TIMEOUT = 3.0
RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
# Metric points are sent when this many wait, or this many seconds after the last send: a short
# trial's points then travel with its result, in one call instead of two.
HELD_POINTS = 1000
SEND_INTERVAL = 1.0


class UnreachableError(ConnectionError):
    """The tracking server of an http(s) URI does not accept connections."""


class Connection:
    """A tracking URI: its client and the ids of the experiments already looked up."""

    def __init__(self, uri: str) -> None:
        import mlflow

        self.uri = uri
        self.shown = config.shown(uri)
        self.client = mlflow.MlflowClient(tracking_uri=self.uri)
        self._experiments: dict[str, str] = {}

    def probe(self) -> None:
        """Raises UnreachableError at once if an http(s) tracking server refuses connections."""
        parts = urllib.parse.urlsplit(self.uri)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            socket.create_connection((parts.hostname, port), timeout=PROBE_TIMEOUT).close()
        except OSError as e:
            raise UnreachableError(f"the MLflow tracking server {self.shown} does not accept connections: {e}") from e

    def experiment_id(self, name: str) -> str:
        """The id of the experiment `name`, made if it does not exist (another process may race)."""
        found = self._experiments.get(name)
        if found is not None:
            return found
        from mlflow.exceptions import MlflowException

        experiment = self.client.get_experiment_by_name(name)
        if experiment is None:
            try:
                found = self.client.create_experiment(name)
            except MlflowException as e:
                if e.error_code != RESOURCE_ALREADY_EXISTS:
                    raise
                experiment = self.client.get_experiment_by_name(name)
                if experiment is None:
                    raise
        if experiment is not None:
            if experiment.lifecycle_stage == "deleted":
                raise LookupError(
                    f"the MLflow experiment {name!r} is deleted; restore it (`mlflow experiments restore "
                    f"--experiment-id {experiment.experiment_id}`), remove it for good, or name another "
                    f"experiment with ${config.ENV_EXPERIMENT}"
                )
            found = experiment.experiment_id
        assert found is not None
        self._experiments[name] = found
        return found


_lock = threading.Lock()
_connections: dict[str, Connection] = {}
# The runs of this process's trials that are open, by tid: a nested trial's parent run.
_open_runs: dict[str, str] = {}


def connection(uri: str | None) -> Connection:
    """The connection of `uri` (None: the URI MLflow resolves now), made once per process."""
    if uri is None:
        import mlflow

        uri = mlflow.get_tracking_uri()
    with _lock:
        found = _connections.get(uri)
        if found is None:
            found = _connections[uri] = Connection(uri)
        return found


def _forget() -> None:
    global _lock
    _lock = threading.Lock()  # after a fork it may be held by a thread that is not there
    _connections.clear()
    _open_runs.clear()


register_state(reset=_forget, after_fork=_forget)


class RunMirror:
    """The MLflow run of one trial; its methods are the worker's jobs, run in order."""

    def __init__(self, target: config.Target, tid: str, uid: str, name: str, path: str, files: TrialFiles) -> None:
        self.target = target
        self.tid = tid
        self.uid = uid
        self.name = name
        self.path = path
        self.files = files
        self.run_id: str | None = None
        self.broken = False
        self.shown = config.shown(target.uri) if target.uri else "MLflow's tracking URI"
        self._conn: Connection | None = None
        self._last_steps: dict[str, int] = {}
        self._held: list[mapping.Point] = []
        self._tags_sent: dict[str, str] = {}
        self._sent_at = time.monotonic()

    # -- jobs --------------------------------------------------------------------------------

    def start(self, document: dict[str, Any], resumed: int) -> None:
        """Makes the run (or finds the one of an earlier run of this explicit id) with the params."""
        try:
            conn = self._conn = connection(self.target.uri)
            self.shown = conn.shown
            conn.probe()
            experiment_id = conn.experiment_id(self.target.experiment or self.name)
            tags = mapping.tags(document, self.path)
            parent_run = _open_runs.get(str(document.get("parent")))
            if parent_run is not None:
                tags["mlflow.parentRunId"] = parent_run
            run_id = self._earlier_run(conn, experiment_id) if resumed else None
            if run_id is None:
                run = conn.client.create_run(
                    experiment_id,
                    start_time=mapping.milliseconds((document.get("at") or {}).get("started")),
                    tags=tags,
                    run_name=self.name if self.target.experiment else self.uid[:8],
                )
                run_id = run.info.run_id
                self._log(conn, run_id, params=mapping.params(document))
            else:
                conn.client.update_run(run_id, status="RUNNING")
                self._log(conn, run_id, tags=tags)
            self.run_id = run_id
            self._tags_sent = tags
            _open_runs[self.tid] = run_id
        except Exception as e:
            self._failed("making its run", e)

    @property
    def holding(self) -> bool:
        """Whether metric points wait to be sent (read by the trial's ticker; a hint only)."""
        return bool(self._held)

    def log_rows(self, series: str, rows: list[tuple[int, float, dict[str, Any]]]) -> None:
        """Takes one `Metered` batch as MLflow metric points, sent in one `log_batch` (which the
        client splits by MLflow's limits) once enough wait or `SEND_INTERVAL` passed since the
        last; a trial's last points go with its result."""
        if self.broken or self.run_id is None:
            return
        points, self._last_steps[series] = mapping.points(series, rows, self._last_steps.get(series, -1))
        self._held.extend(points)
        if len(self._held) >= HELD_POINTS or time.monotonic() - self._sent_at >= SEND_INTERVAL:
            self.send_held()

    def send_held(self) -> None:
        """Sends the metric points that wait (the sink's `tick` asks for it while the trial runs)."""
        if self.broken or self.run_id is None or self._conn is None or not self._held:
            return
        held, self._held = self._held, []
        self._sent_at = time.monotonic()
        try:
            self._log(self._conn, self.run_id, metrics=held)
        except Exception as e:
            self._failed("logging metrics", e)

    def finish(self, document: dict[str, Any], attached: list[str], traceback_text: str | None) -> None:
        """Logs the result, final tags and attached files, then ends the run with the trial's status."""
        _open_runs.pop(self.tid, None)
        if self.broken or self.run_id is None or self._conn is None:
            return
        conn, run_id = self._conn, self.run_id
        try:
            at = document.get("at") or {}
            finished = mapping.milliseconds(at.get("finished")) or 0
            metrics, result_tags = mapping.result(document, finished)
            held, self._held = self._held, []
            tags = {**mapping.tags(document, self.path), **result_tags}
            changed = {k: v for k, v in tags.items() if self._tags_sent.get(k) != v}
            self._log(conn, run_id, metrics=[*held, *metrics], tags=changed)
            self._log_artifacts(conn, run_id, attached, traceback_text)
            status = mapping.STATUS.get(str(document.get("status")), "FINISHED")
            conn.client.set_terminated(run_id, status=status, end_time=finished or None)
        except Exception as e:
            self._failed("ending its run", e)
            return
        reporting.succeeded(conn.shown)

    # -- helpers -----------------------------------------------------------------------------

    def _failed(self, what: str, error: BaseException) -> None:
        self.broken = True
        _open_runs.pop(self.tid, None)
        if self.run_id is not None:
            what = f"{what}; its MLflow run {self.run_id} is incomplete"
        reporting.failed(self.shown, self.tid, self.path, what, error)

    def _earlier_run(self, conn: Connection, experiment_id: str) -> str | None:
        runs = conn.client.search_runs(
            [experiment_id], filter_string=f"tags.`votakvot.uid` = '{self.uid}'", max_results=1
        )
        return runs[0].info.run_id if runs else None

    @staticmethod
    def _log(
        conn: Connection,
        run_id: str,
        *,
        metrics: Iterable[mapping.Point] = (),
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        from mlflow.entities import Metric, Param, RunTag

        metrics = list(metrics)
        if not (metrics or params or tags):
            return
        conn.client.log_batch(
            run_id,
            metrics=[Metric(k, v, at, step) for k, v, at, step in metrics],
            params=[Param(k, v) for k, v in (params or {}).items()],
            tags=[RunTag(k, v) for k, v in (tags or {}).items()],
        )

    def _log_artifacts(self, conn: Connection, run_id: str, attached: list[str], traceback_text: str | None) -> None:
        local = "://" not in self.path
        with tempfile.TemporaryDirectory(prefix="votakvot-mlflow-") as scratch:
            for name in attached:
                folder = mapping.artifact_folder(name)
                if local:
                    source = os.path.join(self.path, *name.split("/"))
                    if not os.path.isfile(source):
                        continue  # removed or never written: nothing to copy, nothing lost
                else:
                    source = os.path.join(scratch, str(len(os.listdir(scratch))), name.rsplit("/", 1)[-1])
                    os.makedirs(os.path.dirname(source))
                    try:
                        with self.files.open(name, "rb") as src, open(source, "wb") as dst:
                            while chunk := src.read(1 << 20):
                                dst.write(chunk)
                    except FileNotFoundError:
                        continue
                conn.client.log_artifact(run_id, source, folder)
            if traceback_text:
                source = os.path.join(scratch, "traceback.txt")
                with open(source, "w", encoding="utf-8") as f:
                    f.write(traceback_text)
                conn.client.log_artifact(run_id, source)
