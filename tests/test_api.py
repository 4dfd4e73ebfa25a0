"""Guards on the public surface: __all__, the built-in entry points, and what `import votakvot` costs."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

import votakvot
from conftest import run_python

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
PUBLIC_SUBMODULES = ["errors", "events", "meta", "metrics", "plugins", "testing"]
HEAVY = ["pandas", "fsspec", "git", "psutil", "numpy"]


def _in_fresh_python(code: str, tmp_path: Path) -> str:
    child = run_python(code, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    return out


def _builtin_entry_points() -> list[tuple[str, str, str]]:
    groups = tomllib.loads(PYPROJECT.read_text())["project"]["entry-points"]
    return [(group, name, target) for group, table in groups.items() for name, target in table.items()]


def test_all_is_sorted():
    """votakvot.__all__ is sorted."""
    assert votakvot.__all__ == sorted(votakvot.__all__)
    assert len(set(votakvot.__all__)) == len(votakvot.__all__)


def test_every_name_in_all_exists():
    """Every name in votakvot.__all__ can be read from the package."""
    missing = [name for name in votakvot.__all__ if not hasattr(votakvot, name)]
    assert missing == []


def test_all_is_complete(tmp_path):
    """Every public name of a freshly imported votakvot is in __all__, and `import *` gives exactly __all__."""
    out = _in_fresh_python(
        "import json, types, votakvot\n"
        "public = [n for n, v in vars(votakvot).items() if not n.startswith('_') and n != 'annotations']\n"
        "star = {}\n"
        "exec('from votakvot import *', star)\n"
        "star = sorted(set(star) - {'__builtins__'})\n"
        "print(json.dumps({'public': public, 'star': star, 'all': votakvot.__all__}))\n",
        tmp_path,
    )
    got = json.loads(out)
    assert sorted(set(got["public"]) - set(got["all"])) == []
    assert got["star"] == sorted(got["all"])


@pytest.mark.parametrize("name", PUBLIC_SUBMODULES)
def test_public_submodule_all_is_sorted_and_exists(name):
    """Each public submodule has a sorted __all__ whose names all exist."""
    module = importlib.import_module(f"votakvot.{name}")
    assert module.__all__ == sorted(module.__all__)
    assert [n for n in module.__all__ if not hasattr(module, n)] == []


def test_public_names_have_docstrings():
    """Every public class and function of the package front door has a docstring."""
    undocumented = [
        name
        for name in votakvot.__all__
        if callable(getattr(votakvot, name)) and not (getattr(votakvot, name).__doc__ or "").strip()
    ]
    assert undocumented == []


def test_pyproject_declares_the_three_groups_with_builtins():
    """pyproject registers built-ins in groups votakvot.plugins reads: the three that have
    built-ins (`votakvot.params` and `votakvot.statuses` have none)."""
    groups = {group for group, _, _ in _builtin_entry_points()}
    assert groups <= set(votakvot.plugins.GROUPS)
    assert groups == {"votakvot.meta_providers", "votakvot.serializers", "votakvot.sinks"}
    assert set(votakvot.plugins.GROUPS) - groups == {"votakvot.params", "votakvot.statuses"}


@pytest.mark.parametrize(("group", "name", "target"), _builtin_entry_points(), ids=lambda v: str(v))
def test_every_builtin_entry_point_imports(group, name, target):
    """Every built-in entry point in pyproject.toml imports and names an existing object the registry loads."""
    module_name, _, attribute = target.partition(":")
    obj = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    assert obj is not None
    assert votakvot.plugins.entries(group)[name] is obj


def test_importing_votakvot_skips_heavy_dependencies(tmp_path):
    """`import votakvot` imports none of pandas, fsspec, git, psutil or numpy."""
    out = _in_fresh_python(
        f"import json, sys\nimport votakvot\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n",
        tmp_path,
    )
    assert json.loads(out) == []


def test_importing_votakvot_does_not_scan_entry_points(tmp_path):
    """`import votakvot` neither loads plug-ins nor builds the metadata provider table."""
    out = _in_fresh_python(
        "import json, sys\n"
        "import votakvot\n"
        "loaded = [m for m in sys.modules if m.startswith('votakvot_') or m in ('votakvot._builtins.git_meta',)]\n"
        "print(json.dumps({'loaded': loaded, 'providers': 'providers' in vars(votakvot.meta)}))\n",
        tmp_path,
    )
    assert json.loads(out) == {"loaded": [], "providers": False}


def test_errors_subclass_the_builtins_users_catch():
    """Each votakvot error is a VotakvotError and also the builtin a user would catch; each warning
    is a VotakvotWarning (a UserWarning)."""
    errors = votakvot.errors
    assert issubclass(errors.TrialStateError, (errors.VotakvotError, RuntimeError))
    assert issubclass(errors.AttachPathError, errors.VotakvotError)
    assert issubclass(errors.AttachPathError, ValueError)
    assert issubclass(errors.SymlinkError, OSError)
    assert issubclass(errors.MissingDependencyError, ImportError)
    assert issubclass(errors.MissingDependencyError, errors.VotakvotError)
    assert issubclass(errors.StorageError, (errors.VotakvotError, OSError))
    assert issubclass(errors.StorageWarning, (errors.VotakvotWarning, UserWarning))
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.VotakvotWarning if issubclass(cls, Warning) else errors.VotakvotError), name


def test_version_is_a_string():
    """votakvot.__version__ is the package version from its metadata."""
    from importlib.metadata import version

    assert isinstance(votakvot.__version__, str)
    assert votakvot.__version__ == version("votakvot")
    assert sys.modules["votakvot"] is votakvot


def test_missing_filesystem_package_names_the_extra(tmp_path, monkeypatch):
    """A URL whose fsspec implementation is not installed raises MissingDependencyError naming the
    extra: at init, and at the first trial when the root comes from $VOTAKVOT_PATH."""
    import importlib.util

    if importlib.util.find_spec("gcsfs") is not None:
        pytest.skip("gcsfs is installed here")
    with pytest.raises(votakvot.errors.MissingDependencyError, match=r"votakvot\[gcs\]"):
        votakvot.init(path="gs://some-bucket/exp")
    monkeypatch.setenv("VOTAKVOT_PATH", "gs://some-bucket/exp")
    with pytest.raises(votakvot.errors.MissingDependencyError, match=r"votakvot\[gcs\]"), votakvot.trial("x"):
        pass
    with pytest.raises(ImportError):
        votakvot.load_report("gs://some-bucket/exp")


def test_star_import_scans_no_entry_points():
    """`from votakvot import *` leaves plug-in discovery for the first trial."""
    code = (
        "import json\n"
        "star = {}\n"
        "exec('from votakvot import *', star)\n"
        "import votakvot, votakvot.plugins, votakvot.meta\n"
        "print(json.dumps({'cache': sorted(votakvot.plugins._cache), "
        "'providers': 'providers' in vars(votakvot.meta), 'trial': 'trial' in star}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == {"cache": [], "providers": False, "trial": True}


def test_public_classes_show_their_public_name():
    """Public classes report `votakvot.X`, not the private module they are defined in."""
    for cls in (
        votakvot.Trial,
        votakvot.LiveTrial,
        votakvot.AttrDict,
        votakvot.InertObject,
        votakvot.MetricSeries,
        votakvot.resumable_fn,
        votakvot.ReportPart,
        votakvot.ReportRows,
    ):
        assert cls.__module__ == "votakvot", cls
        assert getattr(votakvot, cls.__name__) is cls


def test_the_bulk_readers_load_on_first_use(tmp_path):
    """`import votakvot` leaves the report, metrics, diff and removal readers for their first use,
    and `from votakvot import load_report` (or attribute access) still gets them."""
    out = _in_fresh_python(
        "import json, sys\n"
        "import votakvot\n"
        "modules = ('votakvot._read.report', 'votakvot._read.metrics_frame', 'votakvot._read.diff',\n"
        "           'votakvot._read.removal', 'votakvot._read.trial_html', 'votakvot._cli.main',\n"
        "           'votakvot._read.report_parts')\n"
        "before = [m for m in modules if m in sys.modules]\n"
        "from votakvot import load_report\n"
        "names = [votakvot.load_trials.__name__, votakvot.load_metrics.__name__, votakvot.diff.__name__,\n"
        "         votakvot.remove.__name__, load_report.__name__, votakvot.report_parts.__name__]\n"
        "print(json.dumps({'before': before, 'names': names}))\n",
        tmp_path,
    )
    assert json.loads(out) == {
        "before": [],
        "names": ["load_trials", "load_metrics", "diff", "remove", "load_report", "report_parts"],
    }
