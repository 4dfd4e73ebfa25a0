"""Pieces of the shared report index left by the process that wrote the trials.

On a remote store a reader's first load would fetch every document (a request each). A process
that finished trials there knows their final documents and the entity tags the store gave them,
which is what a reader compares with its listing: it leaves their report rows as a piece of the
shared index (`_read/shared_index`), so the first load anywhere fetches no document of them.
Rows are gathered in the background and published together (every BATCH_S seconds, at
BATCH_ROWS rows, and at exit), one request per batch, never on a trial's path. The index is a
cache: a piece that cannot be written is logged, and readers then parse the documents.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from typing import Any

from .._files.storage import Store
from .._process import state
from .._read import shared_index
from .._read.report import rows_of_documents

log = logging.getLogger("votakvot.index")

BATCH_S = 10.0
BATCH_ROWS = 1_000
# How long exit waits for the last batch to be written.
EXIT_TIMEOUT_S = 10.0

Document = tuple[str, bytes, Any]  # (folder, content, signature as a listing shows it)

_lock = threading.Lock()
_wake = threading.Event()
_pending: dict[tuple[str, str], tuple[Store, str, list[Document]]] = {}
_oldest = 0.0
_thread: threading.Thread | None = None
_exit_hook = False


def remember(store: Store, home: str, folder: str, data: bytes, etag: str) -> None:
    """Takes the final document `data` of the trial in `folder` (written to `store` with entity
    tag `etag`) for the next piece of the shared index of `home`."""
    global _oldest, _thread, _exit_hook
    with _lock:
        if not _pending:
            _oldest = time.monotonic()
        documents = _pending.setdefault((type(store).__name__, store.url(home)), (store, home, []))[2]
        documents.append((folder, data, (len(data), etag)))
        full = sum(len(entry[2]) for entry in _pending.values()) >= BATCH_ROWS
        if not _exit_hook:
            atexit.register(_at_exit)
            _exit_hook = True
        if _thread is None:
            _thread = threading.Thread(target=_run, name="votakvot-index-writer", daemon=True)
            _thread.start()
    if full:
        _wake.set()


def flush() -> None:
    """Publishes every row gathered so far, now, in this thread."""
    with _lock:
        batches = list(_pending.values())
        _pending.clear()
    for store, home, documents in batches:
        if documents:
            _publish(store, home, documents)


def _run() -> None:
    global _thread
    state.quiet_thread()
    while True:
        with _lock:
            if not _pending:
                _thread = None
                return
            due = _oldest + BATCH_S - time.monotonic()
        if due > 0 and not _wake.wait(due):
            continue
        _wake.clear()
        flush()


def _publish(store: Store, home: str, documents: list[Document]) -> None:
    try:
        rows = rows_of_documents(store, home, documents)
        shared_index.SharedIndex(store, home, [], write=True).publish(rows, {})
    except Exception as e:  # a cache: readers parse what no piece holds
        log.info("could not leave %d rows of the shared report index in %s: %r", len(documents), store.url(home), e)


def _at_exit() -> None:
    """Publishes what is left, and waits for a batch the background thread is publishing."""
    running = _thread
    done = threading.Thread(target=flush, name="votakvot-index-writer-exit", daemon=True)
    done.start()
    deadline = time.monotonic() + EXIT_TIMEOUT_S
    done.join(EXIT_TIMEOUT_S)
    if running is not None:
        _wake.set()
        running.join(max(0.0, deadline - time.monotonic()))


def _forget() -> None:
    global _thread
    with _lock:
        _pending.clear()
    _thread = None
    _wake.clear()


def _in_child() -> None:
    """A forked child starts with nothing gathered and no thread, and with a lock and an event of
    its own: the parent's may have been held by its writer thread, which the child does not have."""
    global _lock, _wake, _thread
    _lock, _wake, _thread = threading.Lock(), threading.Event(), None
    _pending.clear()


state.register(reset=_forget, after_fork=_in_child)
