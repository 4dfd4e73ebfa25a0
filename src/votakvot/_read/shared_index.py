"""The shared report index: what loads learned about finished trials, left in the store for the
next reader on any machine.

A load that parsed trial documents writes the report rows of the finished ones (and, on the local
disk, the folder listings of its walk) as one new piece, `HOME/.votakvot/index/{time}-{uuid}.json`
(see `index_piece`): written atomically and never rewritten, so readers and writers never
conflict. A reader with no local index starts from the pieces, and any reader takes a row from a
piece instead of parsing a document only when the document's signature (its stat on the local
disk, size and ETag on object stores) is the one the piece recorded. A store the reader cannot
write is only read. Many small pieces are merged into one by a load of their whole folder.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from .. import _envvars
from .._files import layout
from .._files.storage import Store, open_root
from .._process import settings
from . import discovery, index_piece
from .index_piece import LIVE_STATUSES, Listing
from .report_index import Index, Table

log = logging.getLogger("votakvot.index")

# A load of a whole folder that lists this many pieces there merges them into one, once the
# smaller pieces hold a quarter of what the largest does (so each row is rewritten a bounded
# number of times however often loads add a piece), or at once from FORCE_COMPACT_AT pieces.
COMPACT_AT = 16
COMPACT_RATIO = 4
FORCE_COMPACT_AT = 256
# Only the newest pieces are read (a folder has more only while nobody merges them).
MAX_PIECES = 1_000
# Rows per piece written by a merge (a piece is read whole, so none grows without bound).
COMPACT_ROWS = 50_000


def mode(config: settings.Settings) -> bool | str:
    """What loads do with pieces: True (use them and write new ones), "read" (only use them) or
    False (ignore them); init's `share_index`, narrowed by `$VOTAKVOT_SHARE_INDEX` ("read", "0")."""
    variable = os.environ.get(_envvars.SHARE_INDEX, "").strip().lower()
    if variable in ("0", "false", "off", "no") or config.share_index is False:
        return False
    if variable == "read" or config.share_index == "read":
        return "read"
    return True


def home_of(store: Store, base: str, config: settings.Settings) -> str:
    """Returns the folder whose pieces a load of `base` uses: the root given to init (or
    $VOTAKVOT_PATH) when `base` is at or below it on the same store, else `base` itself."""
    if config.path is None and not os.environ.get(_envvars.PATH):
        return base
    root_store, root = open_root(config)
    if type(root_store) is not type(store) or store.url(root) != root_store.url(root):
        return base
    root = root.rstrip(store.sep)
    return root if not root or base == root or base.startswith(root + store.sep) else base


def for_load(store: Store, base: str, config: settings.Settings, cache: Index) -> SharedIndex | None:
    """The shared index a load of `base` uses (with the local index `cache`), or None where
    `share_index=False` turns it off."""
    sharing = mode(config)
    if sharing is False:
        return None
    home = home_of(store, base, config)
    seen = cache.shared[1] if cache.shared is not None and cache.shared[0] == store.url(home) else []
    return SharedIndex(store, home, list(seen), write=sharing is True)


def shareable(rows: Table) -> list[int]:
    """Positions of the rows others may use: finished trials whose document signature is known."""
    statuses, signatures = rows.statuses, rows.signatures
    return [i for i in range(len(rows)) if signatures[i] is not None and statuses[i] not in LIVE_STATUSES]


class Learned:
    """Rows and listings read from pieces: every row of every piece (a folder may have several,
    each with the signature its writer saw), and per folder the listing with the newest stamp."""

    def __init__(self) -> None:
        self.rows = Table()
        self.listings: dict[str, Listing] = {}
        self.where: dict[str, list[int]] = {}  # folder -> its rows, oldest piece first

    def add(self, rows: Table, listings: dict[str, Listing]) -> None:
        start = len(self.rows)
        if start:
            self.rows.extend(rows)
        else:  # the first piece's rows are taken as they are (often the only piece, after a merge)
            self.rows = rows
        where = self.where
        for offset, folder in enumerate(rows.folders):
            where.setdefault(folder, []).append(start + offset)
        for folder, listing in listings.items():
            known = self.listings.get(folder)
            if known is None or listing[0] > known[0]:
                self.listings[folder] = listing

    def seed(self) -> Table:
        """One row per folder (the newest piece's), in report order: a local index to start from."""
        if len(self.where) == len(self.rows) and self.rows.in_order():  # one piece, as after a merge
            return self.rows
        table = _rows_at(self.rows, [positions[-1] for positions in self.where.values()])
        table.sort()
        return table

    def take(self, stale: dict[str, tuple[Any, Any]], full: bool) -> Table:
        """Returns the rows recorded for folders of `stale` with the signature they have now
        (with full=True, only rows holding every field), and removes those folders from `stale`."""
        rows, positions, stamps = self.rows, [], []
        for folder, (signature, stamp) in stale.items():
            if signature is None:
                continue
            for i in reversed(self.where.get(folder, ())):
                if rows.signatures[i] == signature and (not full or rows.extras[i] is not None):
                    positions.append(i)
                    stamps.append(stamp)  # what the walk saw now
                    break
        table = _rows_at(rows, positions)
        table.folder_stamps = stamps
        for folder in table.folders:
            del stale[folder]
        return table


