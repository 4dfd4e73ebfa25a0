"""`votakvot ui`: the live dashboard's server, run as the real command, and the live page in Chromium."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from urllib.parse import quote, urlsplit

import pytest

import browser
import votakvot
from conftest import SRC, run_python, wait_until
from test_report_page import HOSTILE_VALUE, make_root

pytestmark = pytest.mark.slow
SECRET = "root:x:0:0:secret-line"


class Dashboard:
    """A `votakvot ui` subprocess and what it printed."""

    def __init__(self, root: str, *args: str, cache: str) -> None:
        env = {**os.environ, "PYTHONPATH": SRC, "VOTAKVOT_CACHE_DIR": cache}
        command = [sys.executable, "-m", "votakvot", "ui", root, "--port", "0", "--poll", "0.3", *args]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.errors: list[str] = []
        threading.Thread(target=self._read, args=(self.process.stdout, self.lines), daemon=True).start()
        threading.Thread(target=self._read, args=(self.process.stderr, self.errors), daemon=True).start()
        ready = wait_until(lambda: [line for line in self.lines if "http://" in line], timeout=60)
        assert ready, f"no URL printed; stderr: {self.errors}"
        self.url = ready[0].split(" at ", 1)[1].split(" ", 1)[0]
        self.port = urlsplit(self.url).port

    @staticmethod
    def _read(stream, into: list[str]) -> None:
        for line in stream:
            into.append(line.rstrip("\n"))

    def get(self, target: str, *, host: str | None = None) -> tuple[int, bytes]:
        """Sends `target` exactly as written (no normalisation) and returns status and body."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.putrequest("GET", target, skip_host=True)
            connection.putheader("Host", host or f"127.0.0.1:{self.port}")
            connection.endheaders()
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def json(self, target: str) -> dict:
        status, body = self.get(target)
        assert status == 200, body
        return json.loads(body)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=30)


@pytest.fixture
def dashboards(tmp_path):
    started: list[Dashboard] = []

    def start(root: str, *args: str) -> Dashboard:
        started.append(Dashboard(root, *args, cache=str(tmp_path / "ui-cache")))
        return started[-1]

    yield start
    for dashboard in started:
        with contextlib.suppress(Exception):
            dashboard.stop()
        if dashboard.process.poll() is None:
            dashboard.process.kill()


def test_serves_the_page_and_its_data(dashboards, local_root):
    """`/` is the page with every trial and a CSP header; the API gives rows, panels and curves."""
    make_root(local_root)
    ui = dashboards(local_root)
    status, page = ui.get("/")
    assert status == 200 and b"Plotly" in page
    report = votakvot.load_report(local_root)
    rows = ui.json("/api/trials?after=0")
    assert [t["tid"] for t in rows["trials"]] == list(report.tid) == rows["order"]
    failed = report.tid[report.status == "failed"].iloc[0]
    panel = ui.json(f"/api/trial?tid={quote(failed)}")
    assert "lr too big" in panel["traceback"] and "metrics.csv" in panel["attached"]
    curves = ui.json(f"/api/curves?tid={quote(failed)}")
    assert [s["name"] for s in curves["series"]] == ["", "eval"] and len(curves["series"][0]["step"]) == 20
    assert ui.json(f"/api/curves?tid={quote(failed)}&sig={quote(curves['sig'])}") == {
        "sig": curves["sig"],
        "unchanged": True,
    }
    assert ui.json(f"/api/trials?after={rows['generation']}") == {"generation": rows["generation"], "trials": []}


def test_a_new_trial_is_the_only_change_sent(dashboards, local_root):
    """After a new trial, asking for changes since the last generation gives that trial and the new order."""
    make_root(local_root)
    ui = dashboards(local_root)
    first = ui.json("/api/trials?after=0")
    with votakvot.trial("later", lr=9) as t:
        t.result = 1

    def changed():
        got = ui.json(f"/api/trials?after={first['generation']}")
        return got if got["trials"] else None

    got = wait_until(changed, timeout=20, interval=0.2)
    assert got and [t["tid"] for t in got["trials"]] == [t.tid]
    assert got["order"] == [*first["order"], t.tid]


@pytest.mark.parametrize(
    "target",
    [
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2f..%2fetc%2fpasswd",
        "//etc/passwd",
        "/api/trial?tid=../../../../etc/passwd",
        "/api/trial?tid=%2Fetc%2Fpasswd",
        "/api/curves?tid=..%2F..%2F..%2Fsecret",
        "/api/curves?tid=/etc/passwd",
        "/api/trial?tid=exp/../../secret",
        "/votakvot.yaml",
        "/api/trial",
        "/api/trials/../trial?tid=x",
    ],
)
def test_hostile_paths_reach_no_file(dashboards, local_root, tmp_path, target):
    """Paths that climb out of the root, plain or encoded, and tids that are paths find nothing (404)."""
    make_root(local_root)
    (tmp_path / "secret").write_text(SECRET)
    status, body = dashboards(local_root).get(target)
    assert status == 404, body
    assert SECRET.encode() not in body and b"root:" not in body


