"""The parent process: builds the stores, runs every job once per repetition in a fresh process,
aggregates the repetitions and prints the report (or, with --profile, the profiles).

It imports neither votakvot nor pandas: every measurement happens in a worker.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from time import perf_counter as perf

from _jobs import Job, plan, selects
from _render import WARN, fmt_number, render
from _runner import Runner, log, start_moto, stop_moto
from _settings import FULL_DEFAULTS, PLUGIN_GROUPS, QUICK_DEFAULTS
from _worker import find_docs, inside_git

# ======================================================================================
# orchestration
# ======================================================================================


def run_benchmark(args: argparse.Namespace) -> int:
    """Runs the selected jobs --reps times and prints the table; returns 1 when a job failed or did not verify."""
    mode = apply_mode(args)
    t_start = perf()
    base = make_workdir(args)
    builds, jobs = plan_run(args, base)
    runner = Runner(args, base)
    meta = run_metadata(args, mode, base, use_s3=any(j.group == "s3" for j in jobs))
    log(f"bench: {mode} mode, workdir {base}, python {sys.executable}")
    raw: list[dict] = []
    moto = None
    try:
        check_imports(runner, base)
        if meta["s3"]:
            moto, port = start_moto(base, args.s3_latency)
            runner.point_at_s3(port)
            log(f"moto server on 127.0.0.1:{port} (pid {moto.pid})")
        build_stores(runner, builds, meta)
        if args.profile:
            rc = profile_jobs(args, runner, jobs, base)
            if not args.keep and not args.workdir:
                shutil.rmtree(base, ignore_errors=True)
            return rc
        raw = measure(args, runner, jobs, meta)
    finally:
        if moto is not None:
            stop_moto(moto)
    agg = aggregate(raw)
    meta["total_s"] = perf() - t_start
    meta["load_end"] = load_average()
    print(render(meta, agg, args))
    if args.json:
        write_json(args, meta, agg, raw)
    rc = 1 if meta["errors"] or any(not r["verified"] for r in agg.values()) else 0
    if not args.keep and not args.workdir:
        shutil.rmtree(base, ignore_errors=True)
    elif args.keep:
        log(f"kept {base}")
    return rc


def apply_mode(args: argparse.Namespace) -> str:
    """Fills the sizes left unset from the mode and checks --reps; returns the mode's name.

    --profile runs its jobs once: it implies --reps 1, and --only (and --s3) for those jobs.
    """
    mode = "quick" if args.quick else "full"
    defaults = QUICK_DEFAULTS if args.quick else FULL_DEFAULTS
    for k, val in defaults.items():
        if getattr(args, k, None) is None:
            setattr(args, k, val)
    if args.profile:
        args.reps = 1
    if args.reps < 1:
        raise SystemExit("--reps must be >= 1")
    if args.reps < 3 and not args.profile:
        log(f"warning: --reps {args.reps} < 3; medians are not meaningful")
    if args.profile:
        args.only = args.profile
        if "s3" in args.profile:
            args.s3 = True
    return mode


def make_workdir(args: argparse.Namespace) -> str:
    """The absolute path of the run's scratch folder (--workdir, or a fresh temp folder)."""
    base = args.workdir or tempfile.mkdtemp(prefix="votakvot-bench-")
    os.makedirs(base, exist_ok=True)
    return os.path.abspath(base)


def plan_run(args: argparse.Namespace, base: str) -> tuple[list[Job], list[Job]]:
    """(builds, jobs) of this run; --profile keeps only the jobs it names, not the floors they bring."""
    builds, jobs = plan(args, base)
    if args.profile:
        wanted = [w.strip().lower() for w in args.profile.split(",")]
        jobs = [j for j in jobs if any(selects(w, j) for w in wanted)]
    return builds, jobs


