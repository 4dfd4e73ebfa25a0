"""Metrics: `meter()` rows, named series, CSV files and what survives crashes."""

from __future__ import annotations

import csv
import io
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import votakvot
from conftest import run_python, wait_until


def _csv_rows(path: str) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_meter_rows_get_step_and_time(local_root):
    """Each meter() call is one CSV row with an increasing step and a wall-clock time."""
    votakvot.init(path=local_root)
    before = time.time()
    with votakvot.trial("m") as t:
        for i in range(5):
            t.meter(loss=1 / (i + 1))
    rows = _csv_rows(os.path.join(t.path, "metrics.csv"))
    assert [int(r["step"]) for r in rows] == [0, 1, 2, 3, 4]
    assert [float(r["loss"]) for r in rows] == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    assert all(before <= float(r["time"]) <= time.time() for r in rows)


def test_rows_with_different_keys_make_a_union_of_columns(root):
    """Rows with different metric names load as one DataFrame with the union of columns, in order."""
    votakvot.init(path=root)
    with votakvot.trial("m") as t:
        t.meter(a=1)
        t.meter(a=2, b=20)
        t.meter(b=30)
        t.meter(c="x", a=4)
    df = votakvot.metrics.load_csv_metrics(t.path)
    assert list(df["step"]) == [0, 1, 2, 3]
    assert {"a", "b", "c"} <= set(df.columns)
    assert df["a"].tolist()[:2] == [1, 2] and df["a"].tolist()[3] == 4
    assert df["b"].tolist()[1:3] == [20, 30]
    assert df["c"].tolist()[3] == "x"


def test_every_metric_file_is_plain_csv(local_root):
    """Every metric file parses with the csv module alone, header first."""
    votakvot.init(path=local_root)
    with votakvot.trial("m") as t:
        t.meter(a=1)
        t.meter(a=2, b='with "quotes", and commas')
        votakvot.series("eval").meter(acc=0.5)
    names = sorted(n for n in os.listdir(t.path) if n.endswith(".csv"))
    assert names == ["metrics.1.csv", "metrics.csv", "metrics.eval.csv"]
    for name in names:
        with open(os.path.join(t.path, name), newline="") as f:
            assert next(csv.reader(f))[:2] == ["step", "time"]
    assert _csv_rows(os.path.join(t.path, "metrics.1.csv"))[0]["b"] == 'with "quotes", and commas'


_CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.booleans(),
    st.text(st.characters(exclude_characters="\r\n", exclude_categories=("Cs",)), max_size=8),
    st.none(),
)


_NUMBERS = st.one_of(st.floats(), st.integers(min_value=-(10**30), max_value=10**30))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.one_of(
        st.lists(st.tuples(_NUMBERS, _NUMBERS, st.booleans()), min_size=1, max_size=12),
        st.lists(st.tuples(_CELLS, _CELLS, st.booleans()), min_size=1, max_size=12),
    ),
    width=st.sampled_from([1, 2]),
)
def test_metric_files_hold_exactly_what_csv_writer_writes(tmp_path, rows, width):
    """Whatever the values (plain numbers, nan, bools, text needing quotes, None) and however
    they are flushed, each metric line is byte for byte what csv.writer makes of them."""
    votakvot.init(path=str(tmp_path / f"results-{time.monotonic_ns()}"))
    with votakvot.trial("m") as t:
        for a, b, flush in rows:
            if width == 1:
                t.meter(a=a)
            else:
                t.meter(a=a, b=b)
            if flush:
                t.flush_metrics()
    with open(os.path.join(t.path, "metrics.csv"), newline="", encoding="utf-8") as f:
        lines = [line + "\r\n" for line in f.read().split("\r\n")[:-1]]  # values hold no line breaks
    expected_header = io.StringIO(newline="")
    csv.writer(expected_header).writerow(["step", "time", "a", "b"][: 2 + width])
    assert lines[0] == expected_header.getvalue()
    assert len(lines) == 1 + len(rows)
    for step, ((a, b, _), line) in enumerate(zip(rows, lines[1:], strict=True)):
        stamp = line.split(",", 2)[1]
        expected = io.StringIO(newline="")
        csv.writer(expected).writerow([step, float(stamp), a, b][: 2 + width])
        assert line == expected.getvalue()


