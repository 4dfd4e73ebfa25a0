"""The settings given to `votakvot.init`: what every trial of this process reads, checked when
given, and the plain form in which they travel to other processes (pickled, or as JSON in
$VOTAKVOT_SETTINGS)."""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import json
import math
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from .. import _envvars
from ..errors import SettingsError
from . import state

# What a trial does when something it tracked could not be stored.
STORAGE_ERRORS = ("raise", "warn")


@dataclasses.dataclass(frozen=True)
class Settings:
    """What `init` configured; every field has the default `init` documents.

    Picklable: `votakvot.settings()` gives the driver's, and `apply()` makes them a worker's
    (see "Running on many processes and machines" in the README).
    """

    path: str | None = None
    meta_providers: Mapping[str, Callable[[], Any]] | None = None
    sinks: tuple[str, ...] | None = None
    snapshot_serializer: str = "pickle"
    heartbeat: float = 5.0
    flush_interval: float = 1.0
    system_metrics: float | None = None
    meta_timeout: float = 5.0
    handle_sigterm: bool = True
    # Options hold credentials: kept out of the repr, which logs and tracebacks show.
    storage_options: Mapping[str, Any] | None = dataclasses.field(default=None, repr=False)
    filesystem: Any = None
    storage_errors: str = "raise"
    share_index: bool | str = True  # True: read and write pieces; "read": only read; False: neither

    def root(self) -> str:
        """Returns the root URL: init's path, else $VOTAKVOT_PATH, else the current folder.

        With a filesystem object as the root, this is the folder inside that filesystem."""
        if self.filesystem is not None:
            return self.path or ""
        return self.path or os.environ.get(_envvars.PATH) or "."

    def apply(self) -> None:
        """Makes these the settings of this process, as `init` would with the same options.

        For worker set-up, e.g. `multiprocessing.Pool(initializer=votakvot.settings().apply)`.
        """
        for check in _checks:
            check(self)
        _install(self)

    def scoped(self) -> contextlib.AbstractContextManager[None]:
        """Puts these settings in force for a block, in this thread or asyncio task only, and
        leaves the process's own (from `init`) alone. Checked as `apply()` checks them.

        A trial takes the settings in force when it is made, so one made in the block keeps
        them for its whole life, wherever it is entered. For tools that record trials of their
        own beside the user's code (a test runner's plug-in), without moving the user's:

            mine = votakvot.Settings(path="/abs/path/tests", handle_sigterm=False)
            with mine.scoped():
                t = votakvot.trial("my_tool/step")
        """
        for check in _checks:
            check(self)
        return scoped(self)

    def environ(self) -> dict[str, str]:
        """Returns `{"VOTAKVOT_SETTINGS": json}`: put it in the environment of processes you start
        (e.g. Ray's `runtime_env={"env_vars": ...}`) and their trials use these settings.

        Raises SettingsError when the settings hold objects JSON cannot (a filesystem object as
        the root, storage options that are not plain data).
        """
        if self.filesystem is not None:
            raise SettingsError(
                "settings with a filesystem object as the root cannot go into an environment variable; "
                "use a URL with storage_options in init(), or send votakvot.settings() pickled"
            )
        try:
            text = json.dumps(portable(self), sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise SettingsError(
                f"storage_options {self.storage_options!r} are not plain JSON data ({e}); "
                "they cannot go into an environment variable: send votakvot.settings() pickled instead"
            ) from e
        return {_envvars.SETTINGS: text}

    def __reduce__(self) -> tuple[Any, ...]:
        return (from_portable, (portable(self, warn=True),))


# -- meta providers in the plain form ------------------------------------------------------------

ProviderRef = Callable[[str, Callable[[], Any]], "str | None"]
ProviderResolve = Callable[[str, str], "Callable[[], Any] | None"]


def module_reference(name: str, provider: Callable[[], Any]) -> str | None:
    """`module:qualname` when `provider` can be imported back by that name, else None."""
    module, qualname = getattr(provider, "__module__", None), getattr(provider, "__qualname__", "")
    found: Any = sys.modules.get(module) if isinstance(module, str) else None
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return f"{module}:{qualname}" if found is provider and "<" not in qualname else None


def import_reference(name: str, ref: str) -> Callable[[], Any] | None:
    """The provider `module:qualname` names, imported."""
    import importlib

    module, _, qualname = ref.partition(":")
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found if callable(found) else None


_provider_ref: ProviderRef = module_reference
_provider_resolve: ProviderResolve = import_reference
_warned_left_out: set[str] = set()


def use_provider_references(ref: ProviderRef, resolve: ProviderResolve) -> None:
    """Lets the provider table's owner name providers for other processes (e.g. `installed`)."""
    global _provider_ref, _provider_resolve
    _provider_ref, _provider_resolve = ref, resolve


def portable(settings: Settings, *, warn: bool = False) -> dict[str, Any]:
    """The settings as plain data for another process: the root made absolute, providers by
    reference. `warn` warns (once per name) about providers that cannot be named there."""
    data = {field.name: getattr(settings, field.name) for field in dataclasses.fields(Settings)}
    if settings.filesystem is None:
        data["path"] = absolute(settings.root())
    data["sinks"] = list(settings.sinks) if settings.sinks is not None else None
    data["storage_options"] = dict(settings.storage_options) if settings.storage_options is not None else None
    if settings.meta_providers is not None:
        refs: dict[str, str] = {}
        left_out: list[str] = []
        for name, provider in settings.meta_providers.items():
            ref = _provider_ref(name, provider)
            if ref is None:
                left_out.append(name)
            else:
                refs[name] = ref
        data["meta_providers"] = refs
        new = [name for name in left_out if name not in _warned_left_out]
        if warn and new:
            _warned_left_out.update(new)
            warnings.warn(
                f"votakvot: meta providers {new} cannot travel to other processes (only module-level "
                "functions and the installed providers can); trials in other processes go without them",
                stacklevel=3,
            )
    return data


def from_portable(data: Mapping[str, Any]) -> Settings:
    """Builds settings from their plain form (see `portable`); providers that cannot be found
    in this process are left out with a warning."""
    fields = {field.name for field in dataclasses.fields(Settings)}
    values = {key: value for key, value in data.items() if key in fields}
    refs = values.get("meta_providers")
    if refs is not None:
        providers: dict[str, Callable[[], Any]] = {}
        for name, ref in refs.items():
            try:
                provider = _provider_resolve(name, ref)
            except Exception as e:
                provider = None
                warnings.warn(f"votakvot: meta provider {name!r} ({ref}) is not available here: {e!r}", stacklevel=2)
            if provider is not None:
                providers[name] = provider
        values["meta_providers"] = providers
    if values.get("sinks") is not None:
        values["sinks"] = tuple(values["sinks"])
    return Settings(**values)


def absolute(root: str) -> str:
    """Returns `root` with a local path made absolute (URLs unchanged)."""
    if "://" in root:
        return root
    return os.path.abspath(os.path.expanduser(root))


# -- the settings in force ---------------------------------------------------------------------

_current = Settings()
_initialized = False  # init() (or Settings.apply) was called in this process
_scoped: contextvars.ContextVar[Settings | None] = contextvars.ContextVar("votakvot_settings", default=None)
_env_at_import = os.environ.get(_envvars.SETTINGS)
_from_env: tuple[str, Settings] | None = None
_checks: list[Callable[[Settings], None]] = []


def current() -> Settings:
    """Returns the settings in force: those scoped to this call (see `scoped`), else this
    process's `init`, else $VOTAKVOT_SETTINGS from the process that started this one, else the
    defaults."""
    scoped = _scoped.get()
    if scoped is not None:
        return scoped
    if _initialized:
        return _current
    return _environment() or _current


def settings() -> Settings:
    """Returns the settings in force here, to send to workers that open trials themselves.

    Picklable; `apply()` makes them a worker's settings. Tracked functions need none of this:
    they take the settings along when they are pickled.

        pool = multiprocessing.Pool(initializer=votakvot.settings().apply)
    """
    return current()


def initialized() -> bool:
    """Tells whether this process called `init` (or applied settings) itself."""
    return _initialized


def carried() -> Settings | None:
    """The settings to send with a call to another process: None when nothing set them here
    (no init, no $VOTAKVOT_SETTINGS, no $VOTAKVOT_PATH), so the other process keeps its own."""
    scoped = _scoped.get()
    if scoped is not None:
        return scoped
    if _initialized:
        return _current
    from_env = _environment()
    if from_env is not None:
        return from_env
    return _current if os.environ.get(_envvars.PATH) else None


@contextlib.contextmanager
def scoped(settings: Settings) -> Iterator[None]:
    """Runs a block (in this thread or task only) with `settings` in force."""
    token = _scoped.set(settings)
    try:
        yield
    finally:
        _scoped.reset(token)


def _environment() -> Settings | None:
    global _from_env
    raw = os.environ.get(_envvars.SETTINGS)
    if not raw:
        return None
    if _from_env is not None and _from_env[0] == raw:
        return _from_env[1]
    try:
        settings = from_portable(json.loads(raw))
    except Exception as e:
        warnings.warn(f"votakvot: ignoring ${_envvars.SETTINGS}, it cannot be read: {e!r}", stacklevel=3)
        settings = Settings()
    _from_env = (raw, settings)
    return settings


def add_check(check: Callable[[Settings], None]) -> None:
    """Adds a check `init` runs on new settings (rooms above add theirs: sink names, protocols)."""
    _checks.append(check)


def _install(settings: Settings) -> None:
    global _current, _initialized
    _current, _initialized = settings, True
    try:
        os.environ.update(settings.environ())
    except SettingsError:  # not plain data: only pickled calls carry these settings
        os.environ.pop(_envvars.SETTINGS, None)


# -- init ----------------------------------------------------------------------------------------


def init(
    path: Any = None,
    meta_providers: Mapping[str, Callable[[], Any]] | None = None,
    *,
    sinks: Sequence[str] | None = None,
    snapshot_serializer: str = "pickle",
    heartbeat: float = 5.0,
    flush_interval: float = 1.0,
    system_metrics: float | None = None,
    meta_timeout: float = 5.0,
    handle_sigterm: bool = True,
    storage_options: Mapping[str, Any] | None = None,
    storage_errors: str = "raise",
    share_index: bool | str = True,
) -> None:
    """Sets where trials go and how they are tracked; each call replaces all earlier settings.

    `path` is a folder, any fsspec URL (default: $VOTAKVOT_PATH, else "."), or an fsspec
    filesystem object or `FSMap`; a relative local path is resolved now, so a later chdir does
    not move the trials. `storage_options` go to fsspec for URLs of the root's protocol.
    `meta_providers` replaces `votakvot.meta.providers`; `sinks` names the sink plug-ins to use
    (default: all installed). `share_index` says what loads do with the shared report index in
    the store: use it and leave pieces there (True), only use it ("read"), or neither (False).
    Every option is checked here: a value that cannot work raises
    `votakvot.errors.SettingsError`. The settings reach the processes where tracked functions
    run (see the README).

        votakvot.init(path="./my-results")
        votakvot.init(path="s3://bucket/exp", storage_options={"profile": "lab"})
    """
    root, filesystem = _location(path)
    if storage_options is not None:
        if not isinstance(storage_options, Mapping) or not all(isinstance(k, str) for k in storage_options):
            raise SettingsError(
                f"init(storage_options={storage_options!r}) must be a dict of fsspec options, "
                "e.g. {'key': ..., 'secret': ..., 'client_kwargs': {'endpoint_url': ...}}"
            )
        if filesystem is not None:
            raise SettingsError(
                "init(storage_options=...) with a filesystem object as path: give the options "
                "when you create the filesystem, or pass a URL as path"
            )
    if meta_providers is not None and (
        not isinstance(meta_providers, Mapping)
        or not all(isinstance(k, str) and callable(v) for k, v in meta_providers.items())
    ):
        raise SettingsError(
            f"init(meta_providers={meta_providers!r}) must map dotted names to callables, "
            "e.g. dict(votakvot.meta.providers, **{'my.value': my_function})"
        )
    if sinks is not None and (isinstance(sinks, str) or not all(isinstance(s, str) for s in sinks)):
        raise SettingsError(f"init(sinks={sinks!r}) must be a list of sink names, e.g. ['yaml', 'csv']")
    if not isinstance(snapshot_serializer, str):
        raise SettingsError(f"init(snapshot_serializer={snapshot_serializer!r}) must be a serializer name")
    for name, value in (("heartbeat", heartbeat), ("flush_interval", flush_interval), ("meta_timeout", meta_timeout)):
        _check_seconds(name, value)
    if system_metrics is not None:
        _check_seconds("system_metrics", system_metrics, none="None or ")
    if not isinstance(handle_sigterm, bool):
        raise SettingsError(f"init(handle_sigterm={handle_sigterm!r}) must be True or False")
    if not any(share_index is choice for choice in (True, False)) and share_index != "read":
        raise SettingsError(
            f"init(share_index={share_index!r}) must be True (loads use the shared report index and add to it), "
            "'read' (they only use it) or False (they ignore it)"
        )
    if storage_errors not in STORAGE_ERRORS:
        raise SettingsError(
            f"init(storage_errors={storage_errors!r}) must be 'raise' (a trial that could not store "
            "everything ends with StorageError) or 'warn' (it ends with a warning)"
        )
    Settings(
        path=root,
        meta_providers=dict(meta_providers) if meta_providers is not None else None,
        sinks=tuple(sinks) if sinks is not None else None,
        snapshot_serializer=snapshot_serializer,
        heartbeat=float(heartbeat),
        flush_interval=float(flush_interval),
        system_metrics=float(system_metrics) if system_metrics is not None else None,
        meta_timeout=float(meta_timeout),
        handle_sigterm=handle_sigterm,
        storage_options=dict(storage_options) if storage_options is not None else None,
        filesystem=filesystem,
        storage_errors=storage_errors,
        share_index=share_index,
    ).apply()


def _check_seconds(name: str, value: Any, *, none: str = "") -> None:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or value <= 0:
        raise SettingsError(f"init({name}={value!r}) must be {none}a positive number of seconds, e.g. {name}=5")


def _location(path: Any) -> tuple[str | None, Any]:
    """Splits init's `path` into (root, filesystem object or None), refusing what cannot be a root."""
    if path is None:
        return None, None
    fsspec = sys.modules.get("fsspec")
    if fsspec is not None:
        if isinstance(path, fsspec.AbstractFileSystem):
            return "", path
        if isinstance(path, fsspec.FSMap):
            return path.root, path.fs
    if not isinstance(path, (str, os.PathLike)):
        raise SettingsError(
            f"init(path={path!r}) must be a folder, an fsspec URL such as 's3://bucket/exp', "
            "or an fsspec filesystem object or FSMap"
        )
    root = os.fspath(path)
    if not isinstance(root, str) or not root:
        raise SettingsError(f"init(path={path!r}) must be a non-empty folder or URL")
    if "://" in root and not root.startswith("file://"):
        return root, None
    local = absolute(root[len("file://") :] if root.startswith("file://") else root)
    if os.path.exists(local) and not os.path.isdir(local):
        raise SettingsError(f"init(path={path!r}) is a file, not a folder; give the folder the trials should go in")
    return local, None


def _reset() -> None:
    global _current, _initialized, _from_env
    _current, _initialized, _from_env = Settings(), False, None
    _warned_left_out.clear()
    if _env_at_import is None:
        os.environ.pop(_envvars.SETTINGS, None)
    else:
        os.environ[_envvars.SETTINGS] = _env_at_import


state.register(reset=_reset)
