"""Where trial folders live: the local disk through `os`, anything else through fsspec.

A `Store` hides the difference. Local paths take a fast path (plain `os` calls, no fsspec
import); URLs with a protocol go through fsspec. Every write a reader may see is atomic.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import stat
import threading
from typing import IO, Any

from ..errors import MissingDependencyError
from . import layout

# Object stores write a whole object on close, so a direct write is already atomic there.
_ATOMIC_PUT_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "memory", "oss"})
_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"}


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

    def listdir(self, path: str) -> list[str]:
        """Returns the names of the files (not folders) directly in `path`; [] if it does not exist."""
        raise NotImplementedError

    def listdirs(self, paths: list[str]) -> dict[str, list[str]]:
        """Returns `listdir` of each of `paths`; remote stores list them all in one recursive listing."""
        return {path: self.listdir(path) for path in paths}

    def remove(self, path: str) -> None:
        raise NotImplementedError

    def find_files(self, path: str, name: str) -> list[str]:
        """Returns every file called `name` at or below the folder `path` (links not followed)."""
        raise NotImplementedError

    def remove_tree(self, path: str) -> None:
        """Removes a folder and everything in it (links are removed, never followed)."""
        raise NotImplementedError

    def remove_empty_folder(self, path: str) -> bool:
        """Removes `path` if it holds nothing at all; tells whether it is gone."""
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
        head, tail = os.path.split(path)
        tmp = os.path.join(head, f"{layout.TEMP_PREFIX}{tail}.{os.getpid()}.{threading.get_ident()}")
        try:
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):  # a failed write leaves nothing behind
                os.remove(tmp)
            raise

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> IO[Any]:
        if any(c in mode for c in "wax"):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        return open(path, mode, **kwargs)

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

    def listdir(self, path: str) -> list[str]:
        try:
            with os.scandir(path) as it:
                return [e.name for e in it if e.is_file()]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def remove(self, path: str) -> None:
        os.remove(path)

    def find_files(self, path: str, name: str) -> list[str]:
        return [os.path.join(top, name) for top, _, files in os.walk(path) if name in files]

    def remove_tree(self, path: str) -> None:
        shutil.rmtree(path)

    def remove_empty_folder(self, path: str) -> bool:
        try:
            os.rmdir(path)  # refuses a folder that is not empty, atomically
        except FileNotFoundError:
            return True
        except OSError:
            return False
        return True


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
        if not paths:
            return {}
        got = self.fs.cat(paths, on_error="return")
        if not isinstance(got, dict):  # a single path comes back bare
            got = {paths[0]: got}
        return {self.fs._strip_protocol(k): v for k, v in got.items()}

    def exists(self, path: str) -> bool:
        return bool(self.fs.exists(path))

    def listdir(self, path: str) -> list[str]:
        try:
            entries = self.fs.ls(path, detail=True)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [e["name"].rstrip("/").rsplit("/", 1)[-1] for e in entries if e.get("type") == "file"]

    def listdirs(self, paths: list[str]) -> dict[str, list[str]]:
        if len(paths) < 2:
            return super().listdirs(paths)
        top = posixpath.commonpath(paths)
        self.fs.invalidate_cache(top)
        try:
            found = self.fs.find(top, detail=True)
        except (FileNotFoundError, NotADirectoryError):
            found = {}
        out: dict[str, list[str]] = {path: [] for path in paths}
        for name, info in found.items():
            if info.get("type") == "file":
                folder, _, base = name.rstrip("/").rpartition("/")
                if folder in out:
                    out[folder].append(base)
        return out

    def remove(self, path: str) -> None:
        self.fs.rm_file(path)

    def find_files(self, path: str, name: str) -> list[str]:
        self.fs.invalidate_cache(path)
        try:
            found = self.fs.find(path)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [f for f in found if f.rstrip("/").rsplit("/", 1)[-1] == name]

    def remove_tree(self, path: str) -> None:
        self.fs.rm(path, recursive=True)
        self.fs.invalidate_cache(path)

    def remove_empty_folder(self, path: str) -> bool:
        self.fs.invalidate_cache(path)
        try:
            if self.fs.ls(path, detail=False):
                return False
        except (FileNotFoundError, NotADirectoryError):
            return True
        if self._atomic_put and self.protocol != "memory":
            return True  # an object store has no empty folders: it went with its last object
        try:
            self.fs.rmdir(path)
        except (FileNotFoundError, NotADirectoryError):
            return True
        except OSError:
            return False
        return True


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

    def join(self, name: str) -> str:
        return self.store.join(self.path, *name.split("/"))

    def makedirs(self) -> None:
        self.store.makedirs(self.path)

    def write(self, name: str, data: bytes) -> None:
        self.store.write_atomic(self.join(name), data)

    def open(self, name: str, mode: str = "rb", **kwargs: Any) -> IO[Any]:
        return self.store.open(self.join(name), mode, **kwargs)

    def list(self) -> list[str]:
        return self.store.listdir(self.path)


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
