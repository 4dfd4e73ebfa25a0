"""What a trial costs in requests on S3 (moto's server on 127.0.0.1), and what a crash at each
point of its life leaves there: no request before the trial's code runs, the end's files in one
round trip, the running document written by the first tick in the background."""

from __future__ import annotations

import asyncio
import faulthandler
import os
import signal
import subprocess
import threading
import uuid

import fsspec
import pytest

import votakvot
from conftest import S3_CREDENTIALS, environment, moto_s3_server, run_python, wait_until
from votakvot.errors import MissingPathWarning

s3fs = pytest.importorskip("s3fs")
pytestmark = pytest.mark.slow

BUCKET = "votakvot-round-trips"
CREDENTIALS = S3_CREDENTIALS
# How long each request is held before it is sent: long enough that two requests sent one after
# the other never overlap, so overlapping ones were sent together.
HOLD_S = 0.3


@pytest.fixture(scope="module")
def endpoint():
    with environment(CREDENTIALS), moto_s3_server() as url:
        s3fs.S3FileSystem(client_kwargs={"endpoint_url": url}, skip_instance_cache=True).mkdir(BUCKET)
        yield url


@pytest.fixture
def root() -> str:
    return f"s3://{BUCKET}/{uuid.uuid4().hex}"


class Requests:
    """Every S3 call the trials of a test make, as (operation, key, phase), and the most that
    were in flight at once; each request is held HOLD_S seconds before it is sent."""

    def __init__(self) -> None:
        from aiobotocore.session import AioSession

        self.session = AioSession()
        self.calls: list[tuple[str, str, str]] = []
        self.phase = "before"
        self.in_flight = 0
        self.most_in_flight = 0
        self.session.register("before-parameter-build.s3", self._called)
        self.session.register("before-send.s3", self._hold)

    def _called(self, model, params, **_):
        self.calls.append((model.name, params.get("Key", ""), self.phase))

    async def _hold(self, **_):
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(HOLD_S)
        self.in_flight -= 1

    def made(self, phase: str) -> list[tuple[str, str]]:
        return [(op, key.rsplit("/", 1)[-1]) for op, key, p in self.calls if p == phase]


def _reader(endpoint: str):
    """A filesystem that shares no cache with the writer's: what another process would see."""
    return s3fs.S3FileSystem(client_kwargs={"endpoint_url": endpoint}, skip_instance_cache=True)


def test_a_tracked_call_makes_no_request_before_its_body_and_one_at_its_end(endpoint, root):
    """A short tracked call on S3: nothing is sent before its code runs, and its end is one PUT
    of the final document."""
    requests = Requests()
    votakvot.init(path=root, storage_options={"client_kwargs": {"endpoint_url": endpoint}, "session": requests.session})

    @votakvot.track()
    def square(x):
        requests.phase = "body"
        return x * x

    assert square(3) == 9
    assert requests.made("before") == []
    assert requests.made("body") == [("PutObject", "votakvot.yaml")]
    (trial,) = votakvot.load_trials(root, storage_options={"client_kwargs": {"endpoint_url": endpoint}}).values()
    assert trial.status == "done" and trial.result == 9


def test_the_end_sends_metrics_and_document_together(endpoint, root):
    """A trial with metric rows and a failure ends with three files (metric part, traceback,
    document), all sent at once: one round trip, not three."""
    requests = Requests()
    votakvot.init(path=root, storage_options={"client_kwargs": {"endpoint_url": endpoint}, "session": requests.session})
    with pytest.raises(ZeroDivisionError), votakvot.trial("metered") as t:
        requests.phase = "body"
        t.meter(loss=0.5)
        t.meter(loss=0.25)
        raise ZeroDivisionError("a failing step")
    assert requests.made("before") == []
    assert sorted(requests.made("body")) == [
        ("PutObject", "metrics.csv"),
        ("PutObject", "traceback.txt"),
        ("PutObject", "votakvot.yaml"),
    ]
    assert requests.most_in_flight == 3
    trial = votakvot.load_trials(t.path, storage_options={"client_kwargs": {"endpoint_url": endpoint}})[t.tid]
    assert trial.status == "failed"
    assert trial.metrics()["loss"].tolist() == [0.5, 0.25]
    assert "ZeroDivisionError" in trial.traceback_text


def test_a_running_trial_shows_once_its_first_tick_wrote_it(endpoint, root):
    """The running document is written in the background by the trial's first tick (a flush
    interval after the start), while the trial's code goes on."""
    votakvot.init(path=root, flush_interval=0.2, storage_options={"client_kwargs": {"endpoint_url": endpoint}})
    reader = _reader(endpoint)
    with votakvot.trial("long", lr=0.1) as t:
        document = f"{t.path}/votakvot.yaml"
        seen = wait_until(lambda: reader.exists(document) and reader.cat_file(document), timeout=20)
        assert b"status: running" in seen and b"lr: 0.1" in seen
        t.result = 1
    reader.invalidate_cache()
    assert b"status: done" in reader.cat_file(document)


