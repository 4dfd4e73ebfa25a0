"""`import_runs`: copies MLflow runs into votakvot trial folders, so a team can move over.

Each run becomes the trial `{experiment}/{yy-mm-dd}/{HH:MM:SS}/{run_id}` (its start, in local
time), the layout votakvot writes itself:

- `votakvot.yaml`: params (text that reads as a number, bool or None becomes one), the latest
  value of each metric as the result (`{name: value}`; for a run the bridge mirrored, its
  `result` / `result.<key>` metrics, as the trial returned them), tags as info, the status (FINISHED ->
  done, FAILED -> failed, KILLED -> interrupted), start and end times, and under `meta.mlflow`
  where the run came from (`meta.git` from MLflow's git tags);
- the metric history as metric CSV rows (`step`, `time`, values); a metric named
  `series/name` (`eval/acc`) goes to the named series `series` when that is a valid series name;
- with `artifacts=True`, the run's artifacts below `artifacts/` in the trial folder.

A second import of the same runs writes nothing again: a run whose trial folder already holds a
`votakvot.yaml` is skipped, found by its run id whatever the time zone, and so is a run the
bridge mirrored from a votakvot trial that is in `root`. Runs still running are skipped too (a
later import takes them once they ended). The document is written last, so a run whose import was
cut short is imported again whole.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import io
import os
import posixpath
import re
import tempfile
from collections.abc import Iterable
from typing import Any

import votakvot
from votakvot.errors import SelectionError
from votakvot.plugins import DOCUMENT, SERIALIZERS, get, metrics_file

from . import config

STATUS = {"FINISHED": "done", "FAILED": "failed", "KILLED": "interrupted"}
ARTIFACTS = "artifacts"

_SERIES = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_UID = re.compile(r"[^0-9A-Za-z_-]")
_GLOB = re.compile(r"([*?\[])")


@dataclasses.dataclass(frozen=True)
class ImportSummary:
    """What `import_runs` did: the trials it wrote (`imported`), the ones already in the root
    (`existing`), and the ids of runs it left for later because they are still running."""

    imported: list[str]
    existing: list[str]
    running: list[str]


def import_runs(
    uri: str,
    root: str | os.PathLike[str],
    experiment_names: Iterable[str] | None = None,
    *,
    artifacts: bool = False,
    storage_options: dict[str, Any] | None = None,
) -> ImportSummary:
    """Copies the runs of an MLflow tracking URI into trial folders below `root`.

    `experiment_names` picks experiments (default: every active one); a name MLflow does not
    have raises `votakvot.errors.SelectionError` listing those it has. `root` is a local folder
    or fsspec URL (`storage_options` go to fsspec). Runs already imported are skipped, so
    running it again brings in only what is new.

        votakvot_mlflow.import_runs("sqlite:///mlflow.db", "./results")
        votakvot.load_report("./results")
    """
    import fsspec
    import mlflow

    if isinstance(experiment_names, str):
        raise TypeError(
            f"experiment_names takes a list of experiment names, not one str; write [{experiment_names!r}]"
        )
    client = mlflow.MlflowClient(tracking_uri=uri)
    fs, base = fsspec.core.url_to_fs(os.fspath(root), **(storage_options or {}))
    importer = _Importer(client, config.shown(uri), fs, base.rstrip("/"), artifacts)
    for experiment in _experiments(client, experiment_names):
        importer.experiment(experiment)
    return ImportSummary(importer.imported, importer.existing, importer.running)


def _experiments(client: Any, names: Iterable[str] | None) -> list[Any]:
    found: list[Any] = []
    token = None
    while True:
        page = client.search_experiments(max_results=1000, page_token=token)
        found.extend(page)
        token = page.token
        if not token:
            break
    if names is None:
        return found
    by_name = {e.name: e for e in found}
    wanted = list(names)
    missing = [n for n in wanted if n not in by_name]
    if missing:
        raise SelectionError(
            f"import_runs(experiment_names=...) names experiments MLflow does not have (or has deleted): "
            f"{missing}; it has: {sorted(by_name)}"
        )
    return [by_name[n] for n in dict.fromkeys(wanted)]


def trial_name(experiment: str) -> str:
    """The experiment's name as a votakvot trial name (`/Users/me/exp` -> `Users/me/exp`)."""
    name = experiment.replace("://", "-").replace("::", "-")
    segments = [re.sub(r"^\.+", lambda m: "_" * len(m.group()), s) for s in name.split("/") if s not in ("", ".")]
    return "/".join(s if s != ".." else "__" for s in segments) or "Default"


