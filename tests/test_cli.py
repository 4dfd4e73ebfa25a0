"""The `votakvot` command line, run as a real subprocess on roots written by votakvot."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import votakvot
from conftest import SRC, run_python, wait_until

HOSTILE = "x\x1b[31mred"


def cli(*args: str, cwd: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None):
    """Runs `python -m votakvot ARGS`; returns the CompletedProcess (text)."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = SRC + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env["COLUMNS"] = "200"
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "votakvot", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def root(tmp_path):
    """Three trials of `exp`: lr 0.1 and 0.5 done (with metrics), lr 2 failed; a hostile name param."""
    path = tmp_path / "res"
    votakvot.init(path=str(path))

    @votakvot.track(name="exp")
    def exp(lr, name):
        for step in range(5):
            votakvot.meter(step=step, loss=1.0 / (step + 1) / lr)
        if lr > 1:
            raise ValueError("lr too big")
        return {"acc": lr * 2}

    for lr in (0.1, 0.5, 2.0):
        with contextlib.suppress(ValueError):
            exp(lr, HOSTILE)
    votakvot.init(path=str(tmp_path / "elsewhere"))
    return path


def _tids(root) -> dict[float, str]:
    return {row.lr: row.tid for row in votakvot.load_report(str(root)).itertuples()}


def test_ls_lists_every_trial_with_short_tids_and_no_raw_escape(root):
    done = cli("ls", str(root))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:4] == ["tid", "status", "created", "duration"]
    assert len(lines) == 4
    tids = _tids(root)
    for tid in tids.values():
        short = tid[:-24]
        assert any(line.startswith(short + " ") for line in lines), (short, lines)
        assert tid not in done.stdout
    assert "\x1b" not in done.stdout and "x?[31mred" in done.stdout
    assert all(len(line) <= 200 for line in lines)


def test_ls_filters_sort_top(root):
    failed = cli("ls", str(root), "--status", "failed", "--json")
    assert [r["lr"] for r in json.loads(failed.stdout)] == [2.0]
    both = cli("ls", str(root), "--status", "failed", "--status", "done", "--json")
    assert len(json.loads(both.stdout)) == 3
    where = cli("ls", str(root), "--where", "lr < 1 and status == 'done'", "--json")
    assert sorted(r["lr"] for r in json.loads(where.stdout)) == [0.1, 0.5]
    top = cli("ls", str(root), "--sort=-lr", "--top", "2", "--json")
    assert [r["lr"] for r in json.loads(top.stdout)] == [2.0, 0.5]
    ascending = cli("ls", str(root), "--sort", "lr", "--json")
    assert [r["lr"] for r in json.loads(ascending.stdout)] == [0.1, 0.5, 2.0]
    assert json.loads(cli("ls", str(root), "--since", "1h", "--json").stdout) != []
    assert json.loads(cli("ls", str(root), "--before", "1h", "--json").stdout) == []
    assert json.loads(cli("ls", str(root), "--before", "2999-01-01", "--json").stdout) != []
    empty = cli("ls", str(root), "--status", "running")
    assert empty.returncode == 0 and empty.stdout.splitlines()[0].startswith("tid")


def test_ls_json_and_csv_carry_the_report(root):
    records = json.loads(cli("ls", str(root), "--json").stdout)
    assert {r["tid"] for r in records} == set(_tids(root).values())
    failed = next(r for r in records if r["status"] == "failed")
    assert failed["acc"] is None and failed["error"] == "ValueError: lr too big"
    assert failed["name"] == HOSTILE
    assert failed["created"].startswith(str(failed["created"])[:4]) and "T" in failed["created"]
    rows = list(csv.DictReader(io.StringIO(cli("ls", str(root), "--csv").stdout)))
    assert sorted(float(r["lr"]) for r in rows) == [0.1, 0.5, 2.0]
    assert {r["status"] for r in rows} == {"done", "failed"}
    assert all("\x1b" not in value for row in rows for value in row.values())


def test_show_failed_trial_has_its_traceback(root):
    tid = _tids(root)[2.0]
    done = cli("show", "--root", str(root), tid[-32:][:8])
    assert done.returncode == 0, done.stderr
    assert "failed" in done.stdout and "ValueError: lr too big" in done.stdout
    assert "Traceback (most recent call last)" in done.stdout and "raise ValueError" in done.stdout
    assert "metrics.csv" in done.stdout and "traceback.txt" in done.stdout
    assert "\x1b" not in done.stdout
    record = json.loads(cli("show", str(root / tid), "--json").stdout)
    assert record["tid"] == tid and record["params"] == {"lr": 2.0, "name": HOSTILE}
    assert record["last_metrics"] == {"step": 4, "loss": pytest.approx(0.1)}
    assert "lr too big" in record["traceback"]