def check_imports(runner: Runner, base: str) -> None:
    """Exits unless the workers' interpreter imports votakvot, pandas and yaml.

    It also compiles every module of votakvot (and of this folder) into the workers' bytecode
    cache, so that no row measures compilation (votakvot imports most of its modules lazily).
    """
    warm = (
        "import compileall, importlib.util, os, votakvot, pandas, yaml; "
        "compileall.compile_dir(os.path.dirname(importlib.util.find_spec('votakvot').origin), quiet=1); "
        f"compileall.compile_dir({os.path.dirname(os.path.abspath(__file__))!r}, quiet=1, maxlevels=0)"
    )
    probe = subprocess.run(
        [sys.executable, "-c", warm],
        capture_output=True,
        text=True,
        cwd=base,
        env=runner.env,
    )
    if probe.returncode:
        raise SystemExit(f"cannot import votakvot/pandas/yaml with {sys.executable}:\n{probe.stderr[-800:]}")


def build_stores(runner: Runner, builds: list[Job], meta: dict) -> None:
    """Builds each store once (untimed set-up), noting its build time and any error in `meta`."""
    for b in builds:
        if not b.store.startswith("s3://"):
            if runner.args.reuse_stores and os.path.isdir(b.store) and len(find_docs(b.store)) == b.n:
                meta["builds"].append(f"{b.n:,} trials on disk: reused from an earlier run (--reuse-stores)")
                continue
            os.makedirs(b.store, exist_ok=True)
        res = runner.run(b)
        for e in res.get("errors", []):
            meta["errors"].append(f"{b.key}@{b.n}: {e}")
        row = res.get("rows", {}).get("build")
        if row:
            meta["builds"].append(
                f"{b.n:,} trials {'on S3' if b.group == 's3' else 'on disk'} in "
                f"{row['value']:.1f} s" + ("" if row["verified"] else f" {WARN} {row['why']}")
            )


def measure(args: argparse.Namespace, runner: Runner, jobs: list[Job], meta: dict) -> list[dict]:
    """Runs every job once per repetition; returns one raw row per figure and repetition.

    Each repetition starts one job later in the list, to spread order effects; the workers' notes
    (once each) and errors go to `meta`.
    """
    raw: list[dict] = []
    for rep in range(args.reps):
        log(f"rep {rep + 1}/{args.reps}")
        k = rep % len(jobs) if jobs else 0
        for job in jobs[k:] + jobs[:k]:
            res = runner.run(job)
            for key, row in res.get("rows", {}).items():
                raw.append(dict(row, job=job.id, key=key, rep=rep))
            for n in res.get("notes", []):
                if n not in meta["notes"]:
                    meta["notes"].append(n)
            for e in res.get("errors", []):
                meta["errors"].append(f"{job.id} rep {rep + 1}: {e}")
    return raw


def aggregate(raw: list[dict]) -> dict[str, dict]:
    """raw rows (job id, row key, rep, value...) -> {"jobid:rowkey": median, min, max and the extras}."""
    groups: dict[str, list[dict]] = {}
    for r in raw:
        groups.setdefault(f"{r['job']}:{r['key']}", []).append(r)
    agg = {}
    for k, rs in groups.items():
        vals = [r["value"] for r in rs]
        row = dict(
            median=statistics.median(vals),
            min=min(vals),
            max=max(vals),
            values=vals,
            unit=rs[0]["unit"],
            verified=all(r.get("verified", True) for r in rs),
            why=sorted({r["why"] for r in rs if r.get("why")}),
            n=rs[0].get("n"),
        )
        for extra in (
            "first",
            "rss_imports",
            "rss_after_warm",
            "reads_s",
            "columns",
            "yaml_bytes",
            "dumper",
            "requests",
            "at_start",
            "operations",
            "rtt_ms",
        ):
            xs = [r[extra] for r in rs if r.get(extra) is not None]
            if xs:
                row[extra] = statistics.median(xs) if isinstance(xs[0], (int, float)) else xs[0]
        agg[k] = row
    return agg


def write_json(args: argparse.Namespace, meta: dict, agg: dict, raw: list[dict]) -> None:
    """Writes --json: the run's metadata and options, the aggregates and every raw number."""
    with open(args.json, "w") as f:
        json.dump(
            {
                "meta": meta,
                "args": {k: v for k, v in vars(args).items() if not k.startswith("worker")},
                "results": agg,
                "raw": raw,
            },
            f,
            indent=1,
            default=str,
        )


