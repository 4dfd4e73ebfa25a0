"""A store that cannot be written is never silent: full disks, read-only folders, failing sinks.

The disks here are real: a small tmpfs mounted for the test (root only, as in CI), filled up
with a real file and freed again.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import os
import subprocess
import uuid
from pathlib import Path

import pytest

import votakvot
from conftest import read_yaml
from votakvot.errors import StorageError, StorageWarning

FAST = {"heartbeat": 0.2, "flush_interval": 0.05}


@contextlib.contextmanager
def _mounted_tmpfs(where: Path, size_kb: int):
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture
def small_disk(tmp_path: Path):
    """A real 512 KiB filesystem of its own."""
    with _mounted_tmpfs(tmp_path / f"disk-{uuid.uuid4().hex[:6]}", 512) as where:
        yield where


def _fill(disk: Path) -> Path:
    """Fills the disk with one file until writing fails with ENOSPC; returns the file."""
    filler = disk / f"filler-{uuid.uuid4().hex[:6]}"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"x" * 4096)
    except OSError as e:
        assert e.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


def _leftover_temp_files(root: Path) -> list[str]:
    return [str(p) for p in root.rglob(".tmp-*")]


def test_a_disk_that_fills_and_frees_up_loses_no_row(small_disk):
    """Rows metered while the disk is full are kept and written once it has room again: every row
    is stored, once, in order, no row is torn, and the trial ends `done` without an error."""
    votakvot.init(path=str(small_disk / "results"), **FAST)
    with votakvot.trial("fills") as t:
        for i in range(12_000):
            t.meter(i=i)
            if i == 3_000:
                t.flush_metrics()
                filler = _fill(small_disk)
            if i == 8_000:
                t.flush_metrics()  # fails: the disk is full; the rows stay in memory
                filler.unlink()
    rows = _rows(Path(t.path) / "metrics.csv")
    assert rows[0] == ["step", "time", "i"]
    assert [int(r[0]) for r in rows[1:]] == list(range(12_000))
    assert [int(r[2]) for r in rows[1:]] == list(range(12_000))
    assert all(len(r) == 3 for r in rows)
    assert votakvot.load_trials(t.path)[t.tid].status == "done"
    assert _leftover_temp_files(small_disk) == []


def test_a_disk_that_stays_full_ends_the_block_with_storage_error(small_disk):
    """What could not be written reaches the caller as StorageError (an OSError) naming the trial,
    the file and the cause; nothing torn stays in the file and no temp file is left behind."""
    votakvot.init(path=str(small_disk / "results"), **FAST)
    with pytest.raises(StorageError) as caught, votakvot.trial("full") as t:
        t.meter(i=0)
        t.flush_metrics()
        _fill(small_disk)
        for i in range(1, 5_000):
            t.meter(i=i)
        t.result = "computed"
    error = caught.value
    assert isinstance(error, OSError)
    assert error.tid == t.tid and error.result == "computed"
    assert any(isinstance(cause, OSError) and cause.errno == errno.ENOSPC for _, cause in error.failures)
    assert any(path.endswith("metrics.csv") for path, _ in error.failures)
    assert t.tid in str(error) and "metrics.csv" in str(error)
    rows = _rows(Path(t.path) / "metrics.csv")
    assert all(len(r) == 3 for r in rows)  # whatever is stored is whole rows
    assert _leftover_temp_files(small_disk) == []


def test_a_final_document_that_cannot_be_written_leaves_the_start_one_whole(small_disk):
    """A short trial's final document (swapped in for its start one when it can be written) fails
    on a full disk: the StorageError names votakvot.yaml, and the start document is still there,
    complete, with no temp file beside it."""
    votakvot.init(path=str(small_disk / "results"), **FAST)
    with pytest.raises(StorageError) as caught, votakvot.trial("short", a=1) as t:
        _fill(small_disk)
        t.result = 2
    assert any(path.endswith("votakvot.yaml") for path, _ in caught.value.failures)
    doc = read_yaml(str(Path(t.path) / "votakvot.yaml"))
    assert (doc["status"], doc["params"]) == ("running", {"a": 1})
    assert _leftover_temp_files(small_disk) == []


def test_track_raises_storage_error_with_the_computed_result(small_disk):
    """A @track call whose trial could not be stored raises StorageError carrying the result."""
    votakvot.init(path=str(small_disk / "results"), **FAST)
    _fill(small_disk)

    @votakvot.track()
    def compute(x):
        return x * 2

    with pytest.raises(StorageError) as caught:
        compute(21)
    assert caught.value.result == 42
    assert _leftover_temp_files(small_disk) == []


def test_storage_error_chains_the_blocks_own_exception(small_disk):
    """When the block itself raised, the StorageError says so: the block's exception is its cause."""
    votakvot.init(path=str(small_disk / "results"), **FAST)
    _fill(small_disk)
    with pytest.raises(StorageError) as caught, votakvot.trial("both"):
        raise ValueError("the experiment failed too")
    assert isinstance(caught.value.__cause__, ValueError)


def test_storage_errors_can_be_warnings(small_disk):
    """init(storage_errors="warn") turns the error into a StorageWarning; the block ends normally."""
    votakvot.init(path=str(small_disk / "results"), storage_errors="warn", **FAST)
    _fill(small_disk)
    with pytest.warns(StorageWarning, match="could not store"), votakvot.trial("warned") as t:
        t.result = 1
    assert t.result == 1


def test_a_read_only_folder_is_reported(tmp_path):
    """A root on a read-only filesystem fails loudly at the end of the trial."""
    with _mounted_tmpfs(tmp_path / "ro", 256) as disk:
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        votakvot.init(path=str(disk / "results"), **FAST)
        with pytest.raises(StorageError) as caught, votakvot.trial("ro"):
            votakvot.meter(x=1)
        assert any(isinstance(c, OSError) and c.errno == errno.EROFS for _, c in caught.value.failures)


def test_a_failed_atomic_write_leaves_no_temp_file(small_disk):
    """An atomic write that cannot finish removes its temp file."""
    from votakvot._files.storage import open_store

    store, folder = open_store(str(small_disk))
    _fill(small_disk)
    with pytest.raises(OSError):
        store.write_atomic(os.path.join(folder, "doc.yaml"), b"y" * 100_000)
    assert _leftover_temp_files(small_disk) == []
    assert not (small_disk / "doc.yaml").exists()


def test_user_handlers_that_raise_are_still_only_logged(local_root, caplog):
    """A user's own event handler that raises is logged and dropped; the trial ends normally."""
    votakvot.init(path=local_root, **FAST)

    def broken(event):
        raise RuntimeError("my handler is broken")

    votakvot.events.subscribe(votakvot.events.Finished, broken)
    with votakvot.trial("fine") as t:
        t.result = 1
    assert votakvot.load_trials(t.path)[t.tid].result == 1
    assert any("my handler is broken" in (r.exc_text or "") or "broken" in r.getMessage() for r in caplog.records)