def test_show_and_diff_of_a_missing_trial_exit_1(root):
    missing = cli("show", "--root", str(root), "nope")
    assert missing.returncode == 1 and "no trial 'nope'" in missing.stderr and "Traceback" not in missing.stderr
    assert cli("diff", "--root", str(root), "nope", "nope2").returncode == 1
    assert cli("metrics", "--root", str(root), "nope").returncode == 1


def test_diff(root):
    tids = _tids(root)
    done = cli("diff", "--root", str(root), tids[0.1], tids[0.5])
    assert done.returncode == 0, done.stderr
    assert any(line.split()[:4] == ["params", "lr", "0.1", "0.5"] for line in done.stdout.splitlines())
    record = json.loads(cli("diff", "--root", str(root), tids[0.1], tids[0.5], "--json").stdout)
    assert record["a"] == tids[0.1] and record["b"] == tids[0.5]
    assert {"section": "result", "field": "acc", "a": 0.2, "b": 1.0} in record["differences"]


def test_metrics(root):
    tids = _tids(root)
    rows = json.loads(cli("metrics", "--root", str(root), tids[0.1], tids[0.5], "--json").stdout)
    assert [(r["tid"], r["step"]) for r in rows] == [(tids[lr], s) for lr in (0.1, 0.5) for s in range(5)]
    assert rows[0]["loss"] == pytest.approx(10.0)
    tail = list(csv.DictReader(io.StringIO(cli("metrics", "--path", str(root), "--tail", "1", "--csv").stdout)))
    assert [(r["tid"], r["step"]) for r in tail] == [(tids[lr], "4") for lr in (0.1, 0.5, 2.0)]
    table = cli("metrics", "--root", str(root), tids[0.5])
    assert table.returncode == 0 and len(table.stdout.splitlines()) == 6


def test_bad_usage_exits_2(root):
    assert cli("ls", str(root), "--top", "many").returncode == 2
    assert cli("frobnicate").returncode == 2
    bad_sort = cli("ls", str(root), "--sort", "nope")
    assert bad_sort.returncode == 2 and "no column 'nope'" in bad_sort.stderr
    bad_where = cli("ls", str(root), "--where", "nope >")
    assert bad_where.returncode == 2 and "--where" in bad_where.stderr
    bad_time = cli("ls", str(root), "--since", "yesterday")
    assert bad_time.returncode == 1 and "'yesterday'" in bad_time.stderr and "Traceback" not in bad_time.stderr


def test_rm_is_a_dry_run_unless_yes(root):
    dry = cli("rm", str(root), "--status", "failed")
    assert dry.returncode == 0, dry.stderr
    assert "--yes" in dry.stdout and _tids(root)[2.0] in dry.stdout
    assert len(votakvot.load_report(str(root))) == 3
    gone = cli("rm", str(root), "--status", "failed", "--yes")
    assert gone.returncode == 0, gone.stderr
    assert sorted(votakvot.load_report(str(root)).lr) == [0.1, 0.5]


@pytest.mark.slow
def test_running_shows_a_live_trial_and_rm_refuses_it(tmp_path):
    res = tmp_path / "res"
    gate = tmp_path / "gate"
    code = textwrap.dedent(
        f"""
        import os, time, votakvot
        votakvot.init(path={str(res)!r})
        with votakvot.trial_at("live/run", lr=0.3):
            votakvot.meter(step=7, loss=0.25)
            while not os.path.exists({str(gate)!r}):
                time.sleep(0.05)
        """
    )
    proc = run_python(code, cwd=tmp_path)
    try:

        def live():
            out = cli("running", str(res), "--json")
            rows = json.loads(out.stdout) if out.returncode == 0 else []
            return rows if rows and rows[0]["step"] == 7 else None

        rows = wait_until(live, timeout=60, interval=0.2)
        assert rows, "the live trial never showed with its metrics"
        assert rows[0]["tid"] == "live/run" and rows[0]["metrics"] == {"loss": 0.25}
        assert rows[0]["elapsed"] >= 0
        table = cli("running", str(res))
        assert "live/run" in table.stdout and "loss=0.25" in table.stdout
        refused = cli("rm", str(res), "--yes")
        assert refused.returncode == 1 and "still running" in refused.stderr
        assert (res / "live" / "run" / "votakvot.yaml").exists()
    finally:
        gate.touch()
        assert proc.wait(timeout=60) == 0
    assert json.loads(cli("running", str(res), "--json").stdout) == []
    assert "done" in cli("ls", str(res)).stdout


