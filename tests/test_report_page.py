"""`votakvot.write_report` and `votakvot report`: one self-contained, inert HTML page of a root."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import subprocess
import sys
import warnings

import pytest

import votakvot
from conftest import SRC
from votakvot._look import downsample, page

HOSTILE_NAME = "<script>"
HOSTILE_VALUE = '</script><img src=x onerror="window.__pwned=1">'
HOSTILE_NOTE = "\u2028<!-- & -->\u2029</SCRIPT >"


def make_root(root: str, **settings) -> None:
    """Two done trials with metrics, a failed one with a traceback, and one with hostile names."""
    votakvot.init(path=root, **settings)

    @votakvot.track(name="exp")
    def exp(lr, depth):
        for step in range(20):
            votakvot.meter(loss=1.0 / (step + 1) / lr, acc=step / 20)
        votakvot.series("eval").meter(val_loss=0.5)
        if lr > 1:
            raise ValueError("lr too big")
        votakvot.inform(epochs=3)
        return {"acc": lr / 2}

    for lr in (0.1, 0.5, 2.0):
        with contextlib.suppress(ValueError):
            exp(lr, depth=2)
    with votakvot.trial("hostile", **{HOSTILE_NAME: HOSTILE_VALUE}) as t:
        t.inform(note=HOSTILE_NOTE)
        t.meter(loss=1.0)
        t.result = 1


def written(root: str, out, **options) -> str:
    """Writes the report of `root` to `out` and returns its HTML."""
    with open(votakvot.write_report(root, out, **options), encoding="utf-8") as f:
        return f.read()


def page_data(html: str) -> dict:
    """The JSON the page embeds, read back as the page's script reads it."""
    match = re.search(r'<script type="application/json" id="votakvot-data">(.*?)</script>', html, re.S)
    assert match is not None
    return json.loads(match.group(1))


def test_report_is_one_offline_file_with_every_trial(root, tmp_path):
    """The page holds every trial, its own script and plotly.js inline, and refers to nothing outside."""
    make_root(root)
    html = written(root, tmp_path / "report.html")
    data = page_data(html)
    report = votakvot.load_report(root)
    assert [t["tid"] for t in data["trials"]] == list(report.tid)
    assert [t["status"] for t in data["trials"]] == list(report.status)
    assert {c["name"]: c["section"] for c in data["columns"]} == {
        "lr": "params",
        "depth": "params",
        HOSTILE_NAME: "params",
        "epochs": "info",
        "note": "info",
        "acc": "result",
        "result": "result",
    }
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html.split('id="votakvot-data"')[0])
    assert "<link" not in html
    assert html.count("<script") == 3  # the data, the page's script, plotly.js
    assert "Plotly" in html and len(html) > 1_000_000


def test_content_security_policy_lets_only_the_pages_own_scripts_run(local_root, tmp_path):
    """The CSP names the two inline scripts by hash, loads nothing from anywhere and allows no eval."""
    make_root(local_root)
    html = written(local_root, tmp_path / "r.html")
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html).group(1).replace("&#x27;", "'")
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    hashes = ["'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'" for s in scripts]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"].split() == hashes
    assert directives["connect-src"] == "'none'"
    assert "unsafe-eval" not in csp and "http" not in csp


def test_hostile_values_stay_data(local_root, tmp_path):
    """A param named <script> with a </script> value and an info note with U+2028 cannot end the
    data block or open markup: no `<`, `>` or `&` in it, and JSON gives the exact strings back."""
    make_root(local_root)
    html = written(local_root, tmp_path / "r.html")
    block = html.split('id="votakvot-data">', 1)[1].split("</script>", 1)[0]
    assert not set("<>&\u2028\u2029") & set(block)
    hostile = next(t for t in page_data(html)["trials"] if t["tid"].startswith("hostile/"))
    assert hostile["cells"][HOSTILE_NAME] == HOSTILE_VALUE
    assert hostile["cells"]["note"] == HOSTILE_NOTE
    assert "<title>votakvot: " in html