def test_named_series_do_not_clash_with_metric_names(root):
    """votakvot.series(name) keeps its own file and step counter, even for a metric called 'series'."""
    votakvot.init(path=root)
    with votakvot.trial("m") as t:
        train = votakvot.series("train")
        for i in range(3):
            train.meter(loss=i)
        votakvot.series("eval").meter(loss=10)
        votakvot.meter(series="not a series name")
    df = votakvot.metrics.load_csv_metrics(t.path, series="train")
    assert df["loss"].tolist() == [0, 1, 2] and df["step"].tolist() == [0, 1, 2]
    evals = votakvot.metrics.load_csv_metrics(t.path, series="eval")
    assert evals["loss"].tolist() == [10] and evals["step"].tolist() == [0]
    default = votakvot.metrics.load_csv_metrics(t.path, series="")
    assert default["series"].tolist() == ["not a series name"]
    everything = votakvot.metrics.load_csv_metrics(t.path)
    assert len(everything) == 5
    assert everything["_series"].tolist() == ["", "eval", "train", "train", "train"]


def test_metered_step_and_time_replace_the_automatic_ones(local_root):
    """meter(step=..., time=...) sets that row's step and time instead of adding clashing columns."""
    votakvot.init(path=local_root)
    with votakvot.trial("m") as t:
        t.meter(step=100, loss=1.0)
        t.meter(loss=0.5, time=123.5)
    df = votakvot.metrics.load_csv_metrics(t.path)
    assert list(df.columns) == ["step", "time", "loss"]
    assert df["step"].tolist() == [100, 1] and df["time"].tolist()[1] == 123.5


def test_bad_series_name_is_refused():
    """A series name that cannot be part of a file name raises ValueError saying what is allowed."""
    for bad in ("", "a.b", "../x", "1st"):
        with pytest.raises(ValueError, match="series name"):
            votakvot.series(bad)


def test_loaded_trial_metrics_method(root):
    """A loaded trial's metrics() returns the same rows as load_csv_metrics."""
    votakvot.init(path=root)
    with votakvot.trial("m") as t:
        for i in range(10):
            votakvot.meter(i=i)
    loaded = votakvot.load_trials(root)[t.tid]
    assert loaded.metrics()["i"].tolist() == list(range(10))


def test_no_metrics_give_an_empty_frame(local_root):
    """A trial without metrics loads an empty DataFrame with the step and time columns."""
    votakvot.init(path=local_root)
    with votakvot.trial("m") as t:
        pass
    df = votakvot.metrics.load_csv_metrics(t.path)
    assert df.empty and list(df.columns) == ["step", "time"]


def test_rows_reach_the_file_within_the_flush_interval(local_root):
    """While a trial runs, metered rows reach the CSV file within about one flush interval."""
    votakvot.init(path=local_root, flush_interval=0.1)
    with votakvot.trial("m") as t:
        t.meter(x=1)
        path = os.path.join(t.path, "metrics.csv")
        wait_until(lambda: os.path.exists(path) and _csv_rows(path), timeout=3)
        assert [r["x"] for r in _csv_rows(path)] == ["1"]


def test_many_rows_flush_in_batches_before_the_end(local_root):
    """Enough pending rows are written without waiting for the timer or the end."""
    votakvot.init(path=local_root, flush_interval=60)
    with votakvot.trial("m") as t:
        for i in range(10_000):
            t.meter(i=i)
        assert len(_csv_rows(os.path.join(t.path, "metrics.csv"))) >= 4096
    assert len(_csv_rows(os.path.join(t.path, "metrics.csv"))) == 10_000


@pytest.mark.parametrize("ending", ["exception", "keyboard_interrupt"])
def test_nothing_is_lost_when_the_block_raises(local_root, ending):
    """Every row metered before an exception or KeyboardInterrupt is in the CSV."""
    votakvot.init(path=local_root, flush_interval=60)
    error = ValueError("boom") if ending == "exception" else KeyboardInterrupt()
    with pytest.raises(type(error)), votakvot.trial("m") as t:
        for i in range(1234):
            votakvot.meter(i=i)
        raise error
    assert len(_csv_rows(os.path.join(t.path, "metrics.csv"))) == 1234
    assert votakvot.load_trials(local_root)[t.tid].status == ("failed" if ending == "exception" else "interrupted")


def test_threads_metering_one_trial_lose_nothing(local_root):
    """Rows metered on one trial from several threads at once are all written, each once."""
    votakvot.init(path=local_root, flush_interval=0.01)
    with votakvot.trial("m") as t:

        def work(k: int) -> None:
            for i in range(2000):
                t.meter(k=k, i=i)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    rows = _csv_rows(os.path.join(t.path, "metrics.csv"))
    assert sorted((int(r["k"]), int(r["i"])) for r in rows) == [(k, i) for k in range(4) for i in range(2000)]
    assert sorted(int(r["step"]) for r in rows) == list(range(8000))


