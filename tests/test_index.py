"""The local report index: warm loads read only what changed, and the files stay the only truth."""

from __future__ import annotations

import os
import pickle
import shutil
import time
from pathlib import Path

import pytest
import yaml

import votakvot
from conftest import run_python
from votakvot._read import discovery


def _index_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "votakvot-cache").glob("index/*.pickle"))


def _train(lr: float, note: str = "") -> None:
    with votakvot.trial("train", lr=lr) as t:
        t.inform(note=note)
        t.result = lr * 10


def _age(folder: str, seconds: float = 10) -> None:
    """Moves a trial folder's timestamps into the past, as if it was written a while ago."""
    past = time.time() - seconds
    for dirpath, _, files in os.walk(folder):
        for name in files:
            os.utime(os.path.join(dirpath, name), (past, past))
    for dirpath, _, _ in sorted(os.walk(folder), reverse=True):
        os.utime(dirpath, (past, past))


@pytest.fixture
def settle(monkeypatch: pytest.MonkeyPatch):
    """Returns a function that makes everything written so far old enough for the index to trust
    its timestamps.

    Files changed within the last 2 s are always checked again (their timestamps may not have
    moved yet), and a status change (ctime) cannot be set back, so rather than wait 2 s the
    index's clock is moved 3 s ahead (what is written afterwards looks as old: stamps alone must
    then show its changes).
    """

    def settle() -> None:
        monkeypatch.setattr(discovery, "_clock_ns", lambda: time.time_ns() + 3_000_000_000)

    return settle


def test_index_lives_in_the_cache_folder_and_pieces_in_the_store(local_root, tmp_path, settle):
    """load_report writes its local index under VOTAKVOT_CACHE_DIR; in the trial store it adds
    only pieces of the shared index in `.votakvot/index/`, and nothing with share_index="read"."""
    votakvot.init(path=local_root, share_index="read")
    _train(0.1)
    settle()
    before = sorted(p.relative_to(local_root) for p in Path(local_root).rglob("*"))
    votakvot.load_report()
    assert len(_index_files(tmp_path)) == 1
    assert sorted(p.relative_to(local_root) for p in Path(local_root).rglob("*")) == before
    votakvot.init(path=local_root)
    votakvot.load_report(f"{local_root}/train")  # the root's pieces, from a load below it
    added = {str(p.relative_to(local_root)) for p in Path(local_root).rglob("*")} - {str(p) for p in before}
    assert {p for p in added if not p.endswith(".json")} == {".votakvot", ".votakvot/index"}
    assert len(added) == 3


def test_warm_load_sees_added_changed_and_deleted_trials(local_root):
    """A second load reflects trials added, rewritten or removed since the first one."""
    votakvot.init(path=local_root)
    for lr in (0.1, 0.2, 0.3):
        _train(lr)
    _age(local_root)
    first = votakvot.load_report()
    assert sorted(first["lr"]) == [0.1, 0.2, 0.3]

    by_lr = {row.lr: row.trial for row in first.itertuples()}
    shutil.rmtree(by_lr[0.1].path)
    doc = Path(by_lr[0.2].path) / "votakvot.yaml"
    data = yaml.safe_load(doc.read_text())
    data["info"]["note"] = "edited by hand"
    doc.write_text(yaml.safe_dump(data))  # in place, as an editor would
    _train(0.4, note="new")

    second = votakvot.load_report()
    assert sorted(second["lr"]) == [0.2, 0.3, 0.4]
    notes = dict(zip(second["lr"], second["note"], strict=True))
    assert notes[0.2] == "edited by hand" and notes[0.4] == "new"


def test_a_running_trial_that_finished_is_seen_done(local_root):
    """A trial indexed while running shows up as done (with its result) once it finished."""
    votakvot.init(path=local_root)
    with votakvot.trial("slow", lr=1) as t:
        _age(t.path)
        running = votakvot.load_report()
        assert running["status"].tolist() == ["running"]
        t.result = 42
    done = votakvot.load_report()
    assert done["status"].tolist() == ["done"] and done["result"].tolist() == [42]


