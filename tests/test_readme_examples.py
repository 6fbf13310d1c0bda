"""Every Python and shell example in README.md and in docs/ runs as written, on either data set.

Fenced blocks marked ``python``, ``bash``, ``sh`` or ``shell`` in README.md and in every
``docs/**/*.md`` page are found by themselves, so an example added later, or a new page, is tested
too; a test id names the page and line (``docs/cli.md:42-shell``). Each runs in a fresh process
against the test database (the URL in ``DATABASE_URL``), from an empty folder holding only
``examples/``, once with the bundled sample loaded and once with the PCI DSS 3.2.1 set. An example must leave the data exactly as it
found it unless one of its comments says it writes (a ``#`` comment with the word "writes").
A block preceded by the line ``<!-- not-run -->`` is not run; keep those rare (installing,
running the test suite itself).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from sentinel_db.importers import import_directory
from sentinel_db.records.models import ALL_TABLES
from sentinel_db.records.tables import sql_name
from sentinel_db.runtime.db import Database
from tests.conftest import EXAMPLES, REPO_ROOT

README = REPO_ROOT / "README.md"
DOCS = REPO_ROOT / "docs"
RUNNABLE = {"python": "python", "bash": "shell", "sh": "shell", "shell": "shell"}
NOT_RUN = "<!-- not-run -->"
WRITES = re.compile(r"#.*\bwrites\b", re.IGNORECASE)


@dataclass(frozen=True)
class Example:
    """One fenced code block of a Markdown page."""

    page: str
    line: int
    kind: str
    code: str

    @property
    def where(self) -> str:
        """``page:line``, the page relative to the repository root."""
        return f"{self.page}:{self.line}"

    @property
    def writes(self) -> bool:
        """True when a comment in the example says it writes."""
        return bool(WRITES.search(self.code))


def _page_name(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix() if path.is_relative_to(REPO_ROOT) else path.name


def examples_in(path: Path = README) -> list[Example]:
    """The runnable fenced blocks of ``path``, in order."""
    page = _page_name(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Example] = []
    i = 0
    while i < len(lines):
        opening = re.match(r"^```\s*([\w+-]*)", lines[i])
        if opening is None:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        previous = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        kind = RUNNABLE.get(opening.group(1).lower())
        if kind is not None and previous.strip() != NOT_RUN:
            code = "\n".join(lines[i + 1 : end])
            found.append(Example(page=page, line=i + 1, kind=kind, code=code))
        i = end + 1
    return found


def documentation_pages() -> list[Path]:
    """README.md, then every Markdown page under docs/ in path order."""
    return [README, *sorted(DOCS.rglob("*.md"))]


DOCUMENTED_EXAMPLES = [e for page in documentation_pages() for e in examples_in(page)]


def _fingerprint(db: Database) -> dict[str, tuple[int, int]]:
    """Row count and an order-independent hash of every row, per table."""
    with db.engine.connect() as conn:
        return {
            table: tuple(
                conn.execute(
                    text(
                        f"SELECT count(*), coalesce(sum(hashtext(t::text)), 0) FROM {sql_name(table)} t"
                    )
                ).one()
            )
            for table in ALL_TABLES
        }


def _run(example: Example, env: dict[str, str], folder: Path) -> subprocess.CompletedProcess[str]:
    (folder / "examples").symlink_to(REPO_ROOT / "examples", target_is_directory=True)
    env = dict(env)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    command = (
        [sys.executable, "-c", example.code]
        if example.kind == "python"
        else ["bash", "-euo", "pipefail", "-c", example.code]
    )
    return subprocess.run(
        command,
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def _check(example: Example, db: Database, env: dict[str, str], folder: Path) -> None:
    before = _fingerprint(db)
    result = _run(example, env, folder)
    where = example.where
    assert result.returncode == 0, f"{where} failed:\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, f"{where}:\n{result.stderr}"
    if not example.writes:
        assert _fingerprint(db) == before, f"{where} wrote to the database without saying so"


def test_there_are_runnable_examples_of_both_kinds() -> None:
    assert {e.kind for e in DOCUMENTED_EXAMPLES} == {"python", "shell"}
    assert any(e.writes for e in DOCUMENTED_EXAMPLES)
    readme = [e for e in DOCUMENTED_EXAMPLES if e.page == "README.md"]
    assert {e.kind for e in readme} == {"python", "shell"}, "README.md keeps everyday examples"
    assert any(e.page.startswith("docs/") for e in DOCUMENTED_EXAMPLES)


def test_examples_are_collected_from_readme_and_every_docs_page() -> None:
    pages = [_page_name(p) for p in documentation_pages()]
    assert pages[0] == "README.md"
    assert "docs/index.md" in pages and "docs/cli.md" in pages
    assert all(p.startswith("docs/") and p.endswith(".md") for p in pages[1:])


def test_readme_links_into_docs_resolve() -> None:
    """README.md is not part of the mkdocs site, so mkdocs does not check its links: this does."""
    targets = re.findall(r"\]\((docs/[^)#\s]+)(?:#[^)\s]*)?\)", README.read_text(encoding="utf-8"))
    assert targets, "README.md links into docs/"
    assert [t for t in targets if not (REPO_ROOT / t).is_file()] == []


def test_examples_marked_not_run_are_left_out(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```bash\necho a\n```\n\n<!-- not-run -->\n```bash\necho b\n```\n```\nplain\n```\n"
    )
    found = examples_in(page)
    assert [e.code for e in found] == ["echo a"]
    assert [e.where for e in found] == ["page.md:1"]


_IDS = [f"{e.where}-{e.kind}" for e in DOCUMENTED_EXAMPLES]


@pytest.mark.parametrize("example", DOCUMENTED_EXAMPLES, ids=_IDS)
def test_example_runs_on_the_bundled_sample(
    example: Example, clean_db: Database, cli_env: dict[str, Any], tmp_path: Path
) -> None:
    assert import_directory(clean_db, EXAMPLES).exit_code == 0
    _check(example, clean_db, cli_env, tmp_path)


@pytest.mark.parametrize("example", DOCUMENTED_EXAMPLES, ids=_IDS)
def test_example_runs_on_the_3_2_1_set(
    example: Example,
    clean_db: Database,
    cli_env: dict[str, Any],
    tmp_path: Path,
    shared_data: Path,
) -> None:
    assert import_directory(clean_db, shared_data).exit_code == 0
    _check(example, clean_db, cli_env, tmp_path)
