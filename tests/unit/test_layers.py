"""The layers hold (DEVELOPERS.md, "Layers"): the faces (``commands/``, ``web/``)
import only each area's public surface (its ``__init__`` and the names in its
``__all__``), and no module imports its way back round to itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PKG = SRC / "pupilshare"
FACES = ("commands", "web")
# the top-level modules that orchestrate areas: they obey the faces' rule too
REGISTRIES = ("cli.py", "cliapp.py", "demo.py", "status.py", "docs.py")


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_package(module: str) -> bool:
    return (SRC.joinpath(*module.split(".")) / "__init__.py").exists()


def _is_module(module: str) -> bool:
    return (
        _is_package(module)
        or SRC.joinpath(*module.split(".")).with_suffix(".py").exists()
    )


def _public(package: str) -> set[str]:
    """The names in a package's ``__all__``."""
    tree = ast.parse((SRC.joinpath(*package.split(".")) / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return set(ast.literal_eval(node.value))
    return set()


def _absolute(node: ast.ImportFrom, module: str, is_pkg: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_pkg else base[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and (
        (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
        or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")
    )


def _imports(path: Path, at_run_time: bool) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of every import, in functions too; with
    ``at_run_time``, not those under ``if TYPE_CHECKING`` (never executed)."""
    module = _module_name(path)
    out = []

    def visit(node: ast.AST) -> None:
        if at_run_time and _is_type_checking(node):
            for child in node.orelse:  # type: ignore[attr-defined]
                visit(child)
            return
        if isinstance(node, ast.Import):
            out.extend((node.lineno, a.name, []) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(node, module, path.name == "__init__.py")
            out.append((node.lineno, target, [a.name for a in node.names]))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return out


def _area_of(module: str) -> str | None:
    """``pupilshare.X`` when X is a package (an area or a face), else None."""
    parts = module.split(".")
    if len(parts) >= 2 and parts[0] == "pupilshare":
        area = ".".join(parts[:2])
        return area if _is_package(area) else None
    return None


def face_violations(path: Path) -> list[str]:
    """Imports of a face module that reach past an area's public surface."""
    face = _area_of(_module_name(path))
    bad = []
    for line, target, names in _imports(path, at_run_time=False):
        area = _area_of(target)
        if area is None or area == face:
            continue
        where = f"{path.relative_to(SRC)}:{line}"
        if target != area:
            bad.append(f"{where}: imports {target}, inside {area}")
            continue
        public = _public(area)
        for name in names:
            if name not in public and not _is_module(f"{area}.{name}"):
                bad.append(f"{where}: {area}.{name} is not in its __all__")
    return bad


def test_faces_import_only_public_surfaces() -> None:
    faces = [p for f in FACES for p in sorted((PKG / f).rglob("*.py"))]
    assert faces, "no face modules found"
    faces += [PKG / name for name in REGISTRIES]
    bad = [v for p in faces for v in face_violations(p)]
    assert bad == [], "\n".join(bad)


def test_the_check_catches_an_internal_import(tmp_path: Path) -> None:
    """The rule bites: a face importing an internal module or a private name."""
    face = PKG / "commands" / "_probe_layers.py"
    face.write_text(
        "from pupilshare.release.runner import release_agreement\n"
        "from pupilshare.governance import build_plan\n"
        "from pupilshare.governance import records\n"
        "def f():\n    import pupilshare.match.model\n"
    )
    try:
        bad = face_violations(face)
    finally:
        face.unlink()
    assert len(bad) == 3, bad
    assert "pupilshare.release.runner" in bad[0]
    assert "build_plan is not in its __all__" in bad[1]
    assert "pupilshare.match.model" in bad[2]


def _graph() -> dict[str, set[str]]:
    """Module -> modules it imports, at import time or inside its functions (a
    function-level import back up is a cycle too); a submodule named through its
    package (``from pupilshare.match import exact``) counts as the submodule."""
    graph: dict[str, set[str]] = {}
    for path in PKG.rglob("*.py"):
        edges = graph.setdefault(_module_name(path), set())
        for _, target, names in _imports(path, at_run_time=True):
            if not target.startswith("pupilshare"):
                continue
            subs = [f"{target}.{n}" for n in names if _is_module(f"{target}.{n}")]
            edges.update(subs or [target])
            if subs and len(subs) < len(names):
                edges.add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, " -> ".join(cycle or [])


@pytest.mark.parametrize("face", FACES)
def test_faces_are_imported_by_no_area(face: str) -> None:
    """Areas never reach up into a face (the CLI or the web service)."""
    bad = [
        f"{p.relative_to(SRC)}:{line}: {target}"
        for p in PKG.rglob("*.py")
        if _area_of(_module_name(p)) not in (f"pupilshare.{face}",)
        and p.name != "cli.py"
        for line, target, _ in _imports(p, at_run_time=False)
        if target.startswith(f"pupilshare.{face}")
    ]
    assert bad == [], "\n".join(bad)
