"""Where trial folders live: the local disk through `os`, anything else through fsspec.

A `Store` hides the difference. Local paths take a fast path (plain `os` calls, no fsspec
import); URLs with a protocol go through fsspec. Every write a reader may see is atomic, and
on the local disk no write below a trial folder follows a symbolic link (see `confined`).
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from typing import IO, Any

from ..errors import MissingDependencyError
from . import confined, layout

# Object stores write a whole object on close, so a direct write is already atomic there.
_ATOMIC_PUT_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "memory", "oss"})
_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"}
# What fsspec's calls on many paths (`cat`, `rm`, ...) expand as globs.
_FSSPEC_GLOB_CHARS = "*?["


def is_local(url: str) -> bool:
    """Tells whether `url` names the local disk (a plain path or file://)."""
    return "://" not in url or url.startswith("file://")


class Store:
    """A filesystem with the handful of operations votakvot needs, on native path strings."""

    appendable: bool = False
    sep = "/"

    def join(self, *parts: str) -> str:
        return "/".join(p.strip("/") if i else p.rstrip("/") for i, p in enumerate(parts) if p)

    def url(self, path: str) -> str:
        """Returns the user-facing address of `path` (with protocol for remote stores)."""
        raise NotImplementedError

    def makedirs(self, path: str) -> None:
        raise NotImplementedError

    def write_atomic(self, path: str, data: bytes) -> None:
        raise NotImplementedError

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> IO[Any]:
        raise NotImplementedError

    def write_below(self, folder: str, name: str, data: bytes) -> None:
        """Writes `name` ('/'-separated, relative) in `folder` atomically; the local disk refuses
        a symbolic link below `folder` (object stores have none)."""
        self.write_atomic(self.join(folder, *name.split("/")), data)

    def open_below(self, folder: str, name: str, mode: str = "rb", **kwargs: Any) -> IO[Any]:
        """Opens `name` ('/'-separated, relative) in `folder`; for writing, the local disk
        refuses a symbolic link below `folder` (object stores have none)."""
        return self.open(self.join(folder, *name.split("/")), mode, **kwargs)

    def read_bytes(self, path: str, *, limit: int | None = None) -> bytes:
        raise NotImplementedError

    def read_many(self, paths: list[str], *, limit: int | None = None) -> dict[str, bytes | Exception]:
        """Reads many small files; remote stores fetch them concurrently.

        A local file larger than `limit` bytes is not read (its value is an OSError saying so).
        """
        out: dict[str, bytes | Exception] = {}
        for p in paths:
            try:
                out[p] = self.read_bytes(p, limit=limit)
            except Exception as e:
                out[p] = e
        return out

    def exists(self, path: str) -> bool:
        raise NotImplementedError

    def isdir(self, path: str) -> bool:
        """Tells whether `path` is a folder (on object stores: a prefix with objects below it)."""
        raise NotImplementedError

    def listdir(self, path: str) -> list[str]:
        """Returns the names of the files (not folders) directly in `path`; [] if it does not exist."""
        raise NotImplementedError

    def remove(self, path: str) -> None:
        raise NotImplementedError


class LocalStore(Store):
    """The local disk, through plain `os` calls."""

    appendable = True
    sep = os.sep

    def join(self, *parts: str) -> str:
        return os.path.join(*parts)

    def url(self, path: str) -> str:
        return path

    def makedirs(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    def write_atomic(self, path: str, data: bytes) -> None:
        self.write_below(*os.path.split(path), data)

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> IO[Any]:
        return self.open_below(*os.path.split(path), mode, **kwargs)

    def write_below(self, folder: str, name: str, data: bytes) -> None:
        confined.write_below(folder, name, data)

    def open_below(self, folder: str, name: str, mode: str = "rb", **kwargs: Any) -> IO[Any]:
        if not any(c in mode for c in "wax+"):  # reading through a link harms nothing
            return open(os.path.join(folder, *name.split("/")), mode, **kwargs)
        return confined.open_below(folder, name, mode, **kwargs)

    def read_bytes(self, path: str, *, limit: int | None = None) -> bytes:
        # O_NONBLOCK: a named pipe planted as a trial file must not hang the reader.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise OSError(f"{path} is not a regular file")
            if limit is not None and info.st_size > limit:
                raise OSError(f"{path} has {info.st_size} bytes, more than the {limit} a trial document may have")
            return f.read()

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def isdir(self, path: str) -> bool:
        return os.path.isdir(path)

    def listdir(self, path: str) -> list[str]:
        try:
            with os.scandir(path) as it:
                return [e.name for e in it if e.is_file()]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def remove(self, path: str) -> None:
        os.remove(path)


class FsspecStore(Store):
    """Any filesystem fsspec reaches (memory://, s3://, gs://, ssh://, ...)."""

    def __init__(self, fs: Any, protocol: str) -> None:
        self.fs = fs
        self.protocol = protocol
        self._atomic_put = protocol in _ATOMIC_PUT_PROTOCOLS

    def url(self, path: str) -> str:
        if self.protocol == "memory":  # memory:// paths carry a leading "/" the user did not write
            return "memory://" + path.lstrip("/")
        return str(self.fs.unstrip_protocol(path))

    def makedirs(self, path: str) -> None:
        self.fs.makedirs(path, exist_ok=True)

    def write_atomic(self, path: str, data: bytes) -> None:
        if self._atomic_put:
            self.fs.pipe_file(path, data)
            return
        head, tail = path.rsplit("/", 1)
        tmp = f"{head}/{layout.TEMP_PREFIX}{tail}.{os.getpid()}.{threading.get_ident()}"
        try:
            self.fs.pipe_file(tmp, data)
            self.fs.mv(tmp, path)
        except BaseException:
            with contextlib.suppress(Exception):
                self.fs.rm_file(tmp)
            raise

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> IO[Any]:
        if any(c in mode for c in "wax") and not self._atomic_put:
            self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        return self.fs.open(path, mode, **kwargs)  # type: ignore[no-any-return]

    def read_bytes(self, path: str, *, limit: int | None = None) -> bytes:
        return self.fs.cat_file(path)  # type: ignore[no-any-return]

    def read_many(self, paths: list[str], *, limit: int | None = None) -> dict[str, bytes | Exception]:
        # `cat` of many paths expands globs, so a name with '[' or '*' is fetched by itself.
        plain = [p for p in paths if not any(c in p for c in _FSSPEC_GLOB_CHARS)]
        out = super().read_many([p for p in paths if any(c in p for c in _FSSPEC_GLOB_CHARS)], limit=limit)
        if not plain:
            return out
        got = self.fs.cat(plain, on_error="return")
        if not isinstance(got, dict):  # a single path comes back bare
            got = {plain[0]: got}
        out.update((self.fs._strip_protocol(k), v) for k, v in got.items())
        return out

    def exists(self, path: str) -> bool:
        return bool(self.fs.exists(path))

    def isdir(self, path: str) -> bool:
        try:
            return bool(self.fs.isdir(path))
        except OSError:  # e.g. a bucket that does not exist, or one we may not list
            return False

    def listdir(self, path: str) -> list[str]:
        try:
            entries = self.fs.ls(path, detail=True)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [e["name"].rstrip("/").rsplit("/", 1)[-1] for e in entries if e.get("type") == "file"]

    def remove(self, path: str) -> None:
        self.fs.rm_file(path)


class Folder:
    """One folder of a store, addressed by names relative to it: what a sink sees of a trial
    folder (`votakvot.plugins.TrialFiles`)."""

    __slots__ = ("path", "store")

    def __init__(self, store: Store, path: str) -> None:
        self.store = store
        self.path = path

    @property
    def appendable(self) -> bool:
        """Whether files can be appended to in place (local disk), rather than written whole."""
        return self.store.appendable

    def makedirs(self) -> None:
        self.store.makedirs(self.path)

    def write(self, name: str, data: bytes) -> None:
        self.store.write_below(self.path, name, data)

    def open(self, name: str, mode: str = "rb", **kwargs: Any) -> IO[Any]:
        return self.store.open_below(self.path, name, mode, **kwargs)

    def list(self) -> list[str]:
        return self.store.listdir(self.path)

    def remove(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.store.remove(self.store.join(self.path, *name.split("/")))


_LOCAL = LocalStore()


def open_store(url: str) -> tuple[Store, str]:
    """Returns the store for `url` and the native path inside it."""
    if is_local(url):
        path = url[len("file://") :] if url.startswith("file://") else url
        return _LOCAL, os.path.abspath(os.path.expanduser(path))
    protocol = url.split("://", 1)[0]
    try:
        import fsspec
    except ImportError as e:  # pragma: no cover - fsspec is a runtime dependency
        raise MissingDependencyError("fsspec is needed for URLs; pip install fsspec") from e
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except ImportError as e:
        extra = _EXTRAS.get(protocol)
        hint = f"pip install 'votakvot[{extra}]'" if extra else f"install the fsspec implementation for {protocol!r}"
        raise MissingDependencyError(f"the {protocol}:// filesystem needs an extra package: {hint} ({e})") from e
    return FsspecStore(fs, protocol), path.rstrip("/")