def profile_jobs(args: argparse.Namespace, runner: Runner, jobs: list[Job], base: str) -> int:
    """Runs each job once under cProfile (timed region only) and prints its figures and top functions."""
    import pstats

    for job in jobs:
        if job.module:
            continue
        out = os.path.join(base, f"{job.key}-{job.n}.prof")
        res = runner.run(job, profile_out=out)
        print(f"\n### cProfile of {job.id} (timed region only; floors: last try)\n")
        for key, row in res.get("rows", {}).items():
            mark = "" if row["verified"] else f" {WARN} {row.get('why')}"
            print(f"- {key}: {fmt_number(row['value'])} {row['unit']} (under the profiler){mark}")
        if res.get("errors"):
            print(f"- errors: {res['errors']}")
        if not os.path.exists(out):
            continue
        for order in ("tottime", "cumulative"):
            print(f"\n```\n# sorted by {order}")
            st = pstats.Stats(out, stream=sys.stdout)
            st.strip_dirs().sort_stats(order).print_stats(args.profile_top)
            print("```")
    return 0


# ======================================================================================
# run metadata: what the report's header records
# ======================================================================================


def run_metadata(args: argparse.Namespace, mode: str, base: str, *, use_s3: bool) -> dict:
    """The machine, versions, plug-ins and load at the start of the run; notes and errors are added later."""
    meta = dict(
        date=_dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        mode=mode,
        python=platform.python_version(),
        machine=machine(),
        versions=versions(),
        source=source_state(),
        workdir=base,
        notes=[],
        errors=[],
        builds=[],
        s3=use_s3,
        plugins=plugin_entry_points(),
        load=load_average(),
    )
    meta["git"] = git_version()
    meta["libyaml"] = libyaml_in_use()
    if inside_git(base):
        meta["notes"].append(f"the scratch folder {base} is inside a git repository: the no-git rows are not git-free")
    return meta


def load_average() -> float | None:
    """The 1-minute load average, where the platform has one."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def machine() -> str:
    """OS, release, cores and CPU model."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    cpu = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} cores ({cpu})"


def versions() -> dict:
    """The installed version of each distribution the figures depend on (None when missing)."""
    from importlib import metadata

    out = {}
    for d in ("votakvot", "PyYAML", "pandas", "fsspec", "psutil", "GitPython", "s3fs", "moto"):
        try:
            out[d] = metadata.version(d)
        except Exception:
            out[d] = None
    return out


def source_state() -> str:
    """The commit of the votakvot checkout the workers import (this one, or the one `PYTHONPATH`
    names), and whether it has local edits."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0")  # read-only: never refresh the index
    find = "import importlib.util, os; print(os.path.dirname(importlib.util.find_spec('votakvot').origin))"
    try:
        found = subprocess.run([sys.executable, "-c", find], capture_output=True, text=True, timeout=60)
        if found.returncode == 0 and found.stdout.strip():
            here = found.stdout.strip()
    except Exception:
        pass
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=here, env=env, capture_output=True, text=True, timeout=30
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "."],
            cwd=here,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
    except Exception:
        return "unknown"
    if not sha:
        return "not a git checkout"
    return f"{sha}{' + uncommitted changes in src/' if dirty else ''}"


def git_version() -> str:
    """`git --version`, or a note that git is missing."""
    try:
        return subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "git: not found"


def libyaml_in_use() -> bool | None:
    """Whether PyYAML comes with libyaml's C loader and dumper (None without PyYAML).

    The parent imports yaml only for this; it never imports votakvot.
    """
    try:
        import yaml
    except ImportError:
        return None
    return bool(getattr(yaml, "__with_libyaml__", False)) and hasattr(yaml, "CSafeLoader")


def plugin_entry_points() -> dict[str, list[tuple[str, str]]]:
    """{group: [(entry point name, distribution)]} of every installed votakvot plug-in."""
    from importlib.metadata import entry_points

    out: dict[str, list[tuple[str, str]]] = {}
    for group in PLUGIN_GROUPS:
        for ep in entry_points(group=group):
            dist = ep.dist.name if getattr(ep, "dist", None) is not None else "?"
            out.setdefault(group, []).append((ep.name, dist))
    return out
