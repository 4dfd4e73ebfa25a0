"""The markdown report: a header on the run, one table row per figure (votakvot, its floor, the ratio,
the target from issue 5), and the footnotes."""

from __future__ import annotations

import argparse
import os
import sys

from _settings import FLOOR_TRIES, GIT_FILES, PLUGIN_GROUPS

# Non-ASCII output characters, spelled as escapes so the source stays plain ASCII.
TIMES = "\u00d7"
DASH = "\u2013"
MICRO = "\u00b5"
WARN = "\u26a0"
OK = "\u2713"
MISS = "\u2717"
LE = "\u2264"

TABLE_HEAD = [f"| workload | votakvot | floor | {TIMES} floor | target |", "|---|---:|---:|---:|---|"]


def render(meta: dict, agg: dict, args: argparse.Namespace) -> str:
    """The whole report for the aggregated results `agg` (rows of jobs that did not run are left out)."""
    table = Table(agg)
    _w1_rows(table, args)
    _first_call_rows(table, args)
    _w2_rows(table, args)
    for n, big in _w3_sizes(args):
        _w3_rows(table, n, big)
    _w5_rows(table, args)
    _import_rows(table)
    _s3_rows(table, args)
    notes = _footnotes(table, meta, args)
    return "\n".join(
        [
            *_header(meta, args),
            "",
            *TABLE_HEAD,
            *table.lines,
            "",
            *(f"- {n}" for n in notes),
            f"- Total wall time: {meta['total_s']:.0f} s.",
        ]
    )


# ======================================================================================
# numbers and cells
# ======================================================================================


def fmt_number(x: float | None) -> str:
    """A figure with about three significant digits (thousands separated), or a dash for none."""
    if x is None:
        return DASH
    ax = abs(x)
    if ax >= 100:
        return f"{x:,.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 1:
        return f"{x:.2f}"
    if ax >= 0.01:
        return f"{x:.3f}"
    if ax == 0:
        return "0"
    return f"{x:.2g}"


def ratio(x: dict | None, floor: dict | None) -> float | None:
    """The ratio of the medians, when both figures exist and the floor's is not zero."""
    if x is None or floor is None or not floor["median"]:
        return None
    return x["median"] / floor["median"]


def fmt_ratio(q: float | None) -> str:
    """A ratio as "1.23" and the times sign (fewer decimals as it grows), or a dash for none."""
    if q is None:
        return DASH
    return f"{q:,.0f}{TIMES}" if q >= 100 else (f"{q:.1f}{TIMES}" if q >= 10 else f"{q:.2f}{TIMES}")


def target_cell(limit: float | None, q: float | None, text: str | None = None) -> str:
    """The target column: `text` (by default "<= limit" and the times sign), checked or crossed when a
    limit and a ratio exist."""
    t = text or f"{LE} {limit:g}{TIMES}"
    if limit is None or q is None:
        return t
    return f"{t} {OK if q <= limit else MISS}"


