"""Whole-file writes on the local disk: a reader finds the old file or the new one, never none and
never half, whether the new file is renamed over the old one or swapped with it."""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
from pathlib import Path

import pytest

import votakvot
from votakvot._files import confined, exchange

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux's")


def _swap(folder: Path, name: str, other: str) -> bool:
    fd = os.open(folder, os.O_RDONLY)
    try:
        return exchange.swap(name, other, fd)
    finally:
        os.close(fd)


@linux_only
def test_swap_exchanges_two_files_of_a_folder(tmp_path: Path):
    (tmp_path / "a").write_bytes(b"first")
    (tmp_path / "b").write_bytes(b"second")
    assert _swap(tmp_path, "a", "b") is True
    assert (tmp_path / "a").read_bytes() == b"second"
    assert (tmp_path / "b").read_bytes() == b"first"


def test_swap_declines_when_the_other_file_is_missing(tmp_path: Path):
    (tmp_path / "a").write_bytes(b"first")
    assert _swap(tmp_path, "a", "missing") is False
    assert sorted(os.listdir(tmp_path)) == ["a"]


def test_swap_declines_what_the_kernel_refuses(tmp_path: Path):
    (tmp_path / "a").write_bytes(b"first")
    (tmp_path / "b").write_bytes(b"second")
    assert _swap(tmp_path, "a", "b/c") is False  # `b` is no folder
    assert (tmp_path / "a").read_bytes() == b"first"
    assert (tmp_path / "b").read_bytes() == b"second"


@pytest.mark.parametrize("writeback", [True, False])
def test_a_replaced_file_is_complete_and_no_temp_file_stays(tmp_path: Path, writeback: bool):
    confined.write_below(str(tmp_path), "votakvot.yaml", b"status: running\n")
    before = os.stat(tmp_path / "votakvot.yaml").st_ino
    confined.write_below(str(tmp_path), "votakvot.yaml", b"status: done\n", writeback=writeback)
    assert (tmp_path / "votakvot.yaml").read_bytes() == b"status: done\n"
    assert os.stat(tmp_path / "votakvot.yaml").st_ino != before
    assert os.listdir(tmp_path) == ["votakvot.yaml"]


def test_a_first_write_without_writeback_still_creates_the_file(tmp_path: Path):
    confined.write_below(str(tmp_path), "sub/votakvot.yaml", b"a: 1\n", writeback=False)
    assert (tmp_path / "sub" / "votakvot.yaml").read_bytes() == b"a: 1\n"
    assert os.listdir(tmp_path / "sub") == ["votakvot.yaml"]


@pytest.mark.parametrize("writeback", [True, False])
def test_a_reader_never_finds_the_file_missing_or_half_written(tmp_path: Path, writeback: bool):
    versions = [f"version: {i}\n".encode() * (1 + i % 300) for i in range(1500)]
    confined.write_below(str(tmp_path), "doc.yaml", versions[0])
    seen: list[bytes] = []
    problems: list[BaseException | bytes] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                data = (tmp_path / "doc.yaml").read_bytes()
            except OSError as e:
                problems.append(e)
                return
            if not data or len(set(data.splitlines())) != 1:
                problems.append(data)
                return
            seen.append(data)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for data in versions[1:]:
            confined.write_below(str(tmp_path), "doc.yaml", data, writeback=writeback)
    finally:
        done.set()
        reader.join()
    assert problems == []
    assert seen, "the reader ran"
    assert (tmp_path / "doc.yaml").read_bytes() == versions[-1]
    assert os.listdir(tmp_path) == ["doc.yaml"]


@pytest.mark.parametrize("writeback", [True, False])
def test_a_write_without_writeback_replaces_a_link_without_following_it(tmp_path: Path, writeback: bool):
    outside = tmp_path / "victim.txt"
    outside.write_text("precious")
    folder = tmp_path / "trial"
    folder.mkdir()
    os.symlink(outside, folder / "votakvot.yaml")
    confined.write_below(str(folder), "votakvot.yaml", b"a: 1\n", writeback=writeback)
    assert not (folder / "votakvot.yaml").is_symlink()
    assert (folder / "votakvot.yaml").read_bytes() == b"a: 1\n"
    assert outside.read_text() == "precious"
    assert os.listdir(folder) == ["votakvot.yaml"]


@pytest.mark.parametrize("writeback", [True, False])
def test_a_folder_planted_at_the_name_is_left_in_place_and_the_write_fails(tmp_path: Path, writeback: bool):
    (tmp_path / "votakvot.yaml").mkdir()
    (tmp_path / "votakvot.yaml" / "inside.txt").write_text("kept")
    with pytest.raises(IsADirectoryError):
        confined.write_below(str(tmp_path), "votakvot.yaml", b"a: 1\n", writeback=writeback)
    assert (tmp_path / "votakvot.yaml" / "inside.txt").read_text() == "kept"
    assert os.listdir(tmp_path) == ["votakvot.yaml"]


def _writebacks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """Records, for each local write of a trial document, whether it asked for write-back; the
    writes themselves are made as always."""
    calls: list[tuple[str, bool]] = []
    real = confined.write_below

    def recording(folder: str, name: str, data: bytes, *, writeback: bool = True) -> None:
        if name == "votakvot.yaml":
            calls.append((data.split(b"\n")[2].decode(), writeback))
        real(folder, name, data, writeback=writeback)

    monkeypatch.setattr(confined, "write_below", recording)
    return calls


def test_a_short_trial_swaps_its_final_document_for_its_start_one(local_root, monkeypatch):
    calls = _writebacks(monkeypatch)
    votakvot.init(path=local_root)
    with votakvot.trial("quick", a=1) as t:
        t.result = 2
    assert calls == [("status: running", True), ("status: done", False)]
    (trial,) = votakvot.load_trials(local_root).values()
    assert (trial.status, trial.result, trial.params) == ("done", 2, {"a": 1})


def test_never_two_documents_in_a_row_skip_writeback(local_root, monkeypatch):
    """A document written at each tick (after `inform`) within the second: only every other one
    is swapped in, so the document on disk has never gone long without being written back."""
    calls = _writebacks(monkeypatch)
    votakvot.init(path=local_root, flush_interval=0.05)
    with votakvot.trial("informing") as t:
        for i in range(4):
            written = len(calls)
            t.inform(step=i)
            deadline = time.monotonic() + 10
            while len(calls) == written and time.monotonic() < deadline:
                time.sleep(0.01)
    flags = [writeback for _, writeback in calls]
    assert len(flags) >= 5
    assert flags[0] is True
    assert all(a or b for a, b in itertools.pairwise(flags)), flags
    assert False in flags


def test_a_document_replaced_after_a_second_is_written_back(local_root, monkeypatch):
    calls = _writebacks(monkeypatch)
    votakvot.init(path=local_root)
    with votakvot.trial("slow"):
        time.sleep(1.1)
    assert calls == [("status: running", True), ("status: done", True)]