def test_bad_requests_are_refused(dashboards, local_root):
    """Another Host (DNS rebinding), a repeated field, a bad generation and other methods are refused."""
    make_root(local_root)
    ui = dashboards(local_root)
    assert ui.get("/api/trials?after=0", host="evil.example")[0] == 403
    assert ui.get("/", host=f"attacker.example:{ui.port}")[0] == 403
    assert ui.get("/api/trials?after=0", host=f"localhost:{ui.port}")[0] == 200
    assert ui.get("/api/trials?after=0&after=1")[0] == 400
    assert ui.get("/api/trials?after=-1")[0] == 400
    connection = http.client.HTTPConnection("127.0.0.1", ui.port, timeout=30)
    connection.request("POST", "/api/trials", body=b"{}")
    assert connection.getresponse().status == 501
    connection.close()


def test_links_out_of_the_root_are_not_followed(dashboards, local_root, tmp_path):
    """A metric file linked to a file outside the root gives no curve of it; a trial whose document
    is a link is not listed and cannot be asked for."""
    make_root(local_root)
    secret = tmp_path / "secret.csv"
    secret.write_text(f"step,time,{SECRET}\n0,0,1\n")
    trials = votakvot.load_trials(local_root)
    victim = next(t for t in trials.values() if t.tid.startswith("hostile/"))
    os.remove(os.path.join(victim.path, "metrics.csv"))
    os.symlink(secret, os.path.join(victim.path, "metrics.csv"))
    linked = tmp_path / "results" / "linked" / "t"
    linked.mkdir(parents=True)
    os.symlink(os.path.join(victim.path, "votakvot.yaml"), linked / "votakvot.yaml")
    ui = dashboards(local_root)
    curves = ui.get(f"/api/curves?tid={quote(victim.tid)}")
    assert curves[0] == 200 and SECRET.encode() not in curves[1]
    assert "linked/t" not in ui.json("/api/trials?after=0")["order"]
    assert ui.get("/api/trial?tid=linked/t")[0] == 404


def test_ctrl_c_stops_it_cleanly(dashboards, local_root):
    """SIGINT (Ctrl-C) stops the server with exit code 0 and no traceback."""
    make_root(local_root)
    ui = dashboards(local_root)
    assert ui.get("/api/trials?after=0")[0] == 200
    assert ui.stop() == 0
    assert wait_until(lambda: "votakvot ui: stopped" in ui.lines)
    assert not any("Traceback" in line for line in ui.errors)


def test_another_address_warns_that_there_is_no_authentication(dashboards, local_root):
    """--host with a non-loopback address serves there, after a warning that anyone may read it."""
    make_root(local_root)
    ui = dashboards(local_root, "--host", "0.0.0.0")
    assert wait_until(lambda: any("no authentication" in line for line in ui.errors))
    assert ui.get("/api/trials?after=0", host=f"any-name.example:{ui.port}")[0] == 200
    assert ui.stop() == 0


def test_bad_port_is_usage(local_root):
    """A port out of range is bad usage (exit 2)."""
    env = {**os.environ, "PYTHONPATH": SRC}
    done = subprocess.run(
        [sys.executable, "-m", "votakvot", "ui", local_root, "--port", "70000"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 2 and "--port" in done.stderr


RUNNING = textwrap.dedent(
    """
    import sys, time, votakvot
    votakvot.init(path=sys.argv[1], flush_interval=0.1)
    with votakvot.trial("live", lr=0.3) as t:
        for i in range(100000):
            t.meter(loss=1 / (i + 1))
            time.sleep(0.05)
    """
)


def test_the_live_page_follows_the_root(dashboards, local_root, tmp_path):
    """In Chromium, the live page shows a trial written while it is open, the curve of a running
    trial grows, and the trial turns red (crashed) when its process is killed."""
    make_root(local_root)
    ui = dashboards(local_root)
    runner = run_python(RUNNING.replace("sys.argv[1]", repr(local_root)), cwd=tmp_path)
    try:
        with browser.playwright() as playwright:
            chromium = browser.launch(playwright)
            page = chromium.new_page(viewport={"width": 1400, "height": 1000})
            page.add_init_script(browser.WATCH_POLICY)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(ui.url)
            page.wait_for_selector("#trials tbody tr.row")
            shown = "document.querySelectorAll('#trials tbody tr.row').length"
            with votakvot.trial("written-later", lr=7) as later:
                later.result = 7
            browser.wait_for(
                page, f"[...document.querySelectorAll('#trials td')].some(td => td.title === {later.tid!r})"
            )
            browser.wait_for(page, f"{shown} === 6")
            live_row = (
                "[...document.querySelectorAll('#trials tbody tr.row')].find(tr => tr.textContent.includes('live/'))"
            )
            browser.wait_for(page, f"({live_row} || {{}}).className.includes('status-running')")
            page.locator("#trials tbody tr.row", has_text="live/").locator("input[type=checkbox]").check()
            points = "(document.getElementById('chart').data || [{y: []}])[0].y.length"
            before = browser.wait_for(page, points)
            browser.wait_for(page, f"{points} > {before}")
            browser.screenshot(page, tmp_path, "live-running")
            runner.kill()
            runner.wait()
            browser.wait_for(page, f"{live_row}.className.includes('status-crashed')")
            assert page.locator("#trials tbody tr.status-crashed td.status").text_content() == "crashed"
            browser.screenshot(page, tmp_path, "live-crashed")
            assert errors == [] and page.evaluate("window.__violations") == []
            assert HOSTILE_VALUE in page.text_content("#trials")
            chromium.close()
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
