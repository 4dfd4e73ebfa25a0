"""Writes into a local trial folder never follow a symbolic link planted in it."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

import votakvot
from conftest import read_yaml
from votakvot.errors import AttachPathError, StorageError, SymlinkError, TrialLoadError

FAST = {"heartbeat": 0.2, "flush_interval": 0.1}


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside every trial folder, holding a file that must never change."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "victim.txt").write_text("precious")
    return folder


def _untouched(outside: Path) -> bool:
    return sorted(os.listdir(outside)) == ["victim.txt"] and (outside / "victim.txt").read_text() == "precious"


def _planted(local_root: str, tid: str, links: dict[str, Path]) -> Path:
    """Makes the folder of the explicit id `tid` with the given links in it, as someone else could."""
    folder = Path(local_root, tid)
    folder.mkdir(parents=True)
    for name, target in links.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, folder / name)
    return folder


@pytest.mark.parametrize("how", ["handle", "module"])
@pytest.mark.parametrize("name", ["notes.txt", "link/evil.txt"], ids=["file-link", "folder-link"])
def test_attach_refuses_a_link_that_leaves_the_folder(local_root, outside, name, how):
    """attach() through a link planted in the trial folder (to a file or to a folder outside it)
    raises AttachPathError, naming the link problem, and writes nothing outside."""
    _planted(local_root, "exp", {"notes.txt": outside / "victim.txt", "link": outside})
    votakvot.init(path=local_root, **FAST)
    with votakvot.trial_at("exp") as t:
        opener = t.attach if how == "handle" else votakvot.attach
        with pytest.raises(AttachPathError, match="symbolic link") as caught, opener(name, "w") as f:
            f.write("EVIL")
        assert repr(name) in str(caught.value)
        assert isinstance(caught.value.__cause__, SymlinkError)
    assert _untouched(outside)
    assert read_yaml(f"{t.path}/votakvot.yaml")["status"] == "done"


@pytest.mark.parametrize(
    ("mode", "error"),
    [("a", AttachPathError), ("wb", AttachPathError), ("r+", AttachPathError), ("x", FileExistsError)],
)
def test_attach_refuses_a_link_in_every_writing_mode(local_root, outside, mode, error):
    """Appending, binary and read-write modes refuse a planted link as well; exclusive mode finds the name taken."""
    _planted(local_root, "exp", {"notes.txt": outside / "victim.txt"})
    votakvot.init(path=local_root, **FAST)
    with votakvot.trial_at("exp") as t, pytest.raises(error):
        t.attach("notes.txt", mode)
    assert _untouched(outside)


def test_a_link_that_stays_inside_the_folder_is_refused_too(local_root):
    """Any link below the trial folder is refused, even one pointing inside it: votakvot makes none itself."""
    folder = _planted(local_root, "exp", {})
    (folder / "real").mkdir()
    os.symlink(folder / "real", folder / "alias")
    votakvot.init(path=local_root, **FAST)
    with votakvot.trial_at("exp") as t, pytest.raises(AttachPathError):
        t.attach("alias/x.txt")
    assert os.listdir(folder / "real") == []


def test_a_dangling_link_is_not_created_through(local_root, tmp_path):
    """A link to a file that does not exist yet is refused, not followed to create that file."""
    _planted(local_root, "exp", {"notes.txt": tmp_path / "created-outside.txt"})
    votakvot.init(path=local_root, **FAST)
    with votakvot.trial_at("exp") as t, pytest.raises(AttachPathError):
        t.attach("notes.txt")
    assert not (tmp_path / "created-outside.txt").exists()


def test_metrics_are_not_appended_through_a_planted_metrics_csv(local_root, outside):
    """A call() whose folder holds a metrics.csv link to a file outside is refused before it runs
    (an explicit id never continues through a link); the file it points to is untouched."""
    _planted(local_root, "job", {"metrics.csv": outside / "victim.txt"})
    votakvot.init(path=local_root, **FAST)
    ran = []

    def fn(x):
        ran.append(x)
        votakvot.meter(loss=x)
        return x

    with pytest.raises(TrialLoadError, match="symbolic link"):
        votakvot.call("job", fn, {"x": 1})
    assert ran == []
    assert _untouched(outside)


def test_a_fresh_trial_does_not_append_through_a_link_planted_while_it_runs(local_root, outside):
    """A metrics.csv link planted in a running trial's folder is not written through: the rows that
    could not be stored end the block with StorageError, caused by a SymlinkError."""
    votakvot.init(path=local_root, **FAST)
    with pytest.raises(StorageError) as caught, votakvot.trial("job") as t:
        os.symlink(outside / "victim.txt", Path(t.path) / "metrics.csv")
        t.meter(loss=1)
        t.result = 1
    assert caught.value.result == 1
    assert _untouched(outside)
    assert any(isinstance(e, SymlinkError) and "metrics.csv" in str(e) for _, e in caught.value.failures)


def test_the_document_is_never_written_through_a_planted_link(local_root, outside):
    """votakvot.yaml planted as a link to a file outside: continuing that id is refused, and the
    file outside is untouched."""
    folder = _planted(local_root, "job", {"votakvot.yaml": outside / "victim.txt"})
    votakvot.init(path=local_root, **FAST)
    with pytest.raises(TrialLoadError, match="symbolic link"), votakvot.trial_at("job", a=1):
        pass
    assert _untouched(outside)
    assert (folder / "votakvot.yaml").is_symlink()


def test_an_atomic_write_never_follows_a_link_at_its_temp_name(local_root, outside):
    """A link planted where the atomic write puts its temp file is refused, not written through:
    the trial document cannot be stored, which the trial reports as a StorageError."""
    folder = _planted(local_root, "job", {})
    temp = f".tmp-votakvot.yaml.{os.getpid()}.{threading.get_ident()}"
    os.symlink(outside / "victim.txt", folder / temp)
    votakvot.init(path=local_root, **FAST)
    with pytest.raises(StorageError) as caught, votakvot.trial_at("job", a=1):
        pass
    assert _untouched(outside)
    assert any(isinstance(e, SymlinkError) for _, e in caught.value.failures)


def test_sink_files_refuse_a_linked_sub_folder(local_root, outside):
    """A sink writing `sub/x` through `TrialView.files` gets SymlinkError when `sub` is a planted link."""
    _planted(local_root, "job", {"sub": outside})
    votakvot.init(path=local_root, **FAST)
    with votakvot.trial_at("job") as t:
        with pytest.raises(SymlinkError, match=r"'sub/x\.json'"):
            t.files.write("sub/x.json", b"{}")
        with pytest.raises(SymlinkError), t.files.open("sub/y.txt", "w"):
            pass
        t.files.write("fine/x.json", b"{}")
    assert _untouched(outside)
    assert (Path(t.path) / "fine" / "x.json").read_bytes() == b"{}"


def test_files_are_read_through_links(local_root, outside):
    """Reading is not writing: a loaded trial opens an attached file that is a link."""
    votakvot.init(path=local_root, **FAST)
    with votakvot.trial("exp") as t:
        pass
    os.symlink(outside / "victim.txt", Path(t.path) / "shared.txt")
    (trial,) = votakvot.load_trials(local_root).values()
    with trial.attach("shared.txt") as f:
        assert f.read() == b"precious"


def test_an_atomic_write_replaces_a_link_at_its_name(local_root, outside):
    """A whole-file write (`TrialFiles.write`) over a planted link replaces the link itself; the
    file it pointed to is untouched."""
    votakvot.init(path=local_root, **FAST)
    with votakvot.trial("job") as t:
        os.symlink(outside / "victim.txt", Path(t.path) / "notes.json")
        t.files.write("notes.json", b"{}")
    assert _untouched(outside)
    assert not (Path(t.path) / "notes.json").is_symlink()
    assert (Path(t.path) / "notes.json").read_bytes() == b"{}"
