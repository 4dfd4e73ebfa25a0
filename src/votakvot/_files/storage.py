"""Where trial folders live: the local disk through `os`, anything else through fsspec.

A `Store` hides the difference. Local paths take a fast path (plain `os` calls, no fsspec
import); URLs with a protocol (or fsspec filesystem objects) go through fsspec, with the
storage options the user gave and short timeouts on S3. Every write a reader may see is atomic,
and on the local disk no write below a trial folder follows a symbolic link (see `confined`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import posixpath
import stat
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any

from .._process import settings as process_settings
from .._process import state
from ..errors import MissingDependencyError, SettingsError
from . import confined, layout

log = logging.getLogger("votakvot.storage")

# Object stores write a whole object on close, so a direct write is already atomic there.
_ATOMIC_PUT_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "memory", "oss"})
# Filesystems in this process or on this machine: every other one costs a round trip per request.
_NEAR_PROTOCOLS = frozenset({"memory", "file", "local"})
_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"}
# What fsspec's calls on many paths (`cat`, `rm`, ...) expand as globs.
_FSSPEC_GLOB_CHARS = "*?["

# botocore's own defaults try an unreachable endpoint 5 times with growing pauses (about 11 s
# per request), and a trial makes several: fail within seconds instead, with botocore's error.
# The user's storage options, fsspec's config (FSSPEC_S3_*) and AWS_MAX_ATTEMPTS /
# AWS_RETRY_MODE override these.
S3_DEFAULTS: dict[str, Any] = {
    "config_kwargs": {
        "connect_timeout": 3,
        "read_timeout": 15,
        "retries": {"total_max_attempts": 2, "mode": "standard"},
    },
}


def is_local(url: str) -> bool:
    """Tells whether `url` names the local disk (a plain path or file://)."""
    return "://" not in url or url.startswith("file://")


class Store:
    """A filesystem with the handful of operations votakvot needs, on native path strings."""

    appendable: bool = False
    # Whether each request is a network round trip (object stores, SSH, ...): writers then make
    # fewer of them, and make them together (see `Folder.gathered`).
    remote: bool = False
    sep = "/"

    def join(self, *parts: str) -> str:
        return "/".join(p.strip("/") if i else p.rstrip("/") for i, p in enumerate(parts) if p)

    def url(self, path: str) -> str:
        """Returns the user-facing address of `path` (with protocol for remote stores)."""
        raise NotImplementedError

    def makedirs(self, path: str) -> None:
        raise NotImplementedError

    def write_atomic(self, path: str, data: bytes) -> str | None:
        """Writes the file atomically; returns its entity tag where the store gives one (the
        `ETag` an S3 listing shows for it), else None."""
        raise NotImplementedError

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> IO[Any]:
        raise NotImplementedError

    def write_many(self, folder: str, files: dict[str, bytes]) -> dict[str, str | Exception | None]:
        """Writes several files of `folder` at once (as `write_below`, concurrently); returns each
        one's entity tag, or the exception that kept it from being written."""
        out: dict[str, str | Exception | None] = {}

        def write(name: str, data: bytes) -> None:
            try:
                out[name] = self.write_below(folder, name, data)
            except Exception as e:
                out[name] = e

        threads = [threading.Thread(target=write, args=item, daemon=True) for item in list(files.items())[1:]]
        for thread in threads:
            thread.start()
        for name, data in list(files.items())[:1]:  # the first on this thread: a single write costs no thread
            write(name, data)
        for thread in threads:
            thread.join()
        return out

    def write_below(self, folder: str, name: str, data: bytes, *, writeback: bool = True) -> str | None:
        """Writes `name` ('/'-separated, relative) in `folder` atomically, as `write_atomic`; the
        local disk refuses a symbolic link below `folder` (object stores have none). For
        `writeback`, see `TrialFiles.write`; stores other than the local disk ignore it."""
        return self.write_atomic(self.join(folder, *name.split("/")), data)

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

    def listdirs(self, paths: list[str]) -> dict[str, list[str]]:
        """Returns `listdir` of each of `paths`; remote stores list them all in one recursive listing."""
        return {path: self.listdir(path) for path in paths}

    def list_files(self, path: str) -> dict[str, int | None]:
        """Returns the regular files directly in `path` with their sizes (None where the listing
        does not say), listed afresh; {} if `path` does not exist."""
        raise NotImplementedError

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
        self.write_below(*os.path.split(path), data)

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> IO[Any]:
        return self.open_below(*os.path.split(path), mode, **kwargs)

    def write_below(self, folder: str, name: str, data: bytes, *, writeback: bool = True) -> None:
        confined.write_below(folder, name, data, writeback=writeback)

    def open_below(self, folder: str, name: str, mode: str = "rb", **kwargs: Any) -> IO[Any]:
        if not any(c in mode for c in "wax+"):  # reading through a link harms nothing
            return open(os.path.join(folder, *name.split("/")), mode, **kwargs)
        return confined.open_below(folder, name, mode, **kwargs)

    def read_bytes(self, path: str, *, limit: int | None = None, follow: bool = True) -> bytes:
        """Reads a local file; `follow=False` refuses one that is a symbolic link (OSError, ELOOP)."""
        # O_NONBLOCK: a named pipe planted as a trial file must not hang the reader.
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | (0 if follow else getattr(os, "O_NOFOLLOW", 0))
        fd = os.open(path, flags)
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

    def list_files(self, path: str) -> dict[str, int | None]:
        try:
            with os.scandir(path) as it:
                entries = [e for e in it if e.is_file(follow_symlinks=False)]
        except (FileNotFoundError, NotADirectoryError):
            return {}
        files: dict[str, int | None] = {}
        for entry in entries:
            try:
                files[entry.name] = entry.stat(follow_symlinks=False).st_size
            except OSError:  # removed since it was listed
                continue
        return files

    def remove(self, path: str) -> None:
        os.remove(path)

    def find_files(self, path: str, name: str) -> list[str]:
        return [os.path.join(top, name) for top, _, files in os.walk(path) if name in files]

    def remove_tree(self, path: str) -> None:
        import shutil  # only removal needs it: not at `import votakvot`

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
    """Any filesystem fsspec reaches (memory://, s3://, gs://, ssh://, ...), also one given as
    an object (a `DirFileSystem` is seen through: its addresses are those of the store below)."""

    def __init__(self, fs: Any, protocol: str | None = None) -> None:
        self.fs = fs
        self.protocol = protocol or _protocol_of(fs)
        inner = fs.fs if self.protocol == "dir" else fs
        self._atomic_put = _protocol_of(inner) in _ATOMIC_PUT_PROTOCOLS
        self.remote = _protocol_of(inner) not in _NEAR_PROTOCOLS
        # An object store has no folders: making one would only cost a request (a bucket check).
        self._folderless = self._atomic_put and self.remote

    def url(self, path: str) -> str:
        if self.protocol == "dir":
            return FsspecStore(self.fs.fs).url(self.fs._join(path))
        if self.protocol == "memory":  # memory:// paths carry a leading "/" the user did not write
            return "memory://" + path.lstrip("/")
        return str(self.fs.unstrip_protocol(path))

    def makedirs(self, path: str) -> None:
        if not self._folderless:
            self.fs.makedirs(path, exist_ok=True)

    def write_atomic(self, path: str, data: bytes) -> str | None:
        if self._atomic_put:
            try:
                answer = self.fs.pipe_file(path, data)
            except FileNotFoundError:
                if not self._folderless:
                    raise
                # A bucket that does not exist yet: made as `makedirs` would make it, then written.
                self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
                answer = self.fs.pipe_file(path, data)
            return _etag_of(answer)
        head, tail = path.rsplit("/", 1)
        tmp = f"{head}/{layout.TEMP_PREFIX}{tail}.{os.getpid()}.{threading.get_ident()}"
        try:
            self.fs.pipe_file(tmp, data)
            self.fs.mv(tmp, path)
        except BaseException:
            with contextlib.suppress(Exception):
                self.fs.rm_file(tmp)
            raise
        return None

    def write_many(self, folder: str, files: dict[str, bytes]) -> dict[str, str | Exception | None]:
        if not (self._atomic_put and getattr(self.fs, "async_impl", False) and len(files) > 1):
            return super().write_many(folder, files)
        # An async filesystem (s3fs, gcsfs, ...): all the PUTs on its own event loop, no thread each.
        paths = {name: self.join(folder, *name.split("/")) for name in files}
        answers = _fsspec().asyn.sync(
            self.fs.loop, _gather, [self.fs._pipe_file(paths[n], d) for n, d in files.items()]
        )
        out: dict[str, str | Exception | None] = {}
        for (name, data), answer in zip(files.items(), answers, strict=True):
            if isinstance(answer, FileNotFoundError) and self._folderless:  # a bucket not made yet
                try:
                    out[name] = self.write_atomic(paths[name], data)
                except Exception as e:
                    out[name] = e
            elif isinstance(answer, Exception):
                out[name] = answer
            else:
                out[name] = _etag_of(answer)
        return out

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

    def list_files(self, path: str) -> dict[str, int | None]:
        self.fs.invalidate_cache(path)
        try:
            entries = self.fs.ls(path, detail=True)
        except (FileNotFoundError, NotADirectoryError):
            return {}
        return {e["name"].rstrip("/").rsplit("/", 1)[-1]: e.get("size") for e in entries if e.get("type") == "file"}

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


# What could not be written, as (file URL, cause).
Failures = list[tuple[str, BaseException]]


class Folder:
    """One folder of a store, addressed by names relative to it: what a sink sees of a trial
    folder (`votakvot.plugins.TrialFiles`)."""

    __slots__ = ("_gathering", "on_written", "path", "store")

    def __init__(self, store: Store, path: str) -> None:
        self.store = store
        self.path = path
        self._gathering: _Gathering | None = None
        # Told of each file written, with its content and entity tag (None where the store gives none).
        self.on_written: Callable[[str, bytes, str | None], None] | None = None

    @property
    def appendable(self) -> bool:
        """Whether files can be appended to in place (local disk), rather than written whole."""
        return self.store.appendable

    @property
    def remote(self) -> bool:
        """Whether each write is a network round trip (object stores, SSH, ...)."""
        return self.store.remote

    def makedirs(self) -> None:
        with self._named(""):
            self.store.makedirs(self.path)

    def write(self, name: str, data: bytes, *, writeback: bool = True) -> None:
        gathering = self._gathering
        if gathering is not None and gathering.thread == threading.get_ident():
            gathering.hold(name, data)
            return
        with self._named(name):
            etag = self.store.write_below(self.path, name, data, writeback=writeback)
        if self.on_written is not None:
            self.on_written(name, data, etag)

    def open(self, name: str, mode: str = "rb", **kwargs: Any) -> IO[Any]:
        with self._named(name):
            return self.store.open_below(self.path, name, mode, **kwargs)

    @contextlib.contextmanager
    def _named(self, name: str) -> Iterator[None]:
        """Names the file in an OSError that does not (ENOSPC, EROFS...), so what could not be
        stored is reported with its place."""
        try:
            yield
        except OSError as e:
            if e.errno is not None and not e.filename:  # a system error: its message is built from these
                e.filename = self.store.url(self.store.join(self.path, *name.split("/")) if name else self.path)
            raise

    def list(self) -> list[str]:
        return self.store.listdir(self.path)

    def remove(self, name: str) -> None:
        gathering = self._gathering
        if gathering is not None and gathering.thread == threading.get_ident():
            gathering.hold(name, None)
            return
        with contextlib.suppress(FileNotFoundError):
            self.store.remove(self.store.join(self.path, *name.split("/")))

    @contextlib.contextmanager
    def gathered(self) -> Iterator[Failures]:
        """On a remote store, holds back this thread's `write`s and `remove`s in the folder until
        the block ends, then makes them all at once, concurrently: the end of a trial costs one
        round trip, not one per file. Yields the list that then receives the writes that failed,
        as (file URL, cause). A removal that fails loses nothing tracked: it is only logged.
        Elsewhere (the local disk, memory) each call is made at once and nothing is held back.
        """
        failures: Failures = []
        if not self.store.remote or self._gathering is not None:
            yield failures
            return
        gathering = self._gathering = _Gathering(threading.get_ident())
        try:
            yield failures
        finally:
            self._gathering = None
            failures.extend(self._run_together(gathering))

    def _run_together(self, gathering: _Gathering) -> Failures:
        """Makes the held-back writes and removals concurrently; returns the writes that failed."""

        def remove(name: str) -> None:
            try:
                self.remove(name)
            except Exception as e:
                log.warning("could not remove %s: %r", self._url(name), e)

        removals = [
            threading.Thread(target=remove, args=(n,), daemon=True) for n, d in gathering.held.items() if d is None
        ]
        for thread in removals:
            thread.start()
        writes = {name: data for name, data in gathering.held.items() if data is not None}
        written = self.store.write_many(self.path, writes) if writes else {}
        for thread in removals:
            thread.join()
        failures: Failures = []
        for name, result in written.items():
            if isinstance(result, Exception):
                if isinstance(result, OSError) and result.errno is not None and not result.filename:
                    result.filename = self._url(name)
                failures.append((getattr(result, "filename", None) or self._url(name), result))
            elif self.on_written is not None:
                self.on_written(name, writes[name], result)
        return failures

    def _url(self, name: str) -> str:
        return self.store.url(self.store.join(self.path, *name.split("/")))


class _Gathering:
    """The writes and removals a `Folder` holds back for the thread that gathers them."""

    __slots__ = ("held", "thread")

    def __init__(self, thread: int) -> None:
        self.thread = thread
        self.held: dict[str, bytes | None] = {}  # name -> its new content, None to remove it

    def hold(self, name: str, data: bytes | None) -> None:
        """Holds back a write (or with None, a removal): of several to one file, the last counts."""
        self.held.pop(name, None)
        self.held[name] = data


def _etag_of(answer: Any) -> str | None:
    """The entity tag in what a filesystem's write returned (s3fs: the PutObject answer), if any."""
    etag = answer.get("ETag") if isinstance(answer, dict) else None
    return etag if isinstance(etag, str) else None


async def _gather(coroutines: list[Any]) -> list[Any]:
    """Runs coroutines together on an fsspec event loop; each gives its result or its exception."""
    import asyncio  # only remote stores need it, and it costs a plain `import votakvot` 15 ms

    return list(await asyncio.gather(*coroutines, return_exceptions=True))


def _protocol_of(fs: Any) -> str:
    protocol = fs.protocol
    return str(protocol[0] if isinstance(protocol, (tuple, list)) else protocol)


_LOCAL = LocalStore()


def _fsspec() -> Any:
    try:
        import fsspec
    except ImportError as e:  # pragma: no cover - fsspec is a runtime dependency
        raise MissingDependencyError("fsspec is needed for URLs; pip install fsspec") from e
    return fsspec


def _protocols(url: str) -> list[str]:
    """The protocols of a URL, chained ones too (`simplecache::s3://b/x` -> simplecache, s3)."""
    return [part.split("://", 1)[0] for part in url.split("::") if "://" in part]


def _missing(protocol: str, error: ImportError) -> MissingDependencyError:
    extra = _EXTRAS.get(protocol)
    hint = f"pip install 'votakvot[{extra}]'" if extra else f"install the fsspec implementation for {protocol!r}"
    return MissingDependencyError(f"the {protocol}:// filesystem needs an extra package: {hint} ({error})")


def _merged(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merges option dicts, later ones winning; dict values (config_kwargs, ...) merge a level deeper."""
    out: dict[str, Any] = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
                out[key] = {**out[key], **value}
            else:
                out[key] = value
    return out


def _with_defaults(protocol: str, options: Mapping[str, Any] | None) -> dict[str, Any]:
    if protocol not in ("s3", "s3a"):
        return dict(options or {})
    defaults = S3_DEFAULTS
    if os.environ.get("AWS_MAX_ATTEMPTS") or os.environ.get("AWS_RETRY_MODE"):
        defaults = {"config_kwargs": {k: v for k, v in S3_DEFAULTS["config_kwargs"].items() if k != "retries"}}
    config = _fsspec().config.conf
    return _merged(defaults, config.get("s3a" if protocol == "s3a" else "s3"), options)


def open_url(url: str, storage_options: Mapping[str, Any] | None = None) -> tuple[Store, str]:
    """Returns the store for `url` (a path or fsspec URL) and the native path inside it."""
    if is_local(url):
        path = url[len("file://") :] if url.startswith("file://") else url
        return _LOCAL, os.path.abspath(os.path.expanduser(path))
    protocols = _protocols(url)
    fsspec = _fsspec()
    options = _with_defaults(protocols[-1], storage_options) if len(protocols) == 1 else dict(storage_options or {})
    try:
        fs, path = fsspec.core.url_to_fs(url, **options)
    except ImportError as e:
        raise _missing(protocols[-1], e) from e
    return FsspecStore(fs, protocols[0]), path.rstrip("/")


def open_root(config: process_settings.Settings, storage_options: Mapping[str, Any] | None = None) -> tuple[Store, str]:
    """Returns the store and native path of the root that `config` names (with other
    `storage_options` than config's, if given)."""
    if config.filesystem is not None:
        return FsspecStore(config.filesystem), (config.path or "").rstrip("/")
    if storage_options is not None:
        return open_url(config.root(), storage_options)
    root = config.root()
    if _last_root and _last_root[0][0] is config and _last_root[0][1] == root:
        return _last_root[0][2]
    opened = open_url(root, config.storage_options)
    if opened[0].remote:  # resolving a URL costs a tenth of a millisecond, every trial
        _last_root[:] = [(config, root, opened)]
    return opened


# The remote root last opened, for the settings that named it (forgotten in a forked child,
# whose filesystem objects must be made anew).
_last_root: list[tuple[process_settings.Settings, str, tuple[Store, str]]] = []
state.register(reset=_last_root.clear, after_fork=_last_root.clear)


def open_store(location: Any, storage_options: Mapping[str, Any] | None = None) -> tuple[Store, str]:
    """Returns the store and native path of `location`: a path or URL, an fsspec filesystem
    (its top) or `FSMap` (its folder). Without `storage_options`, a URL of the root's protocol
    uses the root's filesystem and options, as `init` gave them."""
    fsspec = _fsspec() if not isinstance(location, (str, os.PathLike)) else None
    if fsspec is not None and isinstance(location, fsspec.AbstractFileSystem):
        return FsspecStore(location), ""
    if fsspec is not None and isinstance(location, fsspec.FSMap):
        return FsspecStore(location.fs), location.root.rstrip("/")
    if not isinstance(location, (str, os.PathLike)):
        raise TypeError(f"{location!r} is not a path, an fsspec URL, an fsspec filesystem or an FSMap")
    url = os.fspath(location)
    if storage_options is None and not is_local(url):
        config = process_settings.current()
        protocol = _protocols(url)[:1]
        if config.filesystem is not None:
            inner = config.filesystem.fs if _protocol_of(config.filesystem) == "dir" else config.filesystem
            known = inner.protocol if isinstance(inner.protocol, (tuple, list)) else (inner.protocol,)
            if protocol[0] in known:
                return FsspecStore(inner), inner._strip_protocol(url).rstrip("/")
        elif config.storage_options is not None and protocol == _protocols(config.root())[:1]:
            storage_options = config.storage_options
    return open_url(url, storage_options)


def check_settings(config: process_settings.Settings) -> None:
    """Refuses a root whose protocol fsspec does not know (or whose package is missing), and
    storage options given for a local root."""
    if config.filesystem is not None:
        return
    root = config.root()
    if is_local(root):
        if config.storage_options is not None:
            raise SettingsError(
                f"init(storage_options=...) apply to fsspec URLs, but the root {root!r} is a local folder; "
                "give a URL such as 's3://bucket/exp' as path, or leave storage_options out"
            )
        return
    fsspec = _fsspec()
    for protocol in _protocols(root):
        try:
            fsspec.get_filesystem_class(protocol)
        except ImportError as e:
            raise _missing(protocol, e) from e
        except ValueError as e:
            raise SettingsError(
                f"init(path={root!r}): fsspec knows no protocol {protocol!r}; give a local folder or a URL "
                f"of a known one ({', '.join(sorted(fsspec.available_protocols())[:12])}, ...)"
            ) from e


process_settings.add_check(check_settings)
