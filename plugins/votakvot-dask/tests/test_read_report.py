"""`votakvot_dask.read_report` on a real Dask cluster (two worker processes): the trial documents
are read by the workers, from the local disk and from an S3-compatible server on 127.0.0.1, into
a Dask DataFrame that computes to exactly `votakvot.load_report`'s frame."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import dask_tasks
import distributed
import pandas as pd
import pytest
import votakvot_dask
from dask_support import _clean_votakvot, client, moto_s3_server, workers_cwd  # noqa: F401 - fixtures

import votakvot
from votakvot.errors import MissingPathWarning, SelectionError, TrialLoadError

pytestmark = pytest.mark.slow


def _same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Equal frames: columns, dtypes, values and index; the trials are loaded trials of the same folders."""
    assert got.columns.tolist() == expected.columns.tolist()
    assert all(isinstance(t, votakvot.Trial) for t in got["trial"])
    assert [t.path for t in got["trial"]] == [t.path for t in expected["trial"]]
    pd.testing.assert_frame_equal(got.drop(columns="trial"), expected.drop(columns="trial"))


def _write_trials(root: str, count: int) -> None:
    """Trials of two shapes (a clash between a param and an info field, integer gaps, a failure)."""
    votakvot.init(path=root)
    for i in range(count):
        params = {"lr": i / 10, "depth": i} if i % 3 else {"x": i}
        try:
            with votakvot.trial("fit" if i % 3 else "grid", **params) as t:
                t.inform(x=f"note {i}" if i % 3 else i)
                if i == 4:
                    raise ValueError("bad luck")
                t.result = {"acc": 1 - i / 100}
        except ValueError:
            pass


@pytest.mark.parametrize("full", [False, True], ids=["plain", "full"])
def test_the_frame_is_load_reports_in_ordered_partitions(client, tmp_path, full):  # noqa: F811
    """Partitions of `partition_size` rows, in report order, with known divisions, compute to
    load_report's frame (columns, names, dtypes, values, index) and answer queries alike."""
    root = str(tmp_path / "results")
    _write_trials(root, 11)
    expected = votakvot.load_report(root, full=full)
    ddf = votakvot_dask.read_report(root, full=full, partition_size=4)
    assert ddf.npartitions == 3 and ddf.divisions == (0, 4, 8, 10)
    _same(ddf.compute(), expected)
    assert "params.x" in expected.columns and str(expected["depth"].dtype) == "Int64"  # the cases are there
    _same(ddf.loc[5:6].compute(), expected.loc[5:6])
    pd.testing.assert_series_equal(
        ddf.groupby("status")["acc"].mean().compute().sort_index(), expected.groupby("status")["acc"].mean()
    )


def test_documents_on_s3_are_read_by_the_workers(client, tmp_path):  # noqa: F811
    """Trials written by tasks to an S3-compatible server come back through read_report, whose
    read tasks ran on the cluster's workers, as load_report gives them."""
    s3fs = pytest.importorskip("s3fs")
    with moto_s3_server() as endpoint:
        options = {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": endpoint}}
        s3fs.S3FileSystem(**options).mkdir("bucket")
        url = f"s3://bucket/{uuid.uuid4().hex}"
        votakvot.init(path=url, storage_options=options, sinks=["yaml"])
        assert client.gather(client.map(dask_tasks.square, range(9))) == [x * x for x in range(9)]
        with distributed.get_task_stream(client) as stream:
            ddf = votakvot_dask.read_report(url, storage_options=options, partition_size=3)
        got = ddf.compute()
        expected = votakvot.load_report(url, storage_options=options)
    _same(got, expected)
    assert sorted(got["x"]) == list(range(9)) and len(got) == 9
    read_on = {entry["worker"] for entry in stream.data if str(entry["key"]).startswith("votakvot-read-")}
    assert read_on and read_on <= set(client.scheduler_info()["workers"])
    assert sum(str(entry["key"]).startswith("votakvot-read-") for entry in stream.data) == 3


def test_unreadable_folders_are_warned_on_the_caller_line(client, tmp_path):  # noqa: F811
    """A folder the workers could not read is skipped with a warning given where read_report
    was called; with safe=False reading raises TrialLoadError."""
    root = tmp_path / "results"
    _write_trials(str(root), 3)
    broken = root / "broken"
    broken.mkdir()
    (broken / "votakvot.yaml").write_text("status: [unclosed\n")
    with pytest.warns(UserWarning, match="skipping trial folder .*broken") as caught:
        ddf = votakvot_dask.read_report(str(root))
    assert caught[0].filename == __file__
    assert len(ddf.compute()) == 3
    with pytest.raises(TrialLoadError, match="broken"):
        votakvot_dask.read_report(str(root), safe=False)


def test_a_missing_path_warns_and_gives_an_empty_frame(client, tmp_path):  # noqa: F811
    """A path that does not exist warns at the caller's line and gives load_report's empty frame."""
    with pytest.warns(MissingPathWarning, match="does not exist") as caught:
        ddf = votakvot_dask.read_report(str(tmp_path / "nope"))
    assert caught[0].filename == __file__
    got = ddf.compute()
    assert got.columns.tolist() == ["tid", "trial", "status"] and len(got) == 0


@pytest.mark.parametrize("size", [0, 2.5])
def test_a_partition_size_that_is_not_a_positive_int_is_refused(client, tmp_path, size):  # noqa: F811
    """partition_size must be an int >= 1."""
    with pytest.raises(SelectionError, match="an int >= 1"):
        votakvot_dask.read_report(str(tmp_path), partition_size=size)


def _python(code: str, cwd: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_without_a_cluster_dasks_local_scheduler_reads_the_parts(tmp_path):
    """With no distributed.Client, the parts are read by Dask's local scheduler and the frame is the same."""
    root = str(tmp_path / "results")
    _write_trials(root, 5)
    got = _python(
        "import json, votakvot, votakvot_dask\n"
        f"ddf = votakvot_dask.read_report({root!r}, partition_size=2)\n"
        f"same = ddf.compute().drop(columns='trial').equals(votakvot.load_report({root!r}).drop(columns='trial'))\n"
        "print(json.dumps({'same': same, 'partitions': ddf.npartitions}))\n",
        tmp_path,
    )
    assert got == {"same": True, "partitions": 3}


def test_without_dask_dataframe_the_error_names_the_extra(tmp_path):
    """Where dask.dataframe cannot be imported, read_report raises MissingDependencyError naming the extra."""
    got = _python(
        "import json, sys\n"
        "sys.modules['dask.dataframe'] = None\n"
        "import votakvot_dask\n"
        "from votakvot.errors import MissingDependencyError\n"
        "try:\n"
        "    votakvot_dask.read_report('.')\n"
        "except MissingDependencyError as e:\n"
        "    print(json.dumps({'error': str(e)}))\n",
        tmp_path,
    )
    assert "pip install 'votakvot-dask[dataframe]'" in got["error"]
