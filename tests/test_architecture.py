"""The layers of ``src/sentinel_db`` import only downwards, as ARCHITECTURE.md draws them.

Every ``import`` in the package is read with :mod:`ast`, including those inside functions (lazy
imports are still dependencies); imports under ``if TYPE_CHECKING:`` are left out, since they
never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "sentinel_db"

# Lowest first: a layer may import its own layer and any layer before it, never one after.
LAYERS: list[set[str]] = [
    {"config", "errors", "redact"},
    {"records"},
    {"schema"},
    {"runtime"},
    {"search"},
    {"repositories"},
    {"importers", "retrieval"},
    {"cli"},
]
RANK = {name: rank for rank, layer in enumerate(LAYERS) for name in layer}


def _unit(module: str) -> str | None:
    """The top-level unit (sub-package or module) of ``sentinel_db.x.y``, or None for the root."""
    parts = module.split(".")
    if parts[0] != "sentinel_db" or len(parts) < 2:
        return None
    return parts[1]


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every runtime import of ``sentinel_db`` in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if node.lineno in skip if hasattr(node, "lineno") else False:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "sentinel_db":
                found += [(node.lineno, f"sentinel_db.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, node.module))
    return [(line, m) for line, m in found if m.startswith("sentinel_db.")]


def _units() -> list[str]:
    return sorted(
        p.stem if p.is_file() else p.name
        for p in PACKAGE.iterdir()
        if not p.name.startswith(("_", "."))
        and (p.suffix == ".py" or (p / "__init__.py").is_file())
    )


def test_every_unit_of_the_package_has_a_layer() -> None:
    assert set(_units()) == set(RANK)


def upward_imports() -> list[str]:
    """Each import from a lower layer into a higher one, as ``file:line -> module``."""
    bad: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = _unit("sentinel_db." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
        if own is None or own not in RANK or path.name == "__main__.py":
            continue  # an entry point (python -m ...) is run, never imported
        for line, module in imports_of(path):
            target = _unit(module)
            if target is not None and target in RANK and RANK[target] > RANK[own]:
                bad.append(f"{path.relative_to(PACKAGE)}:{line} -> {module}")
    return bad


def test_no_layer_imports_a_layer_above_it() -> None:
    assert upward_imports() == []


@pytest.mark.parametrize("unit", sorted(RANK))
def test_nothing_but_the_cli_imports_typer_or_rich(unit: str) -> None:
    if unit == "cli":
        return
    base = PACKAGE / unit
    files = sorted(base.rglob("*.py")) if base.is_dir() else [base.with_suffix(".py")]
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {
            a.name.split(".")[0]
            for n in ast.walk(tree)
            if isinstance(n, ast.Import)
            for a in n.names
        } | {
            n.module.split(".")[0]
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module
        }
        assert not names & {"typer", "rich", "click"}, path


def test_every_library_logger_is_made_by_the_redacting_factory() -> None:
    """A logger made with plain ``logging.getLogger`` would pass secrets to its handlers."""
    plain = [
        f"{path.relative_to(PACKAGE)}:{node.lineno}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "redact.py" and "cli" not in path.relative_to(PACKAGE).parts
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and ast.unparse(node.func) == "logging.getLogger"
        and any("sentinel_db" in ast.unparse(arg) for arg in node.args)
    ]
    assert plain == []