class _Importer:
    def __init__(self, client: Any, shown: str, fs: Any, base: str, artifacts: bool) -> None:
        from fsspec.implementations.local import LocalFileSystem

        self.client = client
        self.shown = shown
        self.fs = fs
        self.base = base
        self.local = isinstance(fs, LocalFileSystem)
        self.artifacts = artifacts
        self.serializer = get(SERIALIZERS, "yaml")()
        self.imported: list[str] = []
        self.existing: list[str] = []
        self.running: list[str] = []

    def experiment(self, experiment: Any) -> None:
        name = trial_name(experiment.name)
        stored = self._stored_uids(name)
        token = None
        while True:
            page = self.client.search_runs([experiment.experiment_id], max_results=1000, page_token=token)
            for run in page:
                self.run(experiment, name, run, stored)
            token = page.token
            if not token:
                break

    def run(self, experiment: Any, name: str, run: Any, stored: dict[str, str]) -> None:
        info = run.info
        uid = _UID.sub("_", info.run_id)
        if uid in stored:
            self.existing.append(stored[uid])
            return
        mirrored = run.data.tags.get("votakvot.tid")
        if mirrored and self.fs.exists(self._join(mirrored, DOCUMENT)):
            self.existing.append(mirrored)
            return
        status = STATUS.get(info.status)
        if status is None:  # RUNNING or SCHEDULED: not over yet
            self.running.append(info.run_id)
            return
        started = _local_time(info.start_time)
        tid = f"{name}/{started:%y-%m-%d}/{started:%H:%M:%S}/{uid}"
        folder = self._join(tid)
        self.fs.makedirs(folder, exist_ok=True)
        result, history = _result(run)
        self._write_metrics(folder, info.run_id, history)
        if self.artifacts:
            self._copy_artifacts(folder, info.run_id)
        self._write_document(folder, self._document(experiment, run, tid, uid, status, result))
        self.imported.append(tid)

    # -- reading MLflow ----------------------------------------------------------------------

    def _document(self, experiment: Any, run: Any, tid: str, uid: str, status: str, result: Any) -> dict[str, Any]:
        info, data = run.info, run.data
        started = _local_time(info.start_time)
        finished = _local_time(info.end_time) if info.end_time else None
        at: dict[str, Any] = {"created": started, "started": started}
        if finished is not None:
            at["finished"] = finished
            at["duration"] = round((info.end_time - info.start_time) / 1000, 6)
        tags = dict(data.tags)
        git = {
            field: tags[tag]
            for field, tag in (("commit", "mlflow.source.git.commit"), ("branch", "mlflow.source.git.branch"))
            if tag in tags
        }
        document: dict[str, Any] = {
            "tid": tid,
            "uid": uid,
            "status": status,
            "at": at,
            "params": {k: param_value(v) for k, v in sorted(data.params.items())},
            "result": result,
            "info": dict(sorted(tags.items())),
        }
        if status != "done":
            document["error"] = f"the MLflow run ended {info.status}"
        document["version"] = votakvot.__version__
        meta: dict[str, Any] = {
            "mlflow": {
                "tracking_uri": self.shown,
                "experiment_id": experiment.experiment_id,
                "experiment_name": experiment.name,
                "run_id": info.run_id,
                "run_name": info.run_name,
                "artifact_uri": info.artifact_uri,
                "user_id": info.user_id,
            }
        }
        if git:
            meta["git"] = git
        document["meta"] = meta
        return document

    def _write_metrics(self, folder: str, run_id: str, keys: list[str]) -> None:
        series: dict[str, dict[tuple[int, int], dict[str, float]]] = {}
        names: dict[str, dict[str, None]] = {}
        for key in keys:
            head, _, tail = key.partition("/")
            target, column = (head, tail) if tail and _SERIES.fullmatch(head) else ("", key)
            if column in ("step", "time"):  # votakvot's own columns
                column = f"{column}_"
            rows = series.setdefault(target, {})
            names.setdefault(target, {})[column] = None
            for point in self.client.get_metric_history(run_id, key):
                rows.setdefault((point.step, point.timestamp), {})[column] = point.value
        for target, rows in series.items():
            columns = list(names[target])
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(["step", "time", *columns])
            for (step, stamp), values in sorted(rows.items()):
                writer.writerow([step, stamp / 1000, *(values.get(c, "") for c in columns)])
            self.fs.pipe_file(posixpath.join(folder, metrics_file(target, 0)), out.getvalue().encode())

    def _copy_artifacts(self, folder: str, run_id: str) -> None:
        if not self.client.list_artifacts(run_id):
            return
        with tempfile.TemporaryDirectory(prefix="votakvot-mlflow-") as scratch:
            local = self.client.download_artifacts(run_id, "", scratch)
            for parent, _, files in os.walk(local):
                for file in files:
                    source = os.path.join(parent, file)
                    relative = os.path.relpath(source, local).replace(os.sep, "/")
                    target = posixpath.join(folder, ARTIFACTS, relative)
                    self.fs.makedirs(posixpath.dirname(target), exist_ok=True)
                    self.fs.put_file(source, target)

    # -- writing votakvot --------------------------------------------------------------------

    def _write_document(self, folder: str, document: dict[str, Any]) -> None:
        data = self.serializer.dumps(document)
        path = posixpath.join(folder, DOCUMENT)
        if self.local:  # a reader sees no document or the whole one
            temporary = posixpath.join(folder, f".{DOCUMENT}.importing")
            self.fs.pipe_file(temporary, data)
            os.replace(temporary, path)
        else:  # one PUT on object stores
            self.fs.pipe_file(path, data)

    def _stored_uids(self, name: str) -> dict[str, str]:
        """{uid: tid} of the trials already below `name` in the layout import_runs writes."""
        pattern = posixpath.join(_GLOB.sub(r"[\1]", self._join(name)), "*", "*", "*", DOCUMENT)
        stored: dict[str, str] = {}
        prefix = len(self.base) + 1
        for found in self.fs.glob(pattern):
            tid = posixpath.dirname(self.fs._strip_protocol(found))[prefix:]
            stored[tid.rsplit("/", 1)[-1]] = tid
        return stored

    def _join(self, *parts: str) -> str:
        return posixpath.join(self.base, *parts)


