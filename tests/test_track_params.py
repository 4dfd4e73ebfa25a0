"""What `@votakvot.track()` records of a call's arguments: `exclude` leaves some out, and an
argument too large to be a param is recorded as a short note, with a warning at the call."""

from __future__ import annotations

import asyncio
import pickle
import warnings

import cloudpickle
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import votakvot
import worker_tasks
from conftest import read_yaml
from votakvot._files import yaml_format
from votakvot.errors import CallArgumentError, ParamNotStoredWarning
from votakvot.plugins import MAX_PARAM_BYTES

FAST = {"heartbeat": 0.2, "flush_interval": 0.1}


class Model:
    """An object with no plain form, whose YAML grows with `size` (as a fitted model's does)."""

    def __init__(self, size: int) -> None:
        self.weights = [0.5] * size


class Counted:
    """Counts how often it is represented (PyYAML pickles it to find its state)."""

    reduced = 0

    def __reduce_ex__(self, protocol: object) -> tuple:
        Counted.reduced += 1
        return (Counted, ())


@votakvot.track(exclude=["data", "model"])
def fit(data, model, lr=0.1):
    return len(data) * lr


@votakvot.track(exclude="data")
def fit_one(data, lr=0.1):
    return lr


@votakvot.track(exclude=["secret"])
def configured(name, **options):
    return name


@votakvot.track(exclude=["options"])
def without_options(name, **options):
    return name


@votakvot.track()
def keep_everything(thing, lr=0.1):
    return lr


@votakvot.track(exclude=["data"])
async def fit_later(data, lr=0.1):
    await asyncio.sleep(0)
    return lr


@votakvot.track(exclude=["data"])
def fit_steps(data, steps=2):
    yield from range(steps)
    return "done"


def _doc(t_or_path) -> dict:
    path = t_or_path if isinstance(t_or_path, str) else t_or_path.path
    return read_yaml(f"{path}/votakvot.yaml")


def _the_trial(root: str) -> votakvot.Trial:
    (found,) = votakvot.load_trials(root).values()
    return found


def test_excluded_arguments_are_not_params(local_root):
    """Arguments named in `exclude` are passed to the function but not recorded; the rest are."""
    votakvot.init(path=local_root, **FAST)
    assert fit([1, 2, 3], Model(10), lr=0.5) == 1.5
    trial = _the_trial(local_root)
    assert dict(trial.params) == {"lr": 0.5}
    assert trial.result == 1.5


def test_exclude_takes_a_single_name_too(local_root):
    """`exclude="data"` is the same as `exclude=["data"]`."""
    votakvot.init(path=local_root, **FAST)
    fit_one(list(range(5)), lr=0.2)
    assert dict(_the_trial(local_root).params) == {"lr": 0.2}


def test_exclude_names_keys_of_spread_kwargs_and_the_kwargs_argument(local_root):
    """With `**options`, a name in `exclude` leaves that keyword out; the name of `**options`
    itself leaves all of them out."""
    votakvot.init(path=local_root, **FAST)
    configured("a", secret="hunter2", depth=3)
    assert dict(_the_trial(local_root).params) == {"name": "a", "depth": 3}
    votakvot.init(path=f"{local_root}/2", **FAST)
    without_options("b", secret="hunter2", depth=3)
    assert dict(_the_trial(f"{local_root}/2").params) == {"name": "b"}


def test_exclude_works_for_async_and_generator_functions(local_root):
    """`async def` and generator functions leave excluded arguments out as well."""
    votakvot.init(path=local_root, **FAST)
    assert asyncio.run(fit_later([0] * 10_000, lr=0.3)) == 0.3
    assert list(fit_steps([0] * 10_000)) == [0, 1]
    params = [dict(t.params) for t in votakvot.load_trials(local_root).values()]  # in creation order
    assert params == [{"lr": 0.3}, {"steps": 2}]


def test_exclude_naming_no_argument_is_refused_when_decorating():
    """A name that is no argument of the function raises CallArgumentError at the decorator,
    naming it and the arguments there are."""
    with pytest.raises(CallArgumentError, match=r"'dta'.*no argument of.*\['data', 'lr'\]"):

        @votakvot.track(exclude=["dta"])
        def typo(data, lr):
            return lr


@pytest.mark.parametrize("exclude", [[1], 5, [None]], ids=["int-in-list", "int", "none-in-list"])
def test_exclude_of_something_else_than_names_is_refused(exclude):
    """`exclude` takes argument names; anything else raises CallArgumentError saying so."""
    with pytest.raises(CallArgumentError, match="argument names"):

        @votakvot.track(exclude=exclude)
        def f(data):
            return data


