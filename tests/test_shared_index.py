"""The shared report index: pieces left in the store let the next reader anywhere skip parsing,
and a stale, hostile or unwritable store never makes a report wrong."""

from __future__ import annotations

import datetime
import json
import math
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import fsspec
import pytest

import votakvot
from conftest import SRC, moto_s3_server
from votakvot._read import discovery

PIECES = ".votakvot/index"
# A child process whose index trusts what was written up to now (as the `settle` fixture does here).
CHILD_PRELUDE = (
    "import time, votakvot\n"
    "from votakvot._read import discovery\n"
    "discovery._clock_ns = lambda: time.time_ns() + 3_000_000_000\n"
)


@pytest.fixture
def settle(monkeypatch: pytest.MonkeyPatch):
    """Makes what was written so far old enough for indexes to trust its timestamps (see test_index)."""

    def settle() -> None:
        monkeypatch.setattr(discovery, "_clock_ns", lambda: time.time_ns() + 3_000_000_000)

    return settle


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Returns a function that makes this process another machine: a fresh, empty local cache."""

    def new_machine(name: str | None = None) -> Path:
        cache = tmp_path / f"cache-{name or uuid.uuid4().hex}"
        monkeypatch.setenv("VOTAKVOT_CACHE_DIR", str(cache))
        return cache

    return new_machine


def _load(path: str | None = None, **kwargs):
    """Loads a report; returns it and how many documents the load parsed (its progress total)."""
    calls: list[tuple[int, int]] = []
    report = votakvot.load_report(path, progress=lambda done, total: calls.append((done, total)), **kwargs)
    return report, calls[-1][1] if calls else 0


def _pieces(root: str) -> list[str]:
    fs, path = fsspec.core.url_to_fs(root)
    folder = f"{path}/{PIECES}"
    fs.invalidate_cache(folder)
    if not fs.exists(folder):
        return []
    return sorted(p for p in fs.ls(folder, detail=False) if p.endswith(".json"))


def _read_piece(root: str, path: str) -> dict:
    fs, _ = fsspec.core.url_to_fs(root)
    return json.loads(fs.cat_file(path))


def _replace_pieces(root: str, *pieces: bytes) -> None:
    """Removes every piece and puts `pieces` in their place."""
    fs, path = fsspec.core.url_to_fs(root)
    for old in _pieces(root):
        fs.rm_file(old)
    for i, data in enumerate(pieces):
        fs.pipe_file(f"{path}/{PIECES}/{time.time_ns() + i:020d}-{uuid.uuid4().hex}.json", data)


def _same(a, b) -> bool:
    return a.drop(columns="trial").equals(b.drop(columns="trial")) and list(a.dtypes) == list(b.dtypes)


def _trials(n: int, name: str = "train") -> None:
    for i in range(n):
        with votakvot.trial(name, lr=0.1 * (i + 1), layers=[64, 64]) as t:
            t.result = i


def test_a_new_reader_parses_nothing_another_reader_shared(root, machine, settle):
    """A reader with an empty local cache takes every row from the pieces a first reader left."""
    votakvot.init(path=root)
    _trials(3)
    settle()
    machine("a")
    first, parsed = _load()
    assert parsed == 3 and len(_pieces(root)) == 1
    machine("b")
    second, parsed = _load()
    assert parsed == 0
    assert _same(second, first) and second["lr"].tolist() == [0.1, 0.2, 0.30000000000000004]
    assert _same(votakvot.load_report(index=False), second)
    third, parsed = _load()  # b's own index now
    assert parsed == 0 and _same(third, first)


def test_every_kind_of_value_reads_back_from_a_piece_as_parsed(local_root, machine, settle):
    """Rows from pieces equal parsed rows, types included: nested params, lists, tuples, dates,
    NaN, big integers, text, failed trials, and every field with full=True."""
    votakvot.init(path=local_root)
    with votakvot.trial("kinds", opt={"lr": 0.1, "betas": (0.9, 0.99)}, when=datetime.date(2025, 1, 2)) as t:
        t.inform(at=datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=5))))
        t.inform(note="naïve 🙂 text", big=2**70, raw=b"\x00\x01", empty=None, flags=[True, None, 1.5])
        t.result = {"loss": math.nan, "acc": 1.0}
    with pytest.raises(ZeroDivisionError), votakvot.trial("fails", x=1):
        1 / 0  # noqa: B018
    settle()
    for full in (False, True):
        machine(f"parse-{full}")
        parsed_report, parsed = _load(full=full)
        assert parsed == 2
        machine(f"shared-{full}")
        shared_report, parsed = _load(full=full)
        assert parsed == 0, full
        assert _same(shared_report, parsed_report), full
        assert _same(shared_report, votakvot.load_report(full=full, index=False)), full


def test_a_document_changed_since_it_was_shared_is_parsed_again(local_root, machine, settle):
    """A row is used only while the document's signature is the one the piece recorded."""
    votakvot.init(path=local_root)
    _trials(2)
    settle()
    machine("a")
    first, _ = _load()
    doc = Path(first.trial[0].path) / "votakvot.yaml"
    doc.write_text(doc.read_text().replace("result: 0\n", "result: 7\n"))  # in place, same size
    settle()
    machine("b")
    second, parsed = _load()
    assert parsed == 1 and second["result"].tolist() == [7, 1]