@pytest.mark.slow
def test_console_script(root):
    script = shutil.which("votakvot", path=os.path.dirname(sys.executable))
    if script is None:
        pytest.skip("the votakvot console script is not installed (pip install -e .)")
    done = subprocess.run([script, "ls", str(root), "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 3


def test_import_votakvot_does_not_load_the_cli():
    probe = "import sys, votakvot; print(any(m.startswith('votakvot._cli') for m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "PYTHONPATH": SRC},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_s3_with_storage_options(tmp_path):
    """Every reading command and rm reach an S3-compatible server (moto) through --storage-option."""
    pytest.importorskip("s3fs")
    import fsspec

    from conftest import moto_s3_server

    with moto_s3_server() as endpoint:
        options = {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": endpoint}}
        fs = fsspec.filesystem("s3", skip_instance_cache=True, **options)
        fs.mkdir("cli-bucket")
        url = "s3://cli-bucket/res"
        votakvot.init(path=url, storage_options=options)
        try:

            @votakvot.track(name="remote")
            def remote(lr):
                votakvot.meter(step=0, loss=lr)
                return {"acc": 1 - lr}

            remote(0.25)
            remote(0.5)
        finally:
            votakvot.init(path=str(tmp_path / "elsewhere"))
        flags = [
            "--storage-option",
            "key=testing",
            "--storage-option",
            "secret=testing",
            "--storage-option",
            f'client_kwargs={{"endpoint_url": "{endpoint}"}}',
        ]
        env = {"AWS_ACCESS_KEY_ID": "nobody", "AWS_SECRET_ACCESS_KEY": "nobody", "AWS_DEFAULT_REGION": "us-east-1"}
        listed = cli("ls", url, "--json", *flags, env=env)
        assert listed.returncode == 0, listed.stderr
        records = json.loads(listed.stdout)
        assert sorted(r["lr"] for r in records) == [0.25, 0.5]
        tid = next(r["tid"] for r in records if r["lr"] == 0.25)
        shown = json.loads(cli("show", f"{url}/{tid}", "--json", *flags, env=env).stdout)
        assert shown["result"] == {"acc": 0.75} and shown["last_metrics"] == {"step": 0, "loss": 0.25}
        rows = json.loads(cli("metrics", "--path", url, "--json", *flags, env=env).stdout)
        assert sorted(r["loss"] for r in rows) == [0.25, 0.5]
        assert cli("rm", f"{url}/{tid}", "--yes", *flags, env=env).returncode == 0
        assert [r["lr"] for r in json.loads(cli("ls", url, "--json", *flags, env=env).stdout)] == [0.5]


def test_narrow_terminal_truncates_cells_and_never_wraps(root):
    done = cli("ls", str(root), env={"COLUMNS": "60"})
    lines = done.stdout.splitlines()
    assert len(lines) == 4 and all(len(line) <= 60 for line in lines), lines
    for tid in _tids(root).values():
        assert any(line.startswith("…") and tid[-32:][:8] in line for line in lines[1:]), (tid, lines)
    assert "…" in lines[1].split("  ", 1)[1]


def test_load_progress_counts_every_document_read(tmp_path):
    """`load_report(progress=)` is told after each batch of documents, ending at (total, total)."""
    votakvot.init(path=str(tmp_path / "many"))
    for i in range(1203):
        with votakvot.trial("p", i=i):
            pass
    calls: list[tuple[int, int]] = []
    frame = votakvot.load_report(str(tmp_path / "many"), index=False, progress=lambda *a: calls.append(a))
    assert len(frame) == 1203
    assert calls == [(500, 1203), (1000, 1203), (1203, 1203)]


def test_load_bar_draws_on_a_terminal_and_clears_its_line():
    """The CLI's bar writes to a real pseudo-terminal, and nothing when the stream is not a terminal."""
    import pty

    from votakvot._cli.progress import LoadBar

    leader, follower = pty.openpty()
    with os.fdopen(follower, "w") as terminal:
        bar = LoadBar(terminal)
        bar.start -= 10  # as if the load had already run past the delay
        bar(1500, 4000)
        bar.close()
    drawn = os.read(leader, 4096).decode()
    os.close(leader)
    assert "reading trials [###########" in drawn and "1500/4000" in drawn
    assert drawn.endswith("\r")
    piped = io.StringIO()
    quiet = LoadBar(piped)
    quiet.start -= 10
    quiet(1, 2)
    quiet.close()
    assert piped.getvalue() == ""