class Table:
    """The rows rendered so far, and the footnotes their unverified figures call for."""

    def __init__(self, agg: dict) -> None:
        self.agg = agg
        self.lines: list[str] = []
        self.footnotes: list[str] = []
        self._label = ""  # the start of the row being rendered, which names it in a footnote

    def get(self, job: str, n: int | None, key: str = "value") -> dict | None:
        """The aggregate of figure `key` of job `job` at size `n` (None: not run)."""
        return self.agg.get(f"{job}@{n}:{key}" if n else f"{job}:{key}")

    def cell(self, r: dict | None, suffix: str = "") -> str:
        """The cell of a figure, "median (min-max)", marked with a warning and a footnote when it did not verify."""
        if r is None:
            return DASH
        s = f"{fmt_number(r['median'])} ({fmt_number(r['min'])}{DASH}{fmt_number(r['max'])}){suffix}"
        if not r["verified"]:
            s += f" {WARN}"
            self.footnotes.append(f"{WARN} {self._label}: {'; '.join(r['why']) or 'not verified'}")
        return s

    def add(
        self,
        label: str,
        vk: dict | None,
        fl: dict | None,
        limit: float | None = None,
        *,
        target: str | None = None,
        vk_suffix: str = "",
        fl_suffix: str = "",
        vk_cell: str | None = None,
        fl_cell: str | None = None,
        show_ratio: bool = True,
    ) -> None:
        """Adds the row `label` for votakvot's figure `vk` against the floor `fl`, with the ratio checked
        against `limit` (or the text `target`); a row whose job did not run (--only) is left out."""
        if vk is None and (fl is None or vk_cell is None):
            return
        self._label = label.split(f" {DASH} ")[0]
        q = ratio(vk, fl)
        vc = vk_cell if vk_cell is not None else self.cell(vk, suffix=vk_suffix if vk else "")
        fc = fl_cell if fl_cell is not None else self.cell(fl, suffix=fl_suffix if fl else "")
        shown = fmt_ratio(q) if show_ratio else DASH
        self.lines.append(f"| {label} | {vc} | {fc} | {shown} | {target_cell(limit, q, target)} |")


# ======================================================================================
# header
# ======================================================================================


def _header(meta: dict, args: argparse.Namespace) -> list[str]:
    """The title and what the run was: machine, versions, plug-ins, load and settings."""
    lines = [
        f"## votakvot benchmark {DASH} {meta['date']} ({meta['mode']} mode)",
        "",
        f"- Machine: {meta['machine']}",
        f"- Python {meta['python']} ({sys.executable})",
        _versions_line(meta),
        _plugins_line(meta, args),
    ]
    load = _load_line(meta)
    if load:
        lines.append(load)
    lines.append(_settings_line(meta, args))
    return lines


def _versions_line(meta: dict) -> str:
    """The versions the figures depend on, and whether PyYAML has libyaml (the floors need it)."""
    v = meta["versions"]
    libyaml = "yes, CSafeDumper/CSafeLoader" if meta["libyaml"] else "NO: pure-Python PyYAML, floors are slow"
    return (
        f"- Versions: votakvot {v.get('votakvot')} (source {meta['source']}), PyYAML {v.get('PyYAML')} "
        f"(libyaml: {libyaml}), pandas {v.get('pandas')}, fsspec {v.get('fsspec')}, psutil {v.get('psutil')}, "
        f"GitPython {v.get('GitPython')}, {meta['git']}"
        + (f", s3fs {v.get('s3fs')}, moto {v.get('moto')}" if meta.get("s3") else "")
    )


def _plugins_line(meta: dict, args: argparse.Namespace) -> str:
    """Which plug-ins the trials used: votakvot's own, and the third-party ones left out or included."""
    eps = meta.get("plugins", {})
    own = {g: [n for n, dist in eps.get(g, []) if dist == "votakvot"] for g in PLUGIN_GROUPS}
    other = sorted(
        {f"{n} ({dist}, {g.split('.')[-1]})" for g in PLUGIN_GROUPS for n, dist in eps.get(g, []) if dist != "votakvot"}
    )
    if args.plugins == "builtin":
        return (
            f"- Plug-ins: built-in only (meta providers {', '.join(own['votakvot.meta_providers']) or '?'}; "
            f"sinks {', '.join(own['votakvot.sinks']) or '?'})"
            + (f"; installed but left out: {', '.join(other)} (`--plugins installed` includes them)" if other else "")
        )
    return (
        f"- Plug-ins: every installed one (built-in: {', '.join(own['votakvot.meta_providers'])} / "
        f"{', '.join(own['votakvot.sinks'])}; third-party: {', '.join(other) or 'none'})"
    )


def _load_line(meta: dict) -> str | None:
    """The load average at start and end, with a warning when other processes kept the CPUs busy."""
    la, lb = meta.get("load"), meta.get("load_end")
    if la is None or lb is None:
        return None
    busy = max(la, lb or 0) > 0.5 * (os.cpu_count() or 1)
    return f"- Load average (1 min) at start / end: {la:.2f} / {lb:.2f}" + (
        f" {WARN} other processes were busy during the run: expect noise, compare medians with care" if busy else ""
    )