def test_writes_held_back_at_the_end_keep_the_last_one_per_file(endpoint, root):
    """Of several writes and removals to one file while they are held back, the last one counts;
    each file is still sent once."""
    from votakvot._files.storage import Folder, open_url

    requests = Requests()
    store, path = open_url(root, {"client_kwargs": {"endpoint_url": endpoint}, "session": requests.session})
    folder = Folder(store, path)
    folder.write("kept.txt", b"old")
    folder.write("gone.txt", b"old")
    requests.calls.clear()
    with folder.gathered() as failures:
        folder.write("kept.txt", b"first")
        folder.write("kept.txt", b"second")
        folder.write("gone.txt", b"new")
        folder.remove("gone.txt")
        folder.write("back.txt", b"x")
        folder.remove("back.txt")
        folder.write("back.txt", b"again")
        assert requests.calls == []  # nothing sent while held back
    assert failures == []
    assert sorted((op, key.rsplit("/", 1)[-1]) for op, key, _ in requests.calls) == [
        ("DeleteObject", "gone.txt"),
        ("PutObject", "back.txt"),
        ("PutObject", "kept.txt"),
    ]
    reader = _reader(endpoint)
    assert reader.cat_file(f"{path}/kept.txt") == b"second"
    assert reader.cat_file(f"{path}/back.txt") == b"again"
    assert not reader.exists(f"{path}/gone.txt")


def test_only_the_gathering_thread_is_held_back(endpoint, root):
    """Another thread writing in the folder meanwhile (the ticker) writes at once."""
    from votakvot._files.storage import Folder, open_url

    store, path = open_url(root, {"client_kwargs": {"endpoint_url": endpoint}})
    folder = Folder(store, path)
    reader = _reader(endpoint)
    with folder.gathered():
        other = threading.Thread(target=folder.write, args=("other.txt", b"now"))
        other.start()
        other.join()
        assert reader.cat_file(f"{path}/other.txt") == b"now"


CRASH = """
import sys, time, votakvot
votakvot.init(path={root!r}, flush_interval={flush}, storage_options={{"client_kwargs": {{"endpoint_url": {url!r}}}}})
with votakvot.trial("crashing", lr=0.5) as t:
    print(t.path, flush=True)
    time.sleep(120)
"""


def _crashing(tmp_path, endpoint: str, root: str, flush: float) -> tuple[subprocess.Popen, str]:
    code = CRASH.format(root=root, url=endpoint, flush=flush)
    child = run_python(code, cwd=tmp_path, env=CREDENTIALS, stdout=subprocess.PIPE, text=True)
    return child, child.stdout.readline().strip()


def test_a_trial_killed_after_its_first_tick_reads_as_crashed(endpoint, root, tmp_path):
    """SIGKILL once the running document is stored: a reader sees the trial, crashed, with its params."""
    child, path = _crashing(tmp_path, endpoint, root, flush=0.2)
    try:
        reader = _reader(endpoint)
        wait_until(lambda: reader.exists(f"{path}/votakvot.yaml"), timeout=20)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    (trial,) = votakvot.load_trials(root, storage_options={"client_kwargs": {"endpoint_url": endpoint}}).values()
    assert trial.status == "crashed"
    assert trial.params == {"lr": 0.5}


def test_a_trial_killed_before_its_first_tick_leaves_nothing(endpoint, root, tmp_path):
    """The documented window: SIGKILL within the first flush interval of a trial on S3 leaves no
    trace of it (its first document was not sent yet)."""
    child, path = _crashing(tmp_path, endpoint, root, flush=60)
    assert path.startswith(root)
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    with pytest.warns(MissingPathWarning, match="does not exist"):
        loaded = votakvot.load_trials(root, storage_options={"client_kwargs": {"endpoint_url": endpoint}})
    assert loaded == {}


def test_memory_and_local_stores_still_write_the_running_document_at_once(tmp_path):
    """Near stores keep the start's document synchronous: it is there when the block begins."""
    for root in (str(tmp_path / "local"), f"memory://{uuid.uuid4().hex}"):
        votakvot.init(path=root)
        with votakvot.trial("near") as t:
            fs, folder = fsspec.core.url_to_fs(t.path)
            assert b"status: running" in fs.cat_file(f"{folder}/votakvot.yaml")