def test_deleting_the_index_loses_nothing(local_root, tmp_path):
    """With its index deleted, the next load rebuilds it from the trial files and returns the same report."""
    votakvot.init(path=local_root)
    for lr in (0.1, 0.2):
        _train(lr)
    _age(local_root)
    first = votakvot.load_report(full=True).drop(columns="trial")
    for path in _index_files(tmp_path):
        path.unlink()
    again = votakvot.load_report(full=True).drop(columns="trial")
    assert again.equals(first)
    assert _index_files(tmp_path)


def test_warm_report_equals_the_cold_one(local_root, settle):
    """A report served from the index is identical to one parsed from the files, also with full=True."""
    votakvot.init(path=local_root)
    for lr in (0.1, 0.2):
        _train(lr, note="n")
    with pytest.raises(ZeroDivisionError), votakvot.trial("bad", x={"nested": [1, 2]}):
        1 / 0  # noqa: B018
    settle()
    for full in (False, True):
        cold = votakvot.load_report(full=full, index=False).drop(columns="trial")
        votakvot.load_report(full=full)
        warm = votakvot.load_report(full=full).drop(columns="trial")
        assert warm.equals(cold), full


def test_index_can_be_turned_off(local_root, tmp_path, monkeypatch):
    """index=False and VOTAKVOT_INDEX=0 load without reading or writing an index."""
    votakvot.init(path=local_root)
    _train(0.1)
    assert len(votakvot.load_report(index=False)) == 1
    monkeypatch.setenv("VOTAKVOT_INDEX", "0")
    assert len(votakvot.load_report()) == 1
    assert _index_files(tmp_path) == []


def test_a_corrupt_index_is_ignored_and_rebuilt(local_root, tmp_path):
    """An index file with garbage in it is ignored; the report is right and the index is rewritten."""
    votakvot.init(path=local_root)
    _train(0.1)
    _age(local_root)
    votakvot.load_report()
    (index,) = _index_files(tmp_path)
    index.write_bytes(b"\x80\x05garbage")
    assert votakvot.load_report()["lr"].tolist() == [0.1]
    assert index.read_bytes() != b"\x80\x05garbage"


class _Boom:
    def __reduce__(self):
        return (os.system, ("touch PWNED-BY-INDEX",))


def test_a_hostile_index_runs_no_code(local_root, tmp_path):
    """An index file crafted to run code when unpickled is refused, and nothing runs."""
    votakvot.init(path=local_root)
    _train(0.1)
    votakvot.load_report()
    (index,) = _index_files(tmp_path)
    index.write_bytes(pickle.dumps({"format": 1, "key": "x", "entries": _Boom(), "listings": {}}))
    assert votakvot.load_report()["lr"].tolist() == [0.1]
    assert not (tmp_path / "PWNED-BY-INDEX").exists() and not Path("PWNED-BY-INDEX").exists()


def test_trials_written_by_another_process_right_after_a_load_are_seen(local_root, tmp_path):
    """Trials added within the same second as an indexed load still show up (racy timestamps)."""
    votakvot.init(path=local_root)
    _train(0.1)
    votakvot.load_report()
    code = f"import votakvot\nvotakvot.init(path={local_root!r})\nwith votakvot.trial('train', lr=0.2): pass\n"
    assert run_python(code, cwd=tmp_path).wait(timeout=60) == 0
    assert sorted(votakvot.load_report()["lr"]) == [0.1, 0.2]


def test_globs_are_served_from_the_index_too(local_root):
    """Loading a glob after loading the root returns exactly the glob's trials."""
    votakvot.init(path=local_root)
    _train(0.1)
    with votakvot.trial("other", lr=0.5):
        pass
    _age(local_root)
    assert len(votakvot.load_report()) == 2
    assert votakvot.load_report(f"{local_root}/train/**")["lr"].tolist() == [0.1]
    assert votakvot.load_report(f"{local_root}/*/*/*/*/*/*").empty
    assert sorted(votakvot.load_report(f"{local_root}/*/*/*")["lr"]) == [0.1, 0.5]
    assert sorted(votakvot.load_report(f"{local_root}/*")["lr"]) == [0.1, 0.5]


def test_memory_store_uses_the_index(tmp_path):
    """Remote (here memory://) stores are indexed by document signature from one listing."""
    import uuid

    root = f"memory://index-test/{uuid.uuid4().hex}"
    votakvot.init(path=root)
    _train(0.1)
    assert votakvot.load_report()["lr"].tolist() == [0.1]
    _train(0.2)
    assert sorted(votakvot.load_report()["lr"]) == [0.1, 0.2]


