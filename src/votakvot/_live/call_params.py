"""What `@track` records of one call: the bound arguments (defaults applied, `**kwargs` spread,
a leading `self`/`cls` left out), less the ones `exclude` names, each small enough to be a param.

An argument larger than `MAX_PARAM_BYTES` as YAML (a model, a data set, an Optuna trial with
its whole study) is recorded as a short note, with a `ParamNotStoredWarning` at the call; one
that a plug-in records in a form of its own (`votakvot.params`) is left to it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from .._files import yaml_format
from .._files.layout import MAX_PARAM_BYTES
from ..errors import CallArgumentError, ParamNotStoredWarning
from . import param_recorders
from .caller import warn_at_caller

Binder = Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any]]

# Values that are always small: checked by type alone, so the common call costs nothing more.
_SMALL = frozenset({int, float, bool, type(None)})
# A str this short is small as YAML whatever it holds (an escape takes at most 10 characters).
_SHORT_STR = MAX_PARAM_BYTES // 10


def excluded_names(fn: Callable[..., Any], exclude: str | Iterable[str]) -> frozenset[str]:
    """Checks `track(exclude=...)` against `fn`'s signature: names of its arguments (any name
    if it takes `**kwargs`); raises CallArgumentError naming what is wrong."""
    names = (exclude,) if isinstance(exclude, str) else exclude
    try:
        names = tuple(names)
    except TypeError:
        raise CallArgumentError(f"track(exclude={exclude!r}) takes argument names, e.g. exclude=['trial']") from None
    wrong = [name for name in names if not isinstance(name, str)]
    if wrong:
        raise CallArgumentError(f"track(exclude=...) takes argument names (str), not {wrong[0]!r}")
    parameters = inspect.signature(fn).parameters
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return frozenset(names)
    unknown = [name for name in names if name not in parameters]
    if unknown:
        raise CallArgumentError(
            f"track(exclude={list(names)!r}) names {unknown[0]!r}, which is no argument of "
            f"{getattr(fn, '__qualname__', fn)!r}; its arguments are {list(parameters)}"
        )
    return frozenset(names)


def binder(fn: Callable[..., Any], trial_name: str, exclude: frozenset[str] = frozenset()) -> Binder:
    """Returns a function mapping the (args, kwargs) of one call of `fn` to its params."""
    bind = _binder(fn, exclude)

    def params_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        params = bind(args, kwargs)
        for name, value in params.items():
            kind = type(value)
            if kind in _SMALL or (kind is str and len(value) <= _SHORT_STR):
                continue
            note = _too_large(value)
            if note is not None:
                params[name] = note
                _warn_too_large(trial_name, name, note)
        return params

    return params_of


def _too_large(value: Any) -> str | None:
    """Returns the note that stands for `value` if it is too large to be a param, else None."""
    if param_recorders.recorder_of(value) is not None:
        return None
    try:
        if yaml_format.fits(value, MAX_PARAM_BYTES):
            return None
    except Exception:  # cannot be stored at all: the document stores its stand-in, and warns
        return None
    return f"<too large {type(value).__qualname__}: over {MAX_PARAM_BYTES} bytes as YAML>"


def _warn_too_large(trial_name: str, name: str, note: str) -> None:
    warn_at_caller(
        f"votakvot: argument {name!r} of {trial_name} is larger than {MAX_PARAM_BYTES:,} bytes as YAML "
        f"(votakvot.plugins.MAX_PARAM_BYTES), too large for a param: {note!r} is recorded instead. "
        f"Leave it out with @votakvot.track(exclude=[{name!r}]), pass a smaller value, or attach "
        "large data to the trial as a file.",
        ParamNotStoredWarning,
    )


def _binder(fn: Callable[..., Any], exclude: frozenset[str]) -> Binder:
    """Binds (args, kwargs) to `fn`'s arguments, leaving out those in `exclude`."""
    signature = inspect.signature(fn)
    params = list(signature.parameters.values())
    skip = params[0].name if params and params[0].name in ("self", "cls") else None
    var_kw = next((p.name for p in params if p.kind is p.VAR_KEYWORD), None)

    def bind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        out: dict[str, Any] = {}
        for key, value in bound.arguments.items():
            if key == skip or key in exclude:
                continue
            if key == var_kw:
                out.update((k, v) for k, v in value.items() if k not in exclude)
            else:
                out[key] = value
        return out

    simple = all(p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) for p in params) and skip is None
    if not simple:
        return bind
    positional = tuple(p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD)
    names = frozenset(p.name for p in params)
    order = tuple(p.name for p in params)
    defaults = {p.name: p.default for p in params if p.default is not p.empty}

    def bind_simple(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        # The common case without inspect's machinery; anything unusual goes through bind(),
        # which raises the same TypeError a call would.
        if len(args) > len(positional) or not names.issuperset(kwargs):
            return bind(args, kwargs)
        out = dict(zip(positional, args, strict=False))
        if kwargs:
            if not out.keys().isdisjoint(kwargs):
                return bind(args, kwargs)
            out.update(kwargs)
        if len(out) < len(names):
            for key, value in defaults.items():
                out.setdefault(key, value)
            if len(out) < len(names):
                return bind(args, kwargs)
        if exclude:
            return {name: out[name] for name in order if name not in exclude}
        return out if len(args) == len(order) else {name: out[name] for name in order}

    return bind_simple