def test_live_trials_are_never_shared(local_root, machine, settle):
    """A running trial's row stays out of pieces: every reader reads its document."""
    votakvot.init(path=local_root)
    _trials(1)
    with votakvot.trial("slow", lr=1):
        settle()
        machine("a")
        _load()
        (piece,) = _pieces(local_root)
        assert _read_piece(local_root, piece)["rows"]["statuses"] == ["done"]
        machine("b")
        report, parsed = _load()
        assert parsed == 1 and sorted(report["status"]) == ["done", "running"]


def _good_piece(root: str, machine, settle) -> dict:
    """Two trials (lr 0.1 and 0.2, results 0 and 1) and the piece a first reader left for them."""
    votakvot.init(path=root)
    _trials(2)
    settle()
    machine("writer")
    _load()
    (piece,) = _pieces(root)
    return _read_piece(root, piece)


def _hostile(piece: dict, how: str, outside: Path) -> bytes:
    rows = piece["rows"]
    if how == "not JSON":
        return b'{"kind": "votakvot report index piece", "format": 1, "rows": {'
    if how == "wrong types":
        rows["statuses"] = [1, 2]
    elif how == "a row naming ../outside":
        rows["folders"][0] = "../" + outside.name + "/trial"
    elif how == "an absolute folder":
        rows["folders"][0] = str(outside / "trial")
    elif how == "a hidden folder":
        rows["folders"][0] = ".votakvot/x"
    elif how == "a live status":
        rows["statuses"][0] = "running"
    elif how == "a shape that does not fit":
        rows["values"][0] = rows["values"][0][:-1]
    elif how == "an unknown tag":
        rows["values"][0][0] = {"$call": "os.system"}
    elif how == "a listing naming ..":
        piece["listings"]["subfolders"][0] = [".."]
    elif how == "a column missing":
        del rows["errors"]
    text = json.dumps(piece) if how != "a value nested too deep" else _deep(piece)
    return text.encode()


def _deep(piece: dict) -> str:
    piece["rows"]["values"][0][0] = "DEEP"
    return json.dumps(piece).replace('"DEEP"', "[" * 100_000 + "]" * 100_000)


HOSTILE = [
    "not JSON",
    "wrong types",
    "a row naming ../outside",
    "an absolute folder",
    "a hidden folder",
    "a live status",
    "a shape that does not fit",
    "an unknown tag",
    "a value nested too deep",
    "a listing naming ..",
    "a column missing",
]


@pytest.mark.parametrize("how", HOSTILE)
def test_a_hostile_piece_is_ignored_whole(local_root, tmp_path, machine, settle, how):
    """A piece that is not what votakvot writes is not used at all: every document is parsed,
    nothing outside the root is read, and the report is right."""
    outside = tmp_path / "outside"
    piece = _good_piece(local_root, machine, settle)
    (outside / "trial").mkdir(parents=True)
    shutil.copy(next(Path(local_root).rglob("votakvot.yaml")), outside / "trial" / "votakvot.yaml")
    _replace_pieces(local_root, _hostile(piece, how, outside))
    settle()
    machine("reader")
    report, parsed = _load()
    assert parsed == 2
    assert report["lr"].tolist() == [0.1, 0.2] and report["result"].tolist() == [0, 1]
    assert all(str(path).startswith(local_root) for path in report["trial"].map(lambda t: t.path))