def _stamps(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_atime_ns, st.st_mtime_ns


def test_changes_that_keep_timestamps_are_still_seen(local_root, settle):
    """A trial created inside an indexed trial folder, and a document swapped for one of the same
    size, both show up although their mtimes are put back exactly (as a sync tool keeping
    timestamps would do)."""
    votakvot.init(path=local_root)
    with votakvot.trial_at("outer", lr=1):
        pass
    with votakvot.trial_at("swapped", lr=0.1):
        pass
    settle()
    assert votakvot.load_report()["tid"].tolist() == ["outer", "swapped"]

    outer = Path(local_root) / "outer"
    outer_before = _stamps(outer)
    with votakvot.trial_at("outer/inner", lr=2):
        pass
    os.utime(outer, ns=outer_before)

    swapped = Path(local_root) / "swapped"
    doc = swapped / "votakvot.yaml"
    doc_before, folder_before = _stamps(doc), _stamps(swapped)
    text = doc.read_text()
    assert "lr: 0.1\n" in text
    (swapped / "edited.tmp").write_text(text.replace("lr: 0.1\n", "lr: 0.9\n"))
    os.replace(swapped / "edited.tmp", doc)
    os.utime(doc, ns=doc_before)
    os.utime(swapped, ns=folder_before)
    assert os.stat(doc).st_size == len(text)

    report = votakvot.load_report()
    assert report["tid"].tolist() == ["outer", "swapped", "outer/inner"]  # by creation time
    assert report["lr"].tolist() == [1, 0.9, 2]


def test_a_full_load_after_a_glob_load_still_returns_every_trial(local_root, settle):
    """Loading a glob, then the whole root, gives every trial again, from the same index."""
    votakvot.init(path=local_root)
    _train(0.1)
    with votakvot.trial("other", lr=0.5):
        pass
    settle()
    assert sorted(votakvot.load_report()["lr"]) == [0.1, 0.5]
    assert votakvot.load_report(f"{local_root}/o*/**")["lr"].tolist() == [0.5]  # one index: the root's
    assert sorted(votakvot.load_report()["lr"]) == [0.1, 0.5]
    assert votakvot.load_report(f"{local_root}/t*")["lr"].tolist() == [0.1]


def test_trial_ids_follow_the_root_when_it_changes_between_loads(local_root, settle):
    """An indexed load names trials relative to the current root, not the one of the last load."""
    votakvot.init(path=local_root)
    with votakvot.trial_at("exp/a", lr=1):
        pass
    os.renames(Path(local_root) / "exp" / "a", Path(local_root) / "moved" / "b")  # its recorded tid no longer fits
    settle()
    votakvot.testing.reset()
    assert votakvot.load_report(f"{local_root}/moved")["tid"].tolist() == ["b"]
    votakvot.init(path=local_root)
    assert votakvot.load_report(f"{local_root}/moved")["tid"].tolist() == ["moved/b"]


def _damaged(data: dict, how: str) -> dict:
    """A copy of unpickled index data, damaged in one way a broken or hand-made file could be."""
    data = pickle.loads(pickle.dumps(data))
    table, listings = data["table"], data["listings"]
    if how == "ragged columns":
        table["values"] = table["values"][:1]
    elif how == "a folder that is a number":
        table["folders"][0] = 7
    elif how == "a listed subfolder that is a number":
        stamp, _, has_doc = next(iter(listings.values()))
        listings[next(iter(listings))] = (stamp, (0,), has_doc)
    elif how == "a missing column":
        del table["extras"]
    return data


def test_a_malformed_index_is_ignored(local_root, tmp_path, settle):
    """An index file of the current format whose data has the wrong shape is not trusted: the
    report is read from the trial files (no crash, no wrong rows)."""
    votakvot.init(path=local_root)
    _train(0.1)
    _train(0.2)
    settle()
    votakvot.load_report()
    (index,) = _index_files(tmp_path)
    good = pickle.loads(index.read_bytes())
    damages = ("ragged columns", "a folder that is a number", "a listed subfolder that is a number", "a missing column")
    for how in damages:
        index.write_bytes(pickle.dumps(_damaged(good, how)))
        assert sorted(votakvot.load_report()["lr"]) == [0.1, 0.2], how