def test_trial_panel_has_git_meta_traceback_and_files(local_root, tmp_path):
    """Each trial's panel holds its metadata (shared between trials), its traceback and its files."""
    make_root(local_root)
    data = page_data(written(local_root, tmp_path / "r.html"))
    failed = data["trials"].index(next(t for t in data["trials"] if t["status"] == "failed"))
    assert data["trials"][failed]["error"] == "ValueError: lr too big"
    panel = data["details"][failed]
    assert "raise ValueError" in panel["traceback"] and panel["traceback_cut"] == 0
    assert {"metrics.csv", "metrics.eval.csv", "traceback.txt"} <= set(panel["attached"])
    assert "votakvot.yaml" not in panel["attached"]
    assert panel["document"]["uid"] == data["trials"][failed]["tid"].rsplit("/", 1)[1]
    system = data["meta"]["system"][panel["meta"]["system"]]
    assert system["node"] == votakvot.load_trials(local_root)[data["trials"][failed]["tid"]].meta.system.node
    assert len(data["meta"]["system"]) == 1  # one machine: its section is kept once for all trials


def test_curves_hold_every_series_and_metric(local_root, tmp_path):
    """A trial's curves are its series with step, time and each metric, as load_metrics has them."""
    make_root(local_root)
    data = page_data(written(local_root, tmp_path / "r.html"))
    first = data["curves"]["0"]["series"]
    assert [s["name"] for s in first] == ["", "eval"]
    metrics = votakvot.load_metrics(local_root)
    rows = metrics[(metrics.tid == data["trials"][0]["tid"]) & (metrics.series == "")]
    assert first[0]["step"] == list(rows.step)
    assert first[0]["metrics"]["loss"] == pytest.approx(list(rows.loss))
    assert first[0]["time"][0] == 0 and first[0]["t0"] == pytest.approx(rows.time.iloc[0])
    assert first[0]["rows"] == 20 and data["downsample"]["series_cut"] == 0


def test_long_curves_are_downsampled_and_keep_their_extremes(local_root, tmp_path):
    """A 5,000-row curve keeps at most max_points rows, its first and last rows, its minimum and its
    maximum; the page says how many series were downsampled."""
    votakvot.init(path=local_root)
    with votakvot.trial("long") as t:
        for step in range(5000):
            t.meter(loss=1000.0 if step == 1234 else -5.0 if step == 4321 else float(step % 7))
    data = page_data(written(local_root, tmp_path / "r.html", max_points=100))
    series = data["curves"]["0"]["series"][0]
    assert series["rows"] == 5000 and len(series["step"]) <= 100
    assert series["step"][0] == 0 and series["step"][-1] == 4999
    assert 1234 in series["step"] and 4321 in series["step"]
    assert max(series["metrics"]["loss"]) == 1000.0 and min(series["metrics"]["loss"]) == -5.0
    assert data["downsample"] == {**data["downsample"], "max_points": 100, "series": 1, "series_cut": 1}


def test_downsampling_rule():
    """kept_rows keeps everything that fits, else at most `limit` rows with every metric's extremes per bucket."""
    assert downsample.kept_rows(10, [[1.0] * 10], 10) is None
    values = [float(i % 10) for i in range(1000)]
    other = [None if i % 3 else -float(i) for i in range(1000)]
    kept = downsample.kept_rows(1000, [values, other], 50)
    assert kept == sorted(set(kept)) and len(kept) <= 50 and kept[0] == 0 and kept[-1] == 999
    assert 999 - 999 % 3 in kept  # the other metric's minimum
    assert downsample.points_per_series(10_000, max_points=1000, budget=400_000, floor=40) == 40
    assert downsample.points_per_series(100, max_points=1000, budget=400_000, floor=40) == 1000
    assert downsample.points_per_series(1000, max_points=1000, budget=None, floor=40) == 1000


def test_many_series_share_the_budget(local_root, tmp_path):
    """When all series together pass the budget, each keeps fewer rows (never under the floor)."""
    votakvot.init(path=local_root)
    for _ in range(3):
        with votakvot.trial("t") as t:
            for step in range(300):
                t.meter(loss=float(step))
    data = page_data(written(local_root, tmp_path / "r.html", budget=300))
    assert data["downsample"]["max_points"] == 100
    assert all(len(c["series"][0]["step"]) <= 100 for c in data["curves"].values())