def test_a_row_whose_signature_matches_nothing_is_not_used(local_root, machine, settle):
    """A row recorded for another version of a document is left aside; the document is parsed."""
    piece = _good_piece(local_root, machine, settle)
    mtimes = piece["rows"]["signature"][0]  # the documents' mtimes, one per row
    mtimes[:] = [12345] * len(mtimes)
    _replace_pieces(local_root, json.dumps(piece).encode())
    machine("reader")
    report, parsed = _load()
    assert parsed == 2 and report["result"].tolist() == [0, 1]


def test_a_well_formed_row_with_the_right_signature_is_trusted_like_the_document(local_root, machine, settle):
    """Whoever can write pieces into the store can rewrite its documents too: a row that passes
    every check and whose signature is the document's is used as it is (README: "The report
    index"). A reader that trusts no one else's pieces turns them off with share_index=False."""
    piece = _good_piece(local_root, machine, settle)
    piece["rows"]["values"][0][-1] = 99  # the first trial's result
    _replace_pieces(local_root, json.dumps(piece).encode())
    machine("trusting")
    report, parsed = _load()
    assert parsed == 0 and report["result"].tolist() == [99, 1]
    votakvot.init(path=local_root, share_index=False)
    machine("distrusting")
    report, parsed = _load()
    assert parsed == 2 and report["result"].tolist() == [0, 1]


def test_a_forged_listing_never_leads_through_a_link(local_root, tmp_path, machine, settle):
    """A listing naming a link to a folder outside the root is not followed (the walk never
    follows links below the loaded folder), even when its stamp is the folder's."""
    piece = _good_piece(local_root, machine, settle)
    outside = tmp_path / "outside" / "secret"
    outside.mkdir(parents=True)
    shutil.copy(next(Path(local_root).rglob("votakvot.yaml")), outside / "votakvot.yaml")
    os.symlink(outside, Path(local_root) / "evil")
    st = os.stat(local_root)
    listings = piece["listings"]
    listings.update(folders=[""], mtimes=[st.st_mtime_ns], ctimes=[st.st_ctime_ns])
    listings.update(subfolders=[["evil", "train"]], documents=[False])
    _replace_pieces(local_root, json.dumps(piece).encode())
    assert os.stat(local_root).st_mtime_ns == st.st_mtime_ns  # the forged stamp is the real one
    machine("reader")
    report, _ = _load()
    assert report["lr"].tolist() == [0.1, 0.2]


def test_sharing_can_be_turned_off_or_made_read_only(local_root, machine, settle, monkeypatch):
    """index=False and VOTAKVOT_INDEX=0 neither read nor write pieces; share_index="read" (or
    VOTAKVOT_SHARE_INDEX=read) reads them and writes none; share_index=False (or =0) ignores them."""
    votakvot.init(path=local_root, share_index="read")
    _trials(2)
    settle()
    machine("a")
    assert _load()[1] == 2 and _pieces(local_root) == []
    votakvot.init(path=local_root)
    machine("b")
    assert _load(index=False)[1] == 2 and _pieces(local_root) == []
    monkeypatch.setenv("VOTAKVOT_INDEX", "0")
    assert _load()[1] == 2 and _pieces(local_root) == []
    monkeypatch.delenv("VOTAKVOT_INDEX")
    monkeypatch.setenv("VOTAKVOT_SHARE_INDEX", "0")
    assert _load()[1] == 2 and _pieces(local_root) == []
    monkeypatch.delenv("VOTAKVOT_SHARE_INDEX")
    machine("c")
    assert _load()[1] == 2 and len(_pieces(local_root)) == 1

    monkeypatch.setenv("VOTAKVOT_SHARE_INDEX", "read")
    machine("d")
    assert _load()[1] == 0  # reads the piece
    _trials(1, name="more")
    settle()
    machine("e")
    assert _load()[1] == 1 and len(_pieces(local_root)) == 1  # parses the new trial, shares nothing
    monkeypatch.setenv("VOTAKVOT_SHARE_INDEX", "0")
    machine("f")
    assert _load()[1] == 3 and len(_pieces(local_root)) == 1  # ignores the piece


def test_loads_below_the_root_use_the_roots_pieces(local_root, machine, settle):
    """With a root from init, a load of a sub-folder or a glob uses (and adds to) the root's
    pieces; without one, a folder's pieces live in the folder loaded."""
    votakvot.init(path=local_root)
    _trials(2, name="a")
    _trials(1, name="b")
    settle()
    machine("root")
    _load()
    machine("sub")
    sub, parsed = _load(f"{local_root}/a")
    assert parsed == 0 and len(sub) == 2
    machine("glob")
    assert _load(f"{local_root}/*/**")[1] == 0
    votakvot.testing.reset()  # no root: the folder loaded keeps its own pieces
    machine("no-root")
    assert _load(f"{local_root}/b")[1] == 1
    assert len(_pieces(f"{local_root}/b")) == 1


