"""The rooms of `src/votakvot` import one way only, as the README's map of rooms says."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "votakvot"

# Lowest first: a module may import from its own room and from rooms earlier in this list.
LAYERS: list[set[str]] = [
    {"errors", "_envvars", "_version"},
    {"_process"},
    {"_files"},
    {"events", "plugins"},
    {"meta"},
    {"_builtins"},
    {"_read"},
    {"_live"},
    {"_look"},
    {"metrics", "testing", "__init__"},
    {"_cli", "__main__"},
]
RANK = {room: rank for rank, rooms in enumerate(LAYERS) for room in rooms}
# The built-ins are written as a third-party plug-in would be: public modules only.
BUILTINS_MAY_IMPORT = {"plugins", "events", "meta", "errors", "_builtins"}


def _room(module: str) -> str:
    """`votakvot._live.trial` -> `_live`; `votakvot.events` -> `events`; `votakvot` -> `__init__`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Lines inside `if TYPE_CHECKING:` blocks (imports for annotations only never run)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imports(source: str, module: str, *, is_package: bool = False) -> list[tuple[int, str]]:
    """Every votakvot module the source of `module` imports at run time, with its line."""
    tree = ast.parse(source)
    package = module if is_package else module.rsplit(".", 1)[0]
    skip = _type_checking_lines(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)) or node.lineno in skip:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "votakvot"]
        else:
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] != "votakvot":
                continue
            if target == "votakvot" or (node.module is None and node.level):
                found += [(node.lineno, f"{target}.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, target))
    return found


def _all_edges() -> list[tuple[str, int, str]]:
    return [
        (_module_name(path), line, target)
        for path in sorted(PACKAGE.rglob("*.py"))
        for line, target in _imports(path.read_text(), _module_name(path), is_package=path.name == "__init__.py")
    ]


def _upward(edges: list[tuple[str, int, str]]) -> list[str]:
    return [
        f"{module}:{line} imports {target}"
        for module, line, target in edges
        if _room(module) != _room(target) and RANK[_room(target)] > RANK[_room(module)]
    ]


def test_every_module_belongs_to_a_room_on_the_map():
    """Each module of the package sits in a room the layer table names (a new room needs a place)."""
    rooms = {_room(_module_name(path)) for path in PACKAGE.rglob("*.py")}
    assert rooms - set(RANK) == set()


def test_imports_point_down_the_layers_only():
    """A module imports only from its own room or from lower rooms: no cycles between rooms."""
    assert _upward(_all_edges()) == []


def test_builtins_use_only_the_public_plugin_contract():
    """The built-in sinks and providers import only public modules, like a third-party plug-in."""
    wrong = [
        f"{module}:{line} imports {target}"
        for module, line, target in _all_edges()
        if _room(module) == "_builtins" and _room(target) not in BUILTINS_MAY_IMPORT
    ]
    assert wrong == []


def test_nothing_imports_the_builtins_directly():
    """The built-ins are reached only through entry points, as any plug-in is."""
    wrong = [
        f"{module}:{line} imports {target}"
        for module, line, target in _all_edges()
        if _room(target) == "_builtins" and _room(module) != "_builtins"
    ]
    assert wrong == []


def test_the_layer_rule_catches_an_upward_import_inside_a_function():
    """An upward relative import, even one hidden in a function, is found; a type-only one is not."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "from . import storage\n"
        "if TYPE_CHECKING:\n"
        "    from .._live.trial import LiveTrial\n"
        "def f():\n"
        "    from .._read import trial\n"
    )
    edges = [("votakvot._files.layout", line, target) for line, target in _imports(source, "votakvot._files.layout")]
    assert [target for _, _, target in edges] == ["votakvot._files.storage", "votakvot._read"]
    assert _upward(edges) == ["votakvot._files.layout:6 imports votakvot._read"]
