#!/usr/bin/env python3
"""The look at scale: `votakvot ls`, `votakvot report` and the report page in Chromium, on a root
of many trials with metrics. Prints one markdown table (progress on stderr).

    python bench/look.py                     # 10,000 trials of 100 steps x 2 metrics (~3 min)
    python bench/look.py --trials 2000       # smaller
    python bench/look.py --root /tmp/look10k # keep the root between runs (it is made once)

Every command runs as a real subprocess (`python -m votakvot ...`), medians of --reps runs with
min-max. "cold" runs with an empty report index (a fresh VOTAKVOT_CACHE_DIR), "warm" with the
index the previous run left. The page is opened from the file in headless Chromium (Debian's
/usr/bin/chromium, driven by Playwright), a fresh browser per run; first paint and first
contentful paint are the browser's own paint timings, "table shown" is the page's mark when it
has put the first rows of the table in the DOM, "charts ready" is DOMContentLoaded (plotly.js
parsed and run), all from the start of navigation. Needs the `test` extra (plotly, playwright).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    *("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"),
    *("--disable-background-networking", "--disable-component-update", "--disable-sync"),
]


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def make_root(root: str, trials: int, steps: int) -> None:
    """Writes `trials` trials of a small grid, each metering `steps` rows of loss and acc, a few
    failed; skipped when the root already holds them (a marker file says how it was made)."""
    marker = os.path.join(root, f".made-{trials}-{steps}")
    if os.path.exists(marker):
        return
    shutil.rmtree(root, ignore_errors=True)
    code = f"""
import random, votakvot
votakvot.init(path={root!r}, meta_providers={{}})
for i in range({trials}):
    rng = random.Random(i)
    lr, depth = rng.choice([0.001, 0.003, 0.01, 0.03, 0.1]), rng.choice([2, 4, 8])
    opt = rng.choice(["adam", "sgd"])
    try:
        with votakvot.trial("grid", lr=lr, depth=depth, opt=opt, seed=i) as t:
            loss = 2.0
            for step in range({steps}):
                loss *= 1 - lr * rng.random()
                t.meter(loss=loss, acc=1 - loss / 2)
            if i % 97 == 0:
                raise RuntimeError("diverged")
            t.inform(epochs=3)
            t.result = {{"acc": 1 - loss / 2, "loss": loss}}
    except RuntimeError:
        pass
"""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    open(marker, "w").close()
    log(f"made {trials} trials in {root} in {time.perf_counter() - started:.0f} s")


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "votakvot", *args], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def spread(values: list[float], unit: str = "s", scale: float = 1.0) -> str:
    values = [v * scale for v in values]
    digits = 0 if unit == "ms" else 2
    median = statistics.median(values)
    return f"{median:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f}) {unit}"


def cli_rows(root: str, reps: int, work: str) -> list[tuple[str, str]]:
    env = {**os.environ, "COLUMNS": "200"}
    cold, warm, report_cold, report_warm = [], [], [], []
    page = os.path.join(work, "report.html")
    for rep in range(reps):
        env["VOTAKVOT_CACHE_DIR"] = os.path.join(work, f"cache-ls-{rep}")
        cold.append(timed(["ls", root], env))
        warm.append(timed(["ls", root], env))
        env["VOTAKVOT_CACHE_DIR"] = os.path.join(work, f"cache-report-{rep}")
        report_cold.append(timed(["report", root, "-o", page], env))
        report_warm.append(timed(["report", root, "-o", page], env))
        log(f"rep {rep + 1}: ls {cold[-1]:.2f}/{warm[-1]:.2f} s, report {report_cold[-1]:.2f}/{report_warm[-1]:.2f} s")
    return [
        ("`votakvot ls` cold (empty index)", spread(cold)),
        ("`votakvot ls` warm (index, nothing changed)", spread(warm)),
        ("`votakvot report` cold (empty index)", spread(report_cold)),
        ("`votakvot report` warm", spread(report_warm)),
        ("report file size", f"{os.path.getsize(page) / 2**20:.1f} MiB"),
    ]


def ui_rows(root: str, reps: int, work: str) -> list[tuple[str, str]]:
    """`votakvot ui` on the root: the time of one poll for changes when nothing changed (a reload
    through the report index), and of the first page."""
    import json
    import urllib.request

    env = {**os.environ, "VOTAKVOT_CACHE_DIR": os.path.join(work, "cache-ls-0")}
    command = [sys.executable, "-m", "votakvot", "ui", root, "--port", "0"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline() if server.stdout else ""
        url = line.split(" at ", 1)[1].split(" ", 1)[0]
        started = time.perf_counter()
        with urllib.request.urlopen(url) as answer:
            size = len(answer.read())
        first_page = time.perf_counter() - started
        with urllib.request.urlopen(url + "api/trials?after=0") as answer:
            generation = json.load(answer)["generation"]
        polls = []
        for _ in range(max(reps, 5)):
            time.sleep(0.6)  # past the server's shortest time between reloads
            started = time.perf_counter()
            with urllib.request.urlopen(f"{url}api/trials?after={generation}") as answer:
                assert json.load(answer)["trials"] == []
            polls.append(time.perf_counter() - started)
        log(f"ui: first page {first_page:.2f} s ({size / 2**20:.1f} MiB), polls {polls}")
    finally:
        server.terminate()
        server.wait()
    return [
        ("`votakvot ui`: the page (warm index)", f"{first_page:.2f} s, {size / 2**20:.1f} MiB"),
        ("`votakvot ui`: one poll, nothing changed (reload through the index)", spread(polls, "ms", 1000)),
    ]


def browser_rows(page: str, reps: int) -> list[tuple[str, str]]:
    from playwright.sync_api import sync_playwright

    marks: dict[str, list[float]] = {"first-paint": [], "first-contentful-paint": [], "table": [], "ready": []}
    with sync_playwright() as p:
        for rep in range(reps):
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            tab.goto("file://" + os.path.abspath(page), wait_until="load")
            tab.wait_for_function("performance.getEntriesByName('votakvot-table-shown').length > 0")
            got = tab.evaluate(
                """() => {
                  const out = {};
                  for (const e of performance.getEntriesByType('paint')) out[e.name] = e.startTime;
                  out.table = performance.getEntriesByName('votakvot-table-shown')[0].startTime;
                  out.ready = performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd;
                  out.rows = document.querySelectorAll('#trials tbody tr.row').length;
                  return out;
                }"""
            )
            for key in marks:
                marks[key].append(got[key])
            timings = ", ".join(f"{k} {got[k]:.0f} ms" for k in marks)
            log(f"rep {rep + 1}: {timings}, {got['rows']} rows in the DOM")
            browser.close()
    return [
        ("page: first paint (Chromium)", spread(marks["first-paint"], "ms")),
        ("page: first contentful paint", spread(marks["first-contentful-paint"], "ms")),
        ("page: first table rows in the DOM", spread(marks["table"], "ms")),
        ("page: charts ready (plotly.js run, DOMContentLoaded)", spread(marks["ready"], "ms")),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--root", help="where the trials are written (kept); default: a temporary folder")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="votakvot-look-")
    root = args.root or os.path.join(work, "root")
    try:
        make_root(root, args.trials, args.steps)
        rows = cli_rows(root, args.reps, work)
        rows += browser_rows(os.path.join(work, "report.html"), args.reps)
        rows += ui_rows(root, args.reps, work)
    finally:
        if args.root is None:
            shutil.rmtree(root, ignore_errors=True)
    print(f"{args.trials:,} trials, {args.steps} steps x 2 metrics each; medians of {args.reps} (min-max)\n")
    print("| measure | value |\n|---|---:|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