def test_a_trial_folder_gets_no_index_inside_it(local_root, machine, settle):
    """Loading one trial's folder leaves no pieces inside that trial folder."""
    votakvot.init(path=local_root)
    with votakvot.trial_at("only", lr=1):
        pass
    settle()
    votakvot.testing.reset()
    machine()
    assert len(_load(f"{local_root}/only")[0]) == 1
    assert not (Path(local_root) / "only" / ".votakvot").exists()


def test_many_pieces_are_merged_into_one(local_root, machine, settle):
    """A load of the whole root that lists COMPACT_AT pieces or more replaces them with one, and
    the next new reader still parses nothing."""
    from votakvot._read.shared_index import COMPACT_AT

    votakvot.init(path=local_root)
    for i in range(COMPACT_AT):
        _trials(1, name=f"n{i}")
        settle()
        machine()
        _load()
    assert len(_pieces(local_root)) == COMPACT_AT
    _trials(1, name="last")
    settle()
    machine()
    merged, parsed = _load()
    assert parsed == 1 and len(_pieces(local_root)) == 1
    machine()
    again, parsed = _load()
    assert parsed == 0 and _same(again, merged) and len(again) == COMPACT_AT + 1


def test_small_pieces_beside_a_large_one_wait_until_they_are_worth_merging(local_root, machine, settle, monkeypatch):
    """A load does not rewrite a large piece for a few small ones: pieces are merged once the
    smaller ones hold a quarter of the largest, or once there are very many of them."""
    from votakvot._read import shared_index

    votakvot.init(path=local_root)
    _trials(500, name="bulk")
    settle()
    machine()
    _load()
    for i in range(shared_index.COMPACT_AT):
        _trials(1, name=f"n{i}")
        settle()
        machine()
        _load()
    assert len(_pieces(local_root)) == shared_index.COMPACT_AT + 1  # not merged: the small ones are too small
    monkeypatch.setattr(shared_index, "FORCE_COMPACT_AT", shared_index.COMPACT_AT + 1)
    _trials(1, name="last")
    settle()
    machine()
    merged, parsed = _load()
    assert parsed == 1 and len(_pieces(local_root)) == 1 and len(merged) == 500 + shared_index.COMPACT_AT + 1
    machine()
    assert _load()[1] == 0