def _rows_at(rows: Table, positions: list[int]) -> Table:
    return Table({column: [getattr(rows, column)[i] for i in positions] for column in Table.COLUMNS})


class SharedIndex:
    """The pieces of one folder (`home`) as one load uses them: `seen` are the pieces this
    machine has read already (kept in the local index), so a later load reads only new ones."""

    def __init__(self, store: Store, home: str, seen: list[str], *, write: bool) -> None:
        self.store, self.home, self.write = store, home, write
        self.folder = store.join(home, *layout.INDEX_FOLDER.split("/")) if home else layout.INDEX_FOLDER
        self.seen = seen
        self.listed: list[str] | None = None  # the pieces there, once listed by this load
        self.sizes: dict[str, int | None] = {}

    def learn(self) -> Learned:
        """Lists the pieces and reads those not seen before."""
        names = self._names()
        seen = set(self.seen)
        learned = self._read([name for name in names if name not in seen])
        self.seen = names
        return learned

    def _names(self) -> list[str]:
        try:
            listed = self.store.list_files(self.folder)
        except Exception as e:  # an unreadable folder: as if there were no pieces
            log.debug("cannot list the report index pieces in %s: %r", self.store.url(self.folder), e)
            listed = {}
        names = sorted(
            name
            for name, size in listed.items()
            if layout.INDEX_PIECE.match(name) and (size is None or size <= index_piece.MAX_BYTES)
        )
        self.listed, self.sizes = names, listed
        return names[-MAX_PIECES:]

    def _read(self, names: list[str]) -> Learned:
        learned = Learned()
        if not names:
            return learned
        paths = [self.store.join(self.folder, name) for name in names]
        try:
            got = self.store.read_many(paths, limit=index_piece.MAX_BYTES)
        except Exception as e:
            log.debug("cannot read the report index pieces in %s: %r", self.store.url(self.folder), e)
            return learned
        for path in paths:
            raw = got.get(path)
            if not isinstance(raw, bytes):  # merged away meanwhile, or unreadable: its rows are parsed
                continue
            try:
                rows, listings = index_piece.decode(raw, self.home, self.store.sep)
            except Exception as e:  # data from the store: whatever is wrong with it, it is not used
                log.info("ignoring the report index piece %s: %s", self.store.url(path), str(e)[:300])
                continue
            learned.add(rows, listings)
        return learned

    def share(
        self,
        found: discovery.Found,
        fresh: Table,
        saved: Table,
        walked: dict[str, Listing],
        listings: dict[str, Listing],
    ) -> None:
        """Leaves what a load parsed (`fresh`) and the folders it listed anew (those of `listings`
        that are not the ones `walked` started from) for other readers. A load of the whole
        folder may instead merge many pieces into one, holding every row it keeps (`saved`)."""
        if self.home in found.signatures:  # a trial folder: no index of its own inside it
            return
        trusted = {folder: listing for folder, listing in listings.items() if listing[0] is not None}
        if found.patterns is None and found.base == self.home and self.compact(saved, trusted):
            return  # the merged pieces hold what this load parsed too
        self.publish(fresh, {folder: entry for folder, entry in trusted.items() if walked.get(folder) is not entry})

    def publish(self, rows: Table, listings: dict[str, Listing]) -> None:
        """Leaves the shareable `rows` (and `listings`) as a new piece, if there are any."""
        if self.write:
            data = index_piece.encode(self.home, self.store.sep, rows, shareable(rows), listings)
            name = self._put(data) if data is not None else None
            if name is not None:  # its rows are in this machine's index already
                self.seen.append(name)

    def compact(self, rows: Table, listings: dict[str, Listing]) -> bool:
        """Replaces the pieces this load listed with pieces holding `rows` and `listings` (what a
        load of the whole folder found valid); tells whether it did. Below COMPACT_AT pieces, or
        where the store cannot be written, it does nothing."""
        if not self.write or self.listed is None or not self._worth_merging(self.listed):
            return False
        positions, written = shareable(rows), []
        for start in range(0, max(len(positions), 1), COMPACT_ROWS):
            chunk = positions[start : start + COMPACT_ROWS]
            data = index_piece.encode(self.home, self.store.sep, rows, chunk, listings if not start else {})
            name = self._put(data) if data is not None else None
            if name is None:
                return False
            written.append(name)
        for name in self.listed:
            try:
                self.store.remove(self.store.join(self.folder, name))
            except Exception as e:  # removed by another load's merge, or not ours to remove
                log.debug("could not remove the merged report index piece %s: %r", name, e)
        self.seen = written
        return True

    def _worth_merging(self, names: list[str]) -> bool:
        """Tells whether merging `names` pays: enough pieces, and enough in the smaller ones."""
        if len(names) >= FORCE_COMPACT_AT:
            return True
        if len(names) < COMPACT_AT:
            return False
        sizes = sorted(self.sizes.get(name) or 0 for name in names)
        return sum(sizes[:-1]) * COMPACT_RATIO >= sizes[-1]

    def _put(self, data: bytes) -> str | None:
        """Writes a new piece; returns its name, or None where the store cannot be written."""
        name = layout.index_piece_name()
        try:
            self.store.write_below(self.home, f"{layout.INDEX_FOLDER}/{name}", data)
        except Exception as e:  # a read-only store, or one we may not write: only read
            log.debug("not sharing the report index in %s: %r", self.store.url(self.folder), e)
            return None
        return name
