"""Start-up stays quick: `--help` loads no database stack, and the modules import in one direction.

Timings live in bench/cli_startup.py; these tests check what makes start-up quick (nothing heavy
imported for help) and what keeps it that way (no import cycles to force eager loading).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import sentinel_db

# (pydantic is absent: Typer itself loads it to read the options of a command.)
HEAVY = ("sqlalchemy", "psycopg", "alembic", "pydantic_settings", "sentinel_db.config")
PACKAGE = Path(sentinel_db.__file__).parent


def _loaded_after(code: str) -> set[str]:
    probe = (
        f"import sys\n{code}\nprint('loaded:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    last = result.stdout.strip().splitlines()[-1]
    return {m for m in last.removeprefix("loaded:").split(",") if m}


@pytest.mark.parametrize("args", [["--help"], ["import", "--help"], ["data", "list", "--help"]])
def test_help_loads_no_database_stack(args: list[str]) -> None:
    code = (
        "import contextlib, io\n"
        "from sentinel_db.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        f"    main({args!r})"
    )
    assert _loaded_after(code) == set()


def test_importing_the_package_loads_nothing_until_a_name_is_used() -> None:
    assert _loaded_after("import sentinel_db") == set()
    assert "sqlalchemy" in _loaded_after("from sentinel_db import Database")


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["stats"], ("stats", None)),
        (["--database-url", "data", "data", "search", "-sms mfa"], ("data", "search")),
        (["data", "--help"], ("data", None)),
        (["-v", "import-data", "history", "--table", "controls"], ("import-data", "history")),
        (["nosuch", "data"], (None, None)),
    ],
)
def test_the_command_line_names_its_command(
    argv: list[str], named: tuple[str | None, str | None]
) -> None:
    from sentinel_db.cli.main import command_named

    assert command_named(argv) == named


def test_a_group_is_built_with_only_the_command_asked_for() -> None:
    from typer.main import get_command

    from sentinel_db.cli.main import build_app

    def commands(app: object) -> set[str]:
        group = get_command(app).commands["data"]  # type: ignore[arg-type, attr-defined]
        return set(group.commands)

    every = commands(build_app("data"))
    assert {"search", "list", "show", "stats"} <= every
    assert commands(build_app("data", "search")) == {"search"}
    # A word that is no command of the group: the whole group, whose help lists them all.
    assert commands(build_app("data", "nosuch")) == every
    # The group itself is left whole for the next command line built in this process.
    assert commands(build_app("data")) == every


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Every sentinel_db module and the sentinel_db modules it imports (anywhere in its body)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sentinel_db"):
                base = str(node.module)
                found |= {
                    f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                    for a in node.names
                }
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("sentinel_db")}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def test_no_import_cycles_between_modules() -> None:
    graph = _import_graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert cycles == []
    assert {"sentinel_db.config", "sentinel_db.errors", "sentinel_db.redact"} >= graph[
        "sentinel_db.runtime.embedded"
    ]
    assert "sentinel_db.runtime.db" not in graph["sentinel_db.schema.migrations"]


def test_run_as_the_program_the_collector_works_less() -> None:
    probe = (
        "import contextlib, gc, io, sys\n"
        "from sentinel_db.cli import main\n"
        "sys.argv = ['sentinel-db', '--help']\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main()\n"
        "print(gc.get_threshold()[0], gc.get_freeze_count())"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    threshold, frozen = map(int, result.stdout.split())
    assert threshold >= 10_000 and frozen > 0


def test_called_from_a_process_that_goes_on_the_collector_is_untouched() -> None:
    import contextlib
    import gc
    import io

    from sentinel_db.cli import main

    before = gc.get_threshold()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        main(["--help"])
    assert gc.get_threshold() == before