def _read_only_load(root: str, cache: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """Loads `root` in a child process that cannot write it: a read-only bind mount in a mount
    namespace of its own when run as root (root ignores file modes), else the modes cleared."""
    code = CHILD_PRELUDE + (
        "import warnings, json\n"
        "warnings.simplefilter('error')\n"
        "calls = []\n"
        f"df = votakvot.load_report({root!r}, progress=lambda d, t: calls.append(t))\n"
        "print(json.dumps({'rows': len(df), 'parsed': calls[-1] if calls else 0, 'lr': sorted(df.lr)}))\n"
    )
    env = dict(os.environ, VOTAKVOT_CACHE_DIR=str(cache), PYTHONPATH=SRC)
    if os.geteuid() != 0:
        folders = [root] + [str(p) for p in Path(root).rglob("*") if p.is_dir()]
        for folder in folders:
            os.chmod(folder, 0o555)
        try:
            return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
        finally:
            for folder in folders:
                os.chmod(folder, 0o755)
    if shutil.which("unshare") is None:
        pytest.skip("running as root without unshare(1): no way to make a read-only store here")
    script = f'mount --bind {root} {root} && mount -o remount,ro,bind {root} && exec {sys.executable} -c "$0"'
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if "mount:" in result.stderr or "unshare:" in result.stderr:
        pytest.skip(f"cannot make a read-only mount here: {result.stderr.strip()[:200]}")
    return result


def test_a_reader_that_cannot_write_the_root_still_loads_and_uses_pieces(local_root, tmp_path, machine, settle):
    """On a store it cannot write, a reader takes what pieces hold, parses the rest, and says
    nothing (no error, no warning); the store is left as it was."""
    votakvot.init(path=local_root)
    _trials(2)
    settle()
    machine("writer")
    _load()
    _trials(1, name="later")  # not in any piece
    time.sleep(2.1)  # the child trusts stamps older than 2 s; its clock is moved 3 s ahead anyway
    before = sorted(str(p) for p in Path(local_root).rglob("*"))
    result = _read_only_load(local_root, tmp_path / "ro-cache", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = json.loads(result.stdout)
    assert out == {"rows": 3, "parsed": 1, "lr": [0.1, 0.1, 0.2]}
    assert sorted(str(p) for p in Path(local_root).rglob("*")) == before


@pytest.mark.slow
def test_concurrent_readers_and_writers_never_conflict(local_root, tmp_path):
    """Readers on several "machines" load while writers add trials; every piece they leave is
    whole, and a last new reader gets exactly the trials on disk, parsing only what no piece holds."""
    votakvot.init(path=local_root)
    writer = CHILD_PRELUDE + (
        "import sys\n"
        f"votakvot.init(path={local_root!r})\n"
        "for i in range(40):\n"
        "    with votakvot.trial(sys.argv[1], i=i) as t:\n"
        "        t.result = i\n"
    )
    reader = CHILD_PRELUDE + (
        f"import sys\nvotakvot.init(path={local_root!r})\nfor _ in range(15):\n    votakvot.load_report()\n"
    )

    def start(code: str, name: str, cache: str) -> subprocess.Popen:
        env = {"VOTAKVOT_CACHE_DIR": str(tmp_path / cache)}
        return subprocess.Popen(
            [sys.executable, "-c", code, name], cwd=tmp_path, env={**os.environ, **env, "PYTHONPATH": SRC}
        )

    procs = [start(writer, f"w{i}", "w") for i in range(2)] + [start(reader, "r", f"r{i}") for i in range(4)]
    assert all(p.wait(timeout=300) == 0 for p in procs)
    for piece in _pieces(local_root):
        assert _read_piece(local_root, piece)["kind"] == "votakvot report index piece"
    assert not [p for p in Path(local_root, PIECES).iterdir() if not p.name.endswith(".json")]
    os.environ["VOTAKVOT_CACHE_DIR"] = str(tmp_path / "last")
    try:
        time.sleep(2.1)  # what the writers wrote last is old enough to be trusted from here on
        shared, parsed = _load()
    finally:
        os.environ.pop("VOTAKVOT_CACHE_DIR")
    cold = votakvot.load_report(index=False)
    assert len(cold) == 80 and _same(shared, cold)
    assert parsed < 80


@pytest.fixture(scope="module")
def s3_store():
    """A moto S3 server with a bucket; fsspec's s3 config points at it for the module."""
    s3fs = pytest.importorskip("s3fs")
    saved_env = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    saved_conf = fsspec.config.conf.get("s3")
    try:
        with moto_s3_server() as url:
            fsspec.config.conf["s3"] = {"client_kwargs": {"endpoint_url": url}, "key": "testing", "secret": "testing"}
            s3fs.S3FileSystem.clear_instance_cache()
            fsspec.filesystem("s3").mkdir("shared-index")
            yield "s3://shared-index"
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
        if saved_conf is None:
            fsspec.config.conf.pop("s3", None)
        else:
            fsspec.config.conf["s3"] = saved_conf
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.mark.slow
def test_readers_of_an_s3_store_share_the_index(s3_store, machine):
    """On S3 a new reader takes rows from pieces when size and ETag are the ones recorded, and
    parses a document replaced since."""
    root = f"{s3_store}/{uuid.uuid4().hex}"
    votakvot.init(path=root)
    _trials(3)
    machine("a")
    first, parsed = _load()
    assert parsed == 3 and len(_pieces(root)) == 1
    machine("b")
    second, parsed = _load()
    assert parsed == 0 and _same(second, first)
    fs = fsspec.filesystem("s3")
    doc = first.trial[1].path + "/votakvot.yaml"
    fs.pipe_file(doc, fs.cat_file(doc).replace(b"result: 1\n", b"result: 5\n"))
    machine("c")
    third, parsed = _load()
    assert parsed == 1 and third["result"].tolist() == [0, 5, 2]


def test_pieces_are_written_atomically_under_their_own_names(local_root, machine, settle):
    """Each reader adds a piece of its own, named by time and uuid, and leaves no temp file."""
    votakvot.init(path=local_root)
    _trials(1)
    settle()
    machine()
    _load()
    _trials(1, name="second")
    settle()
    machine()
    _load()
    names = [Path(p).name for p in _pieces(local_root)]
    assert len(names) == 2 and names == sorted(names)
    assert sorted(os.listdir(Path(local_root) / PIECES)) == names
