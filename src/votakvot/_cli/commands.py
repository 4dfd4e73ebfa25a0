"""The subcommands: each loads through the public API and prints a table, JSON or CSV."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import sys
import time
from typing import Any

import votakvot
from votakvot._files import layout
from votakvot.errors import TrialNotFoundError

from . import output, select
from .progress import load_bar

# The report's own columns the `ls` table leaves out (`show` has them).
_LS_HIDDEN = ("tid", "trial", "status", "created", "finished", "duration", "error")
_LIVE = ("running", "resumed")


class UsageError(Exception):
    """An argument that argparse accepted but that names nothing usable (exit 2)."""


def ls(args: argparse.Namespace) -> int:
    times = {
        keep_after: select.cutoff(select.moment(value, option=option))
        for keep_after, value, option in ((True, args.since, "--since"), (False, args.before, "--before"))
        if value is not None
    }
    with load_bar() as bar:
        frame = votakvot.load_report(args.path, storage_options=args.options, progress=bar)
    if args.status:
        frame = frame[frame.status.isin(args.status)]
    for keep_after, cutoff in times.items():
        if len(frame):
            frame = _by_time(frame, cutoff, keep_after)
    if args.where and len(frame):
        try:
            frame = frame.query(args.where)
        except Exception as e:
            raise UsageError(
                f"--where {args.where!r} cannot be evaluated on the report ({type(e).__name__}: {e})"
            ) from e
    if args.sort:
        column = args.sort.lstrip("-")
        if column not in frame.columns:
            raise UsageError(
                f"--sort {args.sort!r}: no column {column!r}; columns: {[c for c in frame.columns if c != 'trial']}"
            )
        frame = frame.sort_values(column, ascending=not args.sort.startswith("-"), kind="stable", na_position="last")
    if args.top is not None:
        frame = frame.head(args.top)
    if args.json or args.csv:
        columns, rows = output.records(frame)
        if args.json:
            output.print_json(rows)
        else:
            output.print_csv(columns, rows)
        return 0
    extra = [c for c in frame.columns if c not in _LS_HIDDEN]
    table_rows = [
        [
            output.short_tid(str(r["tid"])),
            str(r["status"]),
            output.timestamp(r.get("created")),
            output.duration(r.get("duration")),
        ]
        + [output.cell(r[c]) for c in extra]
        for r in frame.to_dict("records")
    ]
    print(output.table(["tid", "status", "created", "duration", *map(str, extra)], table_rows))
    return 0


def _by_time(frame: Any, cutoff: Any, keep_after: bool) -> Any:
    import pandas as pd

    created = pd.to_datetime(frame["created"], utc=True)
    chosen = created >= cutoff if keep_after else created < cutoff
    return frame[chosen.fillna(False).astype(bool)]


def show(args: argparse.Namespace) -> int:
    trial = select.trial(args.trial, args.root, args.options)
    head = trial.head()
    git = trial.meta.get("git") or {}
    record: dict[str, Any] = {
        "tid": trial.tid,
        "path": trial.path,
        "status": trial.status,
        "error": trial.error,
        "at": dict(trial.at),
        "params": dict(trial.params),
        "result": head.get("result"),
        "info": dict(trial.info),
        "git": dict(git) if isinstance(git, dict) else git,
        "traceback": trial.traceback_text,
        "attached": trial.attached,
        "last_metrics": _last_metrics(trial),
    }
    if args.json:
        output.print_json(record)
        return 0
    lines: list[tuple[str, Any]] = [
        ("tid", trial.tid),
        ("path", trial.path),
        ("status", trial.status),
        *[
            (key, output.timestamp(value) if key != "duration" else output.duration(value))
            for key, value in trial.at.items()
        ],
    ]
    if record["error"]:
        lines.append(("error", record["error"]))
    for section in ("params", "result", "info", "git", "last_metrics"):
        lines += [(f"{section}.{k}" if k else section, output.cell(v)) for k, v in _flat(record[section])]
    if trial.attached:
        lines.append(("attached", ", ".join(trial.attached)))
    print(output.table(["field", "value"], [[k, str(v)] for k, v in lines]).split("\n", 1)[1])
    if record["traceback"]:
        print("\ntraceback:")
        print(output.safe_text_block(record["traceback"]))
    return 0


def _flat(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in _flat(v, f"{prefix}.{k}" if prefix else str(k))]
    return [] if value is None and not prefix else [(prefix, value)]


def _last_metrics(trial: votakvot.Trial) -> dict[str, Any]:
    """The last value of each metric of the default series, with its step."""
    rows = trial.metrics()
    if not len(rows):
        return {}
    if "series" in rows.columns:
        rows = rows[rows.series == ""].drop(columns="series")
    last: dict[str, Any] = {}
    for column in rows.columns:
        if column == "time":
            continue
        values = rows[column].dropna()
        if len(values):
            last[str(column)] = output.plain(values.iloc[-1])
    return last


def diff(args: argparse.Namespace) -> int:
    a = select.trial(args.a, args.root, args.options)
    b = select.trial(args.b, args.root, args.options)
    if args.code:
        return _code_diff(args, a, b)
    if args.paths or args.repo:
        raise UsageError("PATH and --repo go with --code")
    frame = votakvot.diff(a, b)
    if args.json:
        output.print_json({"a": a.tid, "b": b.tid, "differences": output.records(frame)[1]})
        return 0
    print(f"a: {output.safe_text(a.tid)}\nb: {output.safe_text(b.tid)}")
    if not len(frame):
        print("no differences")
        return 0
    print(
        output.table(
            ["section", "field", "a", "b"], [[output.cell(v) for v in row] for row in frame.itertuples(index=False)]
        )
    )
    return 0


def _code_diff(args: argparse.Namespace, a: votakvot.Trial, b: votakvot.Trial) -> int:
    color = not args.json and sys.stdout.isatty()
    text = votakvot.code_diff(a, b, *args.paths, repo=args.repo, color=color)
    if args.json:
        output.print_json({"a": a.tid, "b": b.tid, "diff": text})
    elif text:
        sys.stdout.write(text)
    else:
        print("no code differences")
    return 0


def metrics(args: argparse.Namespace) -> int:
    import pandas as pd

    if args.path is not None:
        frame = votakvot.load_metrics(args.path, args.series, storage_options=args.options)
    elif args.trials:
        parts = []
        for name in args.trials:
            trial = select.trial(name, args.root, args.options)
            part = votakvot.load_metrics(trial.path, args.series, storage_options=args.options)
            part[part.columns[0]] = trial.tid
            parts.append(part)
        frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    else:
        raise UsageError("name trials (votakvot metrics TID...) or a path (votakvot metrics --path PATH)")
    if not len(frame):
        raise TrialNotFoundError("no metric rows there")
    if args.tail is not None:
        frame = frame.groupby(frame.columns[0], sort=False, group_keys=False).tail(args.tail)
    columns, rows = output.records(frame)
    if args.json:
        output.print_json(rows)
    elif args.csv:
        output.print_csv(columns, rows)
    else:
        table_rows = [
            [output.short_tid(str(r[columns[0]])), *[_metric_cell(c, r[c]) for c in columns[1:]]] for r in rows
        ]
        print(output.table(columns, table_rows))
    return 0


def _metric_cell(column: str, value: Any) -> str:
    if column == "time" and isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(value).astimezone().isoformat(" ", "milliseconds")
    return output.cell(value)


def running(args: argparse.Namespace) -> int:
    now = time.time()
    rows = []
    with load_bar() as bar:
        trials = votakvot.load_trials(args.path, storage_options=args.options, progress=bar)
    for trial in trials.values():
        if trial.status not in _LIVE:
            continue
        at = trial.at
        starts = [at.get("started"), *(at.get("resumed") or [])]
        started = max((s.timestamp() for s in starts if hasattr(s, "timestamp")), default=None)
        last = _last_metrics(trial)
        rows.append(
            {
                "tid": trial.tid,
                "status": trial.status,
                "elapsed": None if started is None else now - started,
                "step": last.pop("step", None),
                "metrics": last,
                "heartbeat_age": _heartbeat_age(trial, now),
            }
        )
    if args.json:
        output.print_json(rows)
        return 0
    table_rows = [
        [
            output.short_tid(r["tid"]),
            r["status"],
            output.duration(r["elapsed"]),
            output.cell(r["step"]),
            output.duration(r["heartbeat_age"]),
            " ".join(f"{k}={output.cell(v)}" for k, v in r["metrics"].items()),
        ]
        for r in rows
    ]
    print(output.table(["tid", "status", "elapsed", "step", "heartbeat", "metrics"], table_rows))
    return 0


def _heartbeat_age(trial: votakvot.Trial, now: float) -> float | None:
    """Seconds since the trial's `.heartbeat` file was last written (wall time), or None."""
    with contextlib.suppress(OSError, ValueError):
        return now - float(trial.store.read_bytes(trial.store.join(trial.folder, layout.HEARTBEAT)).decode().strip())
    return None


def rm(args: argparse.Namespace) -> int:
    before = None if args.before is None else select.moment(args.before, option="--before")
    chosen = votakvot.remove(
        args.path,
        status=args.status or None,
        before=before,
        dry_run=not args.yes,
        force=args.force,
        storage_options=args.options,
    )
    for trial in chosen:
        print(f"{'removed' if args.yes else 'would remove'}  {output.safe_text(trial.tid)}  {trial.status}")
    if not args.yes:
        print(f"{len(chosen)} trial(s) would be removed; nothing was removed. Pass --yes to remove them.")
    else:
        print(f"removed {len(chosen)} trial(s)")
    return 0