def _settings_line(meta: dict, args: argparse.Namespace) -> str:
    """The sizes, repetitions and method choices the figures were measured with."""
    return (
        f"- Settings: reps={args.reps} (median, min{DASH}max over fresh processes), W1 trials={args.runs}, "
        f"W2 points={args.points:,}, W3 trials={args.report:,} and {args.report_large:,}"
        + (f" and {args.report_huge:,} (votakvot only)" if args.report_huge else "")
        + (f", S3 trials={args.s3_trials:,}" if meta.get("s3") else "")
        + f"; floors: best of {FLOOR_TRIES} in-process tries; git repo for W1: {GIT_FILES} committed files; "
        + (
            "W1/W2 include the process's first trial (--no-warmup)"
            if args.no_warmup
            else "W1/W2 run one untimed warm-up trial first"
        )
    )


# ======================================================================================
# table rows, one function per workload
# ======================================================================================


def _w1_rows(table: Table, args: argparse.Namespace) -> None:
    """W1, ms/trial: `@track()` and `with trial()`, without and with git, against W4a."""
    n = args.runs
    w4a = table.get("w1.floor", n)
    for key, what, git, limit in (
        ("w1.track.nogit", "`@track()` call", "no git", 2.5),
        ("w1.trial.nogit", "`with trial(...)`", "no git", 2.5),
        ("w1.track.git", "`@track()` call", f"git repo, {GIT_FILES} files", 4.0),
        ("w1.trial.git", "`with trial(...)`", f"git repo, {GIT_FILES} files", 4.0),
    ):
        table.add(f"W1 {what}, {git} {DASH} ms/trial ({n} trials; floor W4a)", table.get(key, n), w4a, limit)


def _first_call_rows(table: Table, args: argparse.Namespace) -> None:
    """The W1 workers' untimed warm-up trial: a fresh process's one-time costs, without and with git,
    against `import yaml` (issue 13: at most twice that outside a repository)."""
    n = args.runs
    iy = table.get("import.yaml", None)
    for key, git, limit in (
        ("w1.track.nogit", "no git", 2.0),
        ("w1.track.git", f"git repo, {GIT_FILES} files", None),
    ):
        table.add(
            f"first `@track()` call of a fresh process, {git} (one-time costs, outside the W1 clock) {DASH} ms "
            "(reference: `import yaml`)",
            table.get(key, n, "first"),
            iy,
            limit,
            target=None if limit else DASH,
        )


def _w2_rows(table: Table, args: argparse.Namespace) -> None:
    """W2, us/point: `meter()` of 1 and 3 values against W4c, and the bare list.append reference."""
    n = args.points
    for key, floor_key, what in (
        ("w2.meter1", "value1", "`meter(loss=x)`"),
        ("w2.meter3", "value3", "`meter(loss=x, acc=y, lr=z)`"),
    ):
        table.add(
            f"W2 {what} {DASH} {MICRO}s/point ({n:,} points, flush incl.; floor W4c)",
            table.get(key, n),
            table.get("w2.floor", n, floor_key),
            1.25,
        )
    bare = table.get("w2.floor", n, "dict")
    if bare is not None:
        table.add(
            f"W2 reference: bare `list.append({{'loss': x}})` {DASH} {MICRO}s/point",
            None,
            bare,
            target=DASH,
            vk_cell=DASH,
            show_ratio=False,
        )


# The peers' W3 figures this table aims at (issue 13): Trackio reads 2,000 runs from its SQLite
# file in 0.028 s, Sacred parses 2,000 JSON runs in 0.183 s (one run of ../shared/bench/peers.py).
TRACKIO_W3_S = 0.028
SACRED_W3_S = 0.183