WRITER = """
import votakvot
votakvot.init(path={root!r}, share_index={share!r}, storage_options={{"client_kwargs": {{"endpoint_url": {url!r}}}}})

@votakvot.track()
def train(lr):
    votakvot.meter(loss=lr)
    return {{"acc": 1 - lr}}

for i in range(5):
    train(i / 10)
with votakvot.trial("failing", x=1):
    raise SystemExit(0)
"""


def _write_in_a_process(tmp_path, endpoint: str, root: str, share: object = True) -> None:
    code = WRITER.format(root=root, url=endpoint, share=share)
    child = run_python(code, cwd=tmp_path, env=CREDENTIALS)
    assert child.wait(60) == 0


def _pieces(endpoint: str, root: str) -> list[str]:
    reader = _reader(endpoint)
    folder = f"{root}/.votakvot/index"
    return reader.ls(folder, detail=False) if reader.exists(folder) else []


def _parsed_by_a_new_machine(monkeypatch, tmp_path, endpoint: str, root: str):
    """The report a reader with an empty local cache loads, and how many documents it parsed."""
    monkeypatch.setenv("VOTAKVOT_CACHE_DIR", str(tmp_path / f"cache-{uuid.uuid4().hex}"))
    s3fs.S3FileSystem.clear_instance_cache()
    totals: list[int] = []
    options = {"client_kwargs": {"endpoint_url": endpoint}}
    report = votakvot.load_report(root, storage_options=options, progress=lambda done, total: totals.append(total))
    return report, (totals[-1] if totals else 0)


def test_the_writing_process_leaves_its_trials_in_the_shared_index(endpoint, root, tmp_path, monkeypatch):
    """A process that finished trials on S3 leaves their rows as a piece of the shared index (at
    exit at the latest): the first load on a new machine fetches no document, and its report is
    the one parsing every document gives."""
    _write_in_a_process(tmp_path, endpoint, root)
    assert len(_pieces(endpoint, root)) == 1
    report, parsed = _parsed_by_a_new_machine(monkeypatch, tmp_path, endpoint, root)
    assert parsed == 0
    assert sorted(report["status"]) == ["done"] * 5 + ["interrupted"]
    parsed_all = votakvot.load_report(root, storage_options={"client_kwargs": {"endpoint_url": endpoint}}, index=False)
    assert report.drop(columns="trial").equals(parsed_all.drop(columns="trial"))


def test_a_document_changed_since_the_writer_left_its_row_is_parsed(endpoint, root, tmp_path, monkeypatch):
    """A row in a piece counts only while the document's entity tag is the one its writer got:
    a document rewritten since (here by hand) is parsed again."""
    _write_in_a_process(tmp_path, endpoint, root)
    store = _reader(endpoint)
    (changed,) = [p for p in store.find(root) if "/failing/" in p and p.endswith("/votakvot.yaml")]
    store.pipe_file(changed, store.cat_file(changed).replace(b"x: 1", b"x: 2"))
    report, parsed = _parsed_by_a_new_machine(monkeypatch, tmp_path, endpoint, root)
    assert parsed == 1
    assert report.loc[report["status"] == "interrupted", "x"].tolist() == [2]


@pytest.mark.parametrize("share", [False, "read"])
def test_a_writer_that_does_not_share_the_index_leaves_no_piece(endpoint, root, tmp_path, share):
    """init(share_index=False) or "read": the writing process leaves nothing in `.votakvot/`."""
    _write_in_a_process(tmp_path, endpoint, root, share=share)
    assert _pieces(endpoint, root) == []


def test_a_forked_child_writes_to_s3_with_a_store_of_its_own(endpoint, root):
    """The parent's open S3 root is not reused by a forked child (its filesystem's event loop
    thread did not survive the fork): the child's trial lands, and the parent's next one too."""
    votakvot.init(path=root, storage_options={"client_kwargs": {"endpoint_url": endpoint}})
    with votakvot.trial("parent", n=1):
        pass
    pid = os.fork()
    if pid == 0:  # the child: exit status 0 only if its trial was stored
        code = 1
        try:
            faulthandler.dump_traceback_later(30, exit=True)  # a hang says where, then ends
            with votakvot.trial("child", n=2):
                pass
            code = 0
        finally:
            os._exit(code)

    def reaped() -> tuple[int] | None:
        done, status = os.waitpid(pid, os.WNOHANG)
        return (status,) if done == pid else None

    ended = None
    try:
        ended = wait_until(reaped, timeout=60)
    finally:
        if not ended:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    assert ended and os.waitstatus_to_exitcode(ended[0]) == 0
    with votakvot.trial("parent", n=3):
        pass
    loaded = votakvot.load_report(root, storage_options={"client_kwargs": {"endpoint_url": endpoint}})
    assert sorted(loaded["n"]) == [1, 2, 3]