METER_FOREVER = """
import sys, time, votakvot
votakvot.init(path=sys.argv[1] if len(sys.argv) > 1 else "results", flush_interval=0.2)
with votakvot.trial("forever") as t:
    print(t.path, flush=True)
    i = 0
    while True:
        votakvot.meter(i=i)
        print(i, time.time(), flush=True)
        i += 1
        time.sleep(0.002)  # stays: a process metering at a steady pace until it is killed
"""


@pytest.mark.slow
def test_sigkill_loses_at_most_the_last_flush_interval(tmp_path: Path):
    """After SIGKILL the CSV holds every row metered more than one flush interval before the kill."""
    proc = run_python(METER_FOREVER, cwd=tmp_path, stdout=__import__("subprocess").PIPE, text=True)
    path = proc.stdout.readline().strip()
    seen: list[tuple[int, float]] = []
    start = time.monotonic()
    while time.monotonic() - start < 1.0:  # several flush intervals of rows before the kill
        i, stamp = proc.stdout.readline().split()
        seen.append((int(i), float(stamp)))
    killed_at = time.time()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    rows = _csv_rows(os.path.join(path, "metrics.csv"))
    steps = [int(r["i"]) for r in rows]
    assert steps == list(range(len(steps))), "rows are contiguous from the first one"
    must_have = [i for i, stamp in seen if stamp < killed_at - 0.2 - 0.3]
    assert must_have and steps[-1] >= must_have[-1]
    doc = votakvot.load_trials(str(tmp_path / "results"))
    (trial,) = doc.values()
    assert trial.status == "crashed"


@pytest.mark.slow
def test_sigterm_finishes_interrupted_with_all_metrics(tmp_path: Path):
    """SIGTERM ends the trial as `interrupted` with every metered row written."""
    proc = run_python(METER_FOREVER, cwd=tmp_path, stdout=__import__("subprocess").PIPE, text=True)
    path = proc.stdout.readline().strip()
    last = -1
    for _ in range(200):
        last = int(proc.stdout.readline().split()[0])
    proc.send_signal(signal.SIGTERM)
    rest = proc.stdout.read()
    assert proc.wait(timeout=10) == 128 + signal.SIGTERM
    for line in io.StringIO(rest):
        last = int(line.split()[0])
    rows = _csv_rows(os.path.join(path, "metrics.csv"))
    assert [int(r["i"]) for r in rows] == list(range(last + 1))
    (trial,) = votakvot.load_trials(str(tmp_path / "results")).values()
    assert trial.status == "interrupted"


def test_system_metrics_sampled_into_their_own_series(local_root):
    """init(system_metrics=...) samples CPU, memory and I/O into metrics.system.csv; the thread ends with the trial."""
    votakvot.init(path=local_root, system_metrics=0.05, flush_interval=0.05)
    with votakvot.trial("m") as t:
        path = os.path.join(t.path, "metrics.system.csv")
        wait_until(lambda: os.path.exists(path) and len(_csv_rows(path)) >= 3)
        assert any(th.name.startswith("votakvot-system-metrics") for th in threading.enumerate())
    assert not any(th.name.startswith("votakvot-system-metrics") for th in threading.enumerate())
    df = votakvot.metrics.load_csv_metrics(t.path, series="system")
    assert len(df) >= 3
    assert {"cpu_percent", "rss", "threads", "read_bytes", "write_bytes"} <= set(df.columns)
    assert (df["rss"] > 1_000_000).all()


def test_system_metrics_are_off_by_default(local_root):
    """Without system_metrics no sampling thread starts and no system series is written."""
    votakvot.init(path=local_root)
    with votakvot.trial("m") as t:
        assert not any(th.name.startswith("votakvot-system-metrics") for th in threading.enumerate())
    assert not any("system" in n for n in os.listdir(t.path))


def test_meter_after_the_trial_ended_is_an_error(local_root):
    """t.meter() on a finished trial raises TrialStateError instead of losing the row silently."""
    votakvot.init(path=local_root)
    with votakvot.trial("m") as t:
        pass
    with pytest.raises(votakvot.errors.TrialStateError, match="inside the `with` block"):
        t.meter(x=1)