def _w3_sizes(args: argparse.Namespace) -> list[tuple[int, bool]]:
    """(trials, whether the size is a large one) of each W3 store: regular, large and, if asked, huge."""
    sizes = [(args.report, False), (args.report_large, True), (args.report_huge, True)]
    return [(n, big) for n, big in sizes if n]


def _w3_rows(table: Table, n: int, big: bool) -> None:
    """W3 at n trials: cold, first indexed and warm loads against W4b, and the peak RSS at a large size."""
    vk, fl = table.get("w3.vk", n, "cold"), table.get("w3.floor", n)
    rps = f" {DASH} {n / vk['median']:,.0f}/s" if vk else ""
    frps = f" {DASH} {n / fl['median']:,.0f}/s" if fl else ""
    table.add(
        f"W3 `load_report` cold (1st call, fresh process, no index) {DASH} s ({n:,} trials; floor W4b)",
        vk,
        fl,
        1.1,
        vk_suffix=rps,
        fl_suffix=frps,
    )
    first = table.get("w3.first", n)
    if first is not None:
        limit = SACRED_W3_S * n / 2000
        ok = OK if first["median"] <= limit else MISS
        table.add(
            f"W3 `load_report` first load ever (1st call, fresh process, no index anywhere: parses all, writes "
            f"the local index and a piece of the shared one) {DASH} s ({n:,} trials)",
            first,
            fl,
            target=f"{LE} {fmt_number(limit)} s (Sacred's 0.183 s per 2,000{', pro rata' if n != 2000 else ''}) {ok}",
        )
    warm = table.get("w3.vk", n, "warm")
    if warm is not None:
        _w3_warm_row(table, n, big, warm, fl)
    shared = table.get("w3.shared", n)
    if shared is not None:
        _w3_shared_row(table, n, shared, warm, fl)
    if big:
        _w3_rss_row(table, n)
        _w3_heap_row(table, n)


def _w3_shared_row(table: Table, n: int, shared: dict, warm: dict | None, fl: dict | None) -> None:
    """A new machine: empty local cache, another reader's pieces in the store; against Trackio's
    0.028 s per 2,000 runs (its SQLite file), and as a multiple of the local index's warm load."""
    limit = TRACKIO_W3_S * n / 2000
    ok = OK if shared["median"] <= limit else MISS
    versus = f"; {fmt_ratio(shared['median'] / warm['median'])} the warm load" if warm else ""
    table.add(
        f"W3 `load_report` new machine (1st call, fresh process, empty local cache, pieces another reader "
        f"left in the store) {DASH} s ({n:,} trials)",
        shared,
        fl,
        target=f"{LE} {fmt_number(limit)} s (Trackio's 0.028 s per 2,000{', pro rata' if n != 2000 else ''}) "
        f"{ok}{versus}",
    )


def _w3_heap_row(table: Table, n: int) -> None:
    """The peak of the Python heap (tracemalloc) during one warm load at a large size."""
    heap = table.get("w3.vk", n, "heap")
    if heap is not None:
        table.add(
            f"W3 peak traced memory (tracemalloc) during one warm load {DASH} MiB ({n:,} trials)",
            heap,
            None,
            target=DASH,
            show_ratio=False,
        )


def _w3_warm_row(table: Table, n: int, big: bool, warm: dict, fl: dict | None) -> None:
    """The warm load against its absolute target: 0.05 s per 2,000 trials, 0.5 s per 100,000 at large sizes."""
    per = 0.05 / 2000 if not big else 0.5 / 100_000
    lim = per * n
    ref = "0.05 s per 2,000" if not big else "0.5 s per 100,000"
    txt = f"{LE} {fmt_number(lim)} s" + ("" if (n == 2000 and not big) else f" ({ref}, pro rata)")
    ok = OK if warm["median"] <= lim else MISS
    table.add(
        f"W3 `load_report` warm (index present, nothing changed) {DASH} s ({n:,} trials; floor W4b)",
        warm,
        fl,
        target=f"{txt} {ok}",
    )


