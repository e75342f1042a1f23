"""The house drawing (docs/architecture.md) against the code: rooms, doors, no circles.

A room is a top-level module or package of ``segwise``; a door is a runtime import from
one room into another (imports only for type checkers are not doors). The drawing must
show every door the code has, the doors must form no circle, and no room downstream of
features may open a door into a particular kind's features module.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "segwise"
DRAWING = ROOT / "docs" / "architecture.md"
#: Leaf utilities every room may use; the drawing leaves them out (they import no room).
UTILITIES = {"exceptions", "_engine", "_expr", "_skew", "_settings", "_registry", "_lazy",
             "_time", "_geo", "_kernels", "_threads", "_parallel", "_proc", "__main__",
             "_frames"}
#: Rooms that take entity tables and must not know which kind they came from.
KIND_BLIND = {"segment", "profile", "report", "store"}


def _room(module: str) -> str:
    return module.split(".")[1]


def _imports() -> list[tuple[str, str]]:
    """(importing module, imported module) for every runtime import inside segwise."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(("segwise", *path.relative_to(PACKAGE).with_suffix("").parts))
        module = module.removesuffix(".__init__")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                       and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            else:
                continue
            found += [(module, n) for n in names if n.startswith("segwise.")]
    return found


def _doors() -> dict[str, set[str]]:
    doors: dict[str, set[str]] = defaultdict(set)
    for src, dst in _imports():
        a, b = _room(src), _room(dst)
        if a != b and ((PACKAGE / b).is_dir() or (PACKAGE / f"{b}.py").exists()):
            doors[a].add(b)
    return doors


def _drawn() -> set[tuple[str, str]]:
    text = DRAWING.read_text(encoding="utf-8")
    block = re.search(r"```mermaid\n(.*?)```", text, re.S)
    assert block, "docs/architecture.md has no mermaid drawing"
    return set(re.findall(r"^\s*(\w+)\s*-->\s*(\w+)\s*$", block.group(1), re.M))


def test_utilities_are_leaves() -> None:
    doors = _doors()
    # A utility may build on another (the compiled kernels on the Earth's radius), never
    # on a room.
    for room in UTILITIES - {"__main__"}:
        assert doors.get(room, set()) <= UTILITIES, f"{room} imports {doors[room]}"


def test_the_drawing_shows_every_door() -> None:
    doors = {(a, b) for a, bs in _doors().items() for b in bs
             if a not in UTILITIES and b not in UTILITIES}
    missing = sorted(doors - _drawn())
    assert not missing, f"doors in the code but not in docs/architecture.md: {missing}"
    stale = sorted(_drawn() - doors)
    assert not stale, f"doors drawn in docs/architecture.md that the code lacks: {stale}"


def test_no_circle_between_rooms() -> None:
    doors = _doors()
    state: dict[str, int] = {}

    def visit(room: str, path: list[str]) -> None:
        state[room] = 1
        for nxt in sorted(doors.get(room, ())):
            assert state.get(nxt) != 1, f"circle: {' -> '.join([*path, room, nxt])}"
            if nxt not in state:
                visit(nxt, [*path, room])
        state[room] = 2

    for room in sorted(doors):
        if room not in state:
            visit(room, [])


def test_rooms_after_features_never_ask_which_kind() -> None:
    from segwise.features import _entity

    shared = {"segwise.features", "segwise.features._entity",
              *(f"segwise.features.{name}" for name in _entity.__all__)}
    offending = sorted((src, dst) for src, dst in _imports()
                       if _room(src) in KIND_BLIND and dst.startswith("segwise.features")
                       and dst not in shared)
    assert not offending, f"kind-specific features imported downstream: {offending}"


def test_every_warning_is_one_a_user_can_filter_as_segwise_s() -> None:
    # Plain UserWarnings meant that silencing segwise silenced every library's warnings;
    # a warning added later as a UserWarning slipped past the conversion (people's).
    allowed = {"SegwiseWarning", "SegwiseNote", "FitWarning",
               "ConvergenceWarning"}  # scikit-learn's, for a model fit that stopped early
    others = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and ast.unparse(node.func) in ("warnings.warn",
                                                                         "warn"):
                category = node.args[1] if len(node.args) > 1 else next(
                    (k.value for k in node.keywords if k.arg == "category"), None)
                if category is None or ast.unparse(category) not in allowed:
                    others.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not others, others


def test_no_function_imports_a_standard_module_segwise_already_loaded() -> None:
    # An import inside a function is for a module a command may never need (startup
    # time); one that ``import segwise`` has loaded already gains nothing and only hides
    # the module's dependencies (``_name_words`` imported ``re`` at each call).
    loaded = set(subprocess.run(
        [sys.executable, "-c", "import sys, segwise; print(*sys.modules)"],
        capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": str(PACKAGE.parent)}).stdout.split())
    late = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(func):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                         [node.module] if isinstance(node, ast.ImportFrom) and node.module
                         and not node.level else [])
                late += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names
                         if n.split(".")[0] in sys.stdlib_module_names and n in loaded]
    assert not late, f"import these at the module's top: {sorted(set(late))}"