def test_links_in_trial_folders_are_not_followed(local_root, tmp_path):
    """A metric file linked to a file outside the root is not read, and a trial whose document is a
    link is not shown; each is named in a warning."""
    make_root(local_root)
    secret = tmp_path / "secret.csv"
    secret.write_text("step,time,password\n0,0,12345\n")
    trials = votakvot.load_trials(local_root)
    victim = next(t for t in trials.values() if t.tid.startswith("hostile/"))
    os.remove(os.path.join(victim.path, "metrics.csv"))
    os.symlink(secret, os.path.join(victim.path, "metrics.csv"))
    linked = tmp_path / "results" / "linked" / "t"
    linked.mkdir(parents=True)
    other = next(t for t in trials.values() if t.tid.startswith("exp/"))
    os.symlink(os.path.join(other.path, "votakvot.yaml"), linked / "votakvot.yaml")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        html = written(local_root, tmp_path / "r.html")
    messages = " ".join(str(w.message) for w in caught)
    assert "symbolic link" in messages and "linked" in messages
    assert "password" not in html and "12345" not in html.split('id="votakvot-data"')[1].split("</script>")[0]
    assert not any(t["tid"].startswith("linked") for t in page_data(html)["trials"])


def test_an_empty_root_gives_a_page_with_no_trials(tmp_path):
    """A folder without trials still gives a page (an empty table), not an error."""
    (tmp_path / "empty").mkdir()
    data = page_data(written(str(tmp_path / "empty"), tmp_path / "r.html"))
    assert data["trials"] == [] and data["curves"] == {} and data["columns"] == []


def test_bad_options_are_refused():
    """max_points and budget must be sensible numbers."""
    with pytest.raises(ValueError, match="max_points"):
        votakvot.write_report(".", "r.html", max_points=2)
    with pytest.raises(ValueError, match="budget"):
        votakvot.write_report(".", "r.html", budget=-1)


def test_missing_plotly_names_the_extra(monkeypatch, local_root, tmp_path):
    """Without plotly, write_report raises MissingDependencyError naming votakvot[report], and writes nothing."""
    make_root(local_root)
    page.plotly_js.cache_clear()
    monkeypatch.setitem(sys.modules, "plotly", None)
    monkeypatch.setitem(sys.modules, "plotly.offline", None)
    try:
        with pytest.raises(votakvot.errors.MissingDependencyError, match=r"votakvot\[report\]"):
            votakvot.write_report(local_root, tmp_path / "r.html")
    finally:
        page.plotly_js.cache_clear()
    assert not (tmp_path / "r.html").exists()


def test_import_votakvot_loads_neither_the_page_nor_plotly(tmp_path):
    """The report code and plotly load only when a report is written."""
    code = "import sys, votakvot; print([m for m in sys.modules if m.startswith(('plotly', 'votakvot._look'))])"
    env = {**os.environ, "PYTHONPATH": SRC}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_cli_report_writes_the_page(local_root, tmp_path):
    """`votakvot report ROOT -o FILE` writes the page and says where; a bad --max-points is usage (2)."""
    make_root(local_root)
    env = {**os.environ, "PYTHONPATH": SRC, "VOTAKVOT_CACHE_DIR": str(tmp_path / "cache")}
    run = [sys.executable, "-m", "votakvot", "report", local_root, "-o", str(tmp_path / "page.html")]
    done = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "page.html" in done.stdout
    assert len(page_data((tmp_path / "page.html").read_text("utf-8"))["trials"]) == 4
    bad = subprocess.run([*run, "--max-points", "3"], env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--max-points" in bad.stderr


@pytest.mark.slow
def test_report_of_an_s3_root(tmp_path):
    """write_report reads a root on an S3-compatible server (moto): table, panels and curves."""
    pytest.importorskip("s3fs")
    import fsspec

    from conftest import moto_s3_server

    with moto_s3_server() as endpoint:
        options = {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": endpoint}}
        fsspec.filesystem("s3", skip_instance_cache=True, **options).mkdir("report-bucket")
        url = "s3://report-bucket/res"
        make_root(url, storage_options=options)
        data = page_data(written(url, tmp_path / "r.html", storage_options=options))
    assert sorted(t["status"] for t in data["trials"]) == ["done", "done", "done", "failed"]
    failed = next(i for i, t in enumerate(data["trials"]) if t["status"] == "failed")
    assert "lr too big" in data["details"][failed]["traceback"]
    assert data["curves"][str(failed)]["series"][0]["rows"] == 20