def _w3_rss_row(table: Table, n: int) -> None:
    """Peak RSS after the cold load, against 100,000 trials under 1 GiB (extrapolated linearly below that)."""
    rv, rf = table.get("w3.vk", n, "rss"), table.get("w3.floor", n, "rss")
    if rv is None:
        return
    base_mib = rv.get("rss_imports", 0.0)
    est = base_mib + (rv["median"] - base_mib) * 100_000 / n
    how = "measured" if n == 100_000 else "linear est."
    ok = OK if est <= 1024 else MISS
    table.add(
        f"W3 peak RSS of the loading process after the cold load {DASH} MiB ({n:,} trials)",
        rv,
        rf,
        vk_suffix=f" [imports {fmt_number(base_mib)}]",
        fl_suffix=f" [imports {fmt_number(rf.get('rss_imports'))}]" if rf else "",
        target=f"100k trials < 1 GiB: {how} {est:,.0f} MiB {ok}",
    )


def _w5_rows(table: Table, args: argparse.Namespace) -> None:
    """W5, s: `load_metrics` of n trials x 1,000 rows against the pyarrow floor (issue 13: at most
    1x) and the pandas floor."""
    n = args.w5_trials
    vk, again = table.get("w5.vk", n), table.get("w5.vk", n, "again")
    what = f"{n:,} trials {TIMES} 1,000 rows {TIMES} 2 metrics"
    arrow, pandas = table.get("w5.floor", n, "pyarrow"), table.get("w5.floor", n, "pandas")
    table.add(f"W5 `load_metrics` first call {DASH} s ({what}; floor: pyarrow per file + concat)", vk, arrow, 1.0)
    table.add(f"W5 `load_metrics` first call {DASH} s ({what}; floor: pandas per file + concat)", vk, pandas, 1.0)
    table.add(f"W5 `load_metrics` second call {DASH} s ({what}; floor: pandas per file + concat)", again, pandas, 1.0)


def _import_rows(table: Table) -> None:
    """`import votakvot` in ms, against `import pandas` and, as a reference, `import yaml`."""
    iv, ip, iy = table.get("import.votakvot", None), table.get("import.pandas", None), table.get("import.yaml", None)
    table.add(f"import votakvot {DASH} ms (floor: `import pandas`)", iv, ip, 0.4)
    if iy is not None:
        table.add(f"import votakvot {DASH} ms (reference: `import yaml`)", iv, iy, target=DASH)


def _s3_rows(table: Table, args: argparse.Namespace) -> None:
    """S3: votakvot's loads against the one-at-a-time floor (issue 13: cold <= 2 s, warm <= 0.3 s
    per 2,000 trials), and a tracked task on S3 against the same task on the local disk."""
    n = args.s3_trials
    ss = table.get("s3.seq", n)
    lat = f", +{args.s3_latency:g} ms/request" if args.s3_latency else ", no added latency"
    floor = "floor: one-at-a-time `cat_file` loop + CSafeLoader + json_normalize"
    per = n / 2000
    loads = (
        ("s3.first", "value", "with no index anywhere (every document fetched)", None),
        ("s3.cold", "value", "cold: first load, empty local cache, the writer's pieces in the store", 2.0),
        ("s3.vk", "value", "new machine: empty local cache, a reader's pieces in the store", 2.0),
        ("s3.vk", "warm", "warm (second call)", 0.3),
    )
    for job, key, what, target_s in loads:
        vk = table.get(job, n, key)
        if target_s is None:
            table.add(f"S3 (moto{lat}) `load_report` {what} {DASH} s ({n:,} trials; {floor})", vk, ss, target=DASH)
            continue
        limit = target_s * per
        met = "" if vk is None else f" {OK if vk['median'] <= limit else MISS}"
        table.add(
            f"S3 (moto{lat}) `load_report` {what} {DASH} s ({n:,} trials; {floor})",
            vk,
            ss,
            target=f"{LE} {fmt_number(limit)} s{met}",
        )
    for job, what in (("s3.task", "5 params and a result"), ("s3.metered", "5 params, 10 metric points, a result")):
        task, local = table.get(job, args.s3_tasks), table.get(f"{job}.local", args.s3_tasks)
        if task is None:
            continue
        rtt = task.get("rtt_ms")
        limit_ms = 2 * local["median"] + rtt if local and rtt is not None else None
        met = f" {OK if task['median'] <= limit_ms else MISS}" if limit_ms is not None else ""
        table.add(
            f"S3 (moto{lat}) tracked task {DASH} median ms/task ({args.s3_tasks:,} in a row, each {what}, "
            f"{fmt_number(task.get('requests'))} requests; floor: the same task on the local disk)",
            task,
            local,
            target=f"{LE} 2{TIMES} disk + 1 round trip ({fmt_number(rtt)} ms, one 1 KB PUT) = "
            f"{fmt_number(limit_ms)} ms{met}",
        )