def test_exclude_travels_with_the_pickled_function(local_root):
    """A tracked function pickled by reference (multiprocessing) or by value (cloudpickle: Dask,
    Ray, loky) still leaves its excluded arguments out where it runs."""
    votakvot.init(path=local_root, **FAST)
    by_reference = pickle.loads(pickle.dumps(worker_tasks.fit_without_data))
    cloudpickle.register_pickle_by_value(worker_tasks)
    try:
        by_value = cloudpickle.loads(cloudpickle.dumps(worker_tasks.fit_without_data))
    finally:
        cloudpickle.unregister_pickle_by_value(worker_tasks)
    assert by_value is not worker_tasks.fit_without_data
    by_reference([1.0] * 5000, lr=0.1)
    by_value([1.0] * 5000, lr=0.2)
    params = sorted(dict(t.params)["lr"] for t in votakvot.load_trials(local_root).values())
    assert params == [0.1, 0.2]
    assert all(set(t.params) == {"lr"} for t in votakvot.load_trials(local_root).values())


def test_an_argument_too_large_for_a_param_is_a_note_and_a_warning_at_the_call(local_root):
    """An object whose YAML is larger than MAX_PARAM_BYTES is recorded as a short note, the other
    params as given; a ParamNotStoredWarning names the argument, points at the caller's line and
    says how to leave it out."""
    votakvot.init(path=local_root, **FAST)
    with pytest.warns(ParamNotStoredWarning) as caught:
        keep_everything(Model(MAX_PARAM_BYTES), lr=0.01)
    (warning,) = caught
    assert warning.filename == __file__
    message = str(warning.message)
    assert "'thing'" in message
    assert "exclude=['thing']" in message
    assert f"{MAX_PARAM_BYTES:,} bytes" in message
    trial = _the_trial(local_root)
    assert trial.status == "done"
    assert dict(trial.params) == {"thing": f"<too large Model: over {MAX_PARAM_BYTES} bytes as YAML>", "lr": 0.01}
    report = votakvot.load_report(local_root)
    assert report.loc[0, "thing"].startswith("<too large Model")


def test_large_plain_data_is_a_note_too(local_root):
    """The guard is about size, not kind: a long list of numbers is no param either."""
    votakvot.init(path=local_root, **FAST)
    with pytest.warns(ParamNotStoredWarning, match="'thing'"):
        keep_everything(list(range(10_000)))
    assert dict(_the_trial(local_root).params)["thing"] == f"<too large list: over {MAX_PARAM_BYTES} bytes as YAML>"


def test_small_values_of_any_kind_are_stored_as_before(local_root):
    """Small lists, dicts and objects are recorded as given, with no warning: a small object
    keeps its `!!python/object` tag and loads back (trusted) as itself."""
    votakvot.init(path=local_root, **FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        keep_everything({"layers": [64, 64], "act": "relu"})
        keep_everything(Model(3))
    trials = list(votakvot.load_trials(local_root, trusted=True).values())
    assert trials[0].params["thing"] == {"layers": [64, 64], "act": "relu"}
    assert trials[1].params["thing"].weights == [0.5, 0.5, 0.5]


def test_a_huge_object_costs_about_the_limit_not_its_whole_size(local_root):
    """Measuring stops once the YAML would pass the limit: of 200,000 nested objects, only
    about MAX_PARAM_BYTES are ever looked at."""
    votakvot.init(path=local_root, **FAST)
    Counted.reduced = 0
    with pytest.warns(ParamNotStoredWarning):
        keep_everything([Counted() for _ in range(200_000)])
    assert 0 < Counted.reduced <= MAX_PARAM_BYTES


def test_trial_records_params_as_given_whatever_their_size(local_root):
    """The guard belongs to `@track` (arguments are not chosen one by one): params given to
    `votakvot.trial` by name are stored as given, up to the document's own limit."""
    votakvot.init(path=local_root, **FAST)
    data = list(range(10_000))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with votakvot.trial("explicit", data=data) as t:
            pass
    assert _doc(t)["params"]["data"] == data


_SCALARS = st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=40), st.booleans(), st.none())
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=8),
        st.dictionaries(st.text(max_size=10), inner, max_size=8),
        st.builds(tuple, st.lists(inner, max_size=4)),
        st.builds(Model, st.integers(0, 50)),
    ),
    max_leaves=200,
)


@settings(max_examples=300, deadline=None)
@given(value=_VALUES, limit=st.sampled_from([16, 64, 256, 1024]))
def test_the_size_guard_tells_exactly_whether_a_value_fits(value, limit):
    """The guard's early stop never misjudges: a value fits exactly when its YAML is at most the limit."""
    assert yaml_format.fits(value, limit) == (len(yaml_format.dump_value(value).encode()) <= limit)
