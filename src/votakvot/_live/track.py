"""`@votakvot.track()`: every call of a function runs inside its own trial, also in the other
processes the function is sent to."""

from __future__ import annotations

import contextvars
import functools
import importlib
import inspect
import sys
import types
from collections.abc import Callable, Generator, Iterable
from typing import Any, ParamSpec, TypeVar, cast, overload

from . import call_params, carry
from .verbs import trial

P = ParamSpec("P")
R = TypeVar("R")


def _trial_name(fn: Callable[..., Any]) -> str:
    qualname = getattr(fn, "__qualname__", fn.__name__).replace(".<locals>", "")
    # A spawned multiprocessing child imports the main module as `__mp_main__`.
    module = "__main__" if fn.__module__ == "__mp_main__" else fn.__module__
    return f"{module}/{qualname}"


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


class Tracked:
    """A plain function under `@votakvot.track()`: calling it runs a trial.

    It looks like the function (`__wrapped__`, `__name__`, `__qualname__`, `__module__`,
    `__doc__`, its signature) and binds as a method. Pickled, it takes along the settings in
    force and the trial it is sent from (see `carry`), so the call lands where the sender's
    trials do, recording the sender's trial as its parent.
    """

    __wrapped__: Callable[..., Any]
    __qualname__: str

    def __init__(
        self,
        fn: Callable[..., Any],
        name: str,
        carried: carry.Carried | None = None,
        exclude: frozenset[str] = frozenset(),
    ) -> None:
        functools.update_wrapper(self, fn)
        self._trial_name = name
        self._exclude = exclude
        self._bind = call_params.binder(fn, name, exclude)
        self._carried = carried
        self._home = self  # the module-level object, which pickles by reference

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._carried is not None:
            with carry.applied(self._carried):
                return self._run(args, kwargs)
        return self._run(args, kwargs)

    def _run(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        with trial(self._trial_name, **self._bind(args, kwargs)) as t:
            t.result = self.__wrapped__(*args, **kwargs)
        return t.result

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        return self if instance is None else types.MethodType(self, instance)

    def __repr__(self) -> str:
        return f"<tracked function {self.__module__}.{self.__qualname__}>"

    def _carrying(self, carried: carry.Carried) -> Tracked:
        copy = object.__new__(Tracked)
        copy.__dict__.update(self.__dict__)
        copy._carried = carried
        return copy

    def __reduce__(self) -> tuple[Any, ...]:
        carried = carry.capture(self._carried)
        home = self._home
        module, qualname = home.__module__, home.__qualname__
        if _lookup(module, qualname) is home and not _sent_by_value(module):
            return (_by_reference, (module, qualname, carried))
        return (_by_value, (self.__wrapped__, self._trial_name, carried, self._exclude))


def _lookup(module: str, qualname: str) -> Any:
    found: Any = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found


def _sent_by_value(module: str) -> bool:
    """Tells whether cloudpickle (Dask, Ray, loky) is pickling and sends functions of `module`
    by value: those of `__main__` (the process at the other end runs another `__main__`) and of
    modules registered with `cloudpickle.register_pickle_by_value`. Plain pickle
    (multiprocessing) sends everything by reference; spawned children resolve `__main__` by
    running the main module again. No argument tells which pickler called, so look at the stack.
    """
    frame: Any = sys._getframe(1)
    while frame is not None:
        names = frame.f_globals
        if "cloudpickle" in names.get("__name__", ""):
            by_value = names.get("_PICKLE_BY_VALUE_MODULES", ())
            parts = module.split(".")
            return module == "__main__" or any(".".join(parts[:i]) in by_value for i in range(1, len(parts) + 1))
        frame = frame.f_back
    return False


def _by_reference(module: str, qualname: str, carried: carry.Carried | None) -> Any:
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    if carried is None or not isinstance(found, Tracked):
        return found
    return found._carrying(carried)


def _by_value(
    fn: Callable[..., Any], name: str, carried: carry.Carried | None, exclude: frozenset[str] = frozenset()
) -> Tracked:
    return Tracked(fn, name, carried, exclude)


@overload
def track(name: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def track(
    name: str | None = None, *, exclude: str | Iterable[str] = ()
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def track(name: str | Callable[..., Any] | None = None, *, exclude: str | Iterable[str] = ()) -> Any:
    """Runs every call of the decorated function as a trial named `{module}/{function}`.

    Params are the bound arguments (defaults applied, **kwargs flattened), less the arguments
    named in `exclude`; an argument too large to be a param (over `plugins.MAX_PARAM_BYTES` as
    YAML) is recorded as a short note, with a warning. The return value is the trial's result.
    Works for plain, `async def` and generator functions; stays picklable. A plain function
    becomes a `Tracked` object, which takes the settings along to other processes.

        @votakvot.track(exclude=["data"])
        def my_experiment(data, one, two):
            return one + two
    """
    if callable(name):  # used bare: @votakvot.track
        return track()(name)

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        trial_name = name or _trial_name(fn)
        excluded = call_params.excluded_names(fn, exclude)
        # `async def` and generator functions stay functions, so that inspect still tells
        # what they are; pickled, they take nothing along.
        if inspect.iscoroutinefunction(fn):
            bind = call_params.binder(fn, trial_name, excluded)

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with trial(trial_name, **bind(args, kwargs)) as t:
                    t.result = await fn(*args, **kwargs)
                return t.result

            return cast(Callable[P, R], async_wrapper)

        if inspect.isgeneratorfunction(fn):
            bind = call_params.binder(fn, trial_name, excluded)

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

        return cast(Callable[P, R], Tracked(fn, trial_name, exclude=excluded))

    return decorate