def _result(run: Any) -> tuple[Any, list[str]]:
    """The trial's result, and the metrics whose history becomes metric rows.

    A run the bridge mirrored (tagged `votakvot.uid`) holds the trial's result as the metrics
    `result` (a number) or `result.<key>`: those rebuild it and are not metric rows. Any other
    run's result is the latest value of each metric."""
    metrics = run.data.metrics
    if "votakvot.uid" not in run.data.tags:
        return dict(sorted(metrics.items())) or None, sorted(metrics)
    if "result" in metrics:
        result: Any = metrics["result"]
    else:
        result = {k[len("result.") :]: v for k, v in sorted(metrics.items()) if k.startswith("result.")} or None
    history = [k for k in sorted(metrics) if k != "result" and not k.startswith("result.")]
    return result, history


def param_value(text: str) -> Any:
    """An MLflow param (always text) as the value it most likely was: `"3"` -> 3, `"0.1"` -> 0.1,
    `"True"` -> True, `"None"` -> None; anything else stays text. Only exact round trips count
    (`"1e-3"` stays text: Python writes 0.001)."""
    if text in ("True", "False"):
        return text == "True"
    if text == "None":
        return None
    try:
        integer = int(text)
    except ValueError:
        pass
    else:
        return integer if str(integer) == text else text
    try:
        real = float(text)
    except ValueError:
        return text
    return real if repr(real) == text else text


def _local_time(milliseconds: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(milliseconds / 1000).astimezone()