# ======================================================================================
# footnotes
# ======================================================================================


def _footnotes(table: Table, meta: dict, args: argparse.Namespace) -> list[str]:
    """What the floors are, the store builds, the unverified figures, the workers' notes and errors."""
    notes = _floor_notes(table, args)
    s3 = _s3_note(table, args)
    if s3:
        notes.append(s3)
    notes += [f"store build (untimed set-up): {b}" for b in meta.get("builds", [])]
    notes += sorted(set(table.footnotes))
    notes += meta["notes"]
    notes += [f"ERROR: {e}" for e in meta["errors"]]
    return notes


def _floor_notes(table: Table, args: argparse.Namespace) -> list[str]:
    """What each floor does (when W1's ran), and W4b's first (cold) try beside the best of the tries."""
    notes = []
    w4a = table.get("w1.floor", args.runs)
    if w4a:
        notes.append(
            f"W4a = makedirs(uuid) + yaml.dump({w4a.get('dumper', 'CSafeDumper')}) of a "
            f"{w4a.get('yaml_bytes', '~1000')} B document + os.replace (peers.py's floor); "
            f"W4c = list.append((step, time.time(), x...)) + one csv.writerows; W4b = scandir walk + "
            f"yaml.load(CSafeLoader) of the same votakvot.yaml files + pandas.json_normalize."
        )
    for n in (args.report, args.report_large):
        fl = table.get("w3.floor", n)
        if fl and fl.get("first"):
            vk = table.get("w3.vk", n, "cold")
            vs = f"; votakvot's cold load is {fmt_ratio(vk['median'] / fl['first'])} that" if vk else ""
            notes.append(
                f"W4b first try (cold) at {n:,} trials: {fmt_number(fl['first'])} s (the floor column is the "
                f"best of {FLOOR_TRIES}{vs})."
            )
    return notes


def _s3_note(table: Table, args: argparse.Namespace) -> str | None:
    """The requests of a tracked task on S3, how long the S3 floor's read loop alone took, and why
    concurrency gains little without latency."""
    task = table.get("s3.metered", args.s3_tasks) or table.get("s3.task", args.s3_tasks)
    requests = ""
    if task and task.get("requests") is not None:
        requests = (
            f"S3 tracked tasks: {fmt_number(task['at_start'])} requests before the body runs; at the end the "
            "files (metric part, document) go out together, one round trip "
            f"({', '.join(task.get('operations') or [])}). "
        )
    ss = table.get("s3.seq", args.s3_trials)
    if not (ss and ss.get("reads_s")):
        return requests.strip() or None
    return (
        requests
        + f"S3 one-at-a-time: the cat_file loop alone took {fmt_number(ss['reads_s'])} s."
        + (
            ""
            if args.s3_latency
            else " The moto server answers from one Python process, so with no "
            "added latency its CPU, not waiting, bounds what concurrent reads can gain; "
            "`--s3-latency 20` adds a remote-like wait per request."
        )
    )
