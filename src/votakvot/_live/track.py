"""`@votakvot.track()`: every call of a function runs inside its own trial."""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable, Generator
from typing import Any, ParamSpec, TypeVar, cast, overload

from .verbs import trial

P = ParamSpec("P")
R = TypeVar("R")


def _trial_name(fn: Callable[..., Any]) -> str:
    qualname = getattr(fn, "__qualname__", fn.__name__).replace(".<locals>", "")
    return f"{fn.__module__}/{qualname}"


def _binder(fn: Callable[..., Any]) -> Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any]]:
    """Returns a function mapping (args, kwargs) to the params of one call of `fn`."""
    signature = inspect.signature(fn)
    params = list(signature.parameters.values())
    skip = params[0].name if params and params[0].name in ("self", "cls") else None
    var_kw = next((p.name for p in params if p.kind is p.VAR_KEYWORD), None)

    def bind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        out: dict[str, Any] = {}
        for key, value in bound.arguments.items():
            if key == skip:
                continue
            if key == var_kw:
                out.update(value)
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
        return out if len(args) == len(order) else {name: out[name] for name in order}

    return bind_simple


def _drive(ctx: contextvars.Context, gen: Generator[Any, Any, Any]) -> Generator[Any, Any, Any]:
    """Re-yields `gen`, running each of its steps inside `ctx` (where its trial is active)."""
    method: Callable[[Any], Any] = gen.send
    arg: Any = None
    while True:
        try:
            item = ctx.run(method, arg)
        except StopIteration as stop:
            return stop.value
        try:
            arg = yield item
            method = gen.send
        except GeneratorExit:
            ctx.run(gen.close)
            raise
        except BaseException as e:
            method, arg = gen.throw, e


@overload
def track(name: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def track(name: str | None = None) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def track(name: str | Callable[..., Any] | None = None) -> Any:
    """Runs every call of the decorated function as a trial named `{module}/{function}`.

    Params are the bound arguments (defaults applied, **kwargs flattened); the return value is the
    trial's result. Works for plain, `async def` and generator functions; stays picklable.

        @votakvot.track()
        def my_experiment(one, two):
            return one + two
    """
    if callable(name):  # used bare: @votakvot.track
        return track()(name)

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        trial_name = name or _trial_name(fn)
        bind = _binder(fn)

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with trial(trial_name, **bind(args, kwargs)) as t:
                    t.result = await fn(*args, **kwargs)
                return t.result

            return cast(Callable[P, R], async_wrapper)

        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def generator_wrapper(*args: Any, **kwargs: Any) -> Any:
                ctx = contextvars.copy_context()
                t = trial(trial_name, **bind(args, kwargs))
                ctx.run(t.__enter__)
                try:
                    result = yield from _drive(ctx, ctx.run(fn, *args, **kwargs))
                except BaseException as e:
                    ctx.run(t.__exit__, type(e), e, e.__traceback__)
                    raise
                t.result = result
                ctx.run(t.__exit__, None, None, None)
                return result

            return cast(Callable[P, R], generator_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with trial(trial_name, **bind(args, kwargs)) as t:
                t.result = fn(*args, **kwargs)
            result: R = t.result
            return result

        return wrapper

    return decorate
