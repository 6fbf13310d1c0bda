"""Test groups that need something a fresh machine may lack, and what happens without it.

A group is recognised by a fixture its tests use (directly or through other fixtures), and its
tests carry the group's marker (``-m shared_data``, ``-m "not pooler"``). When what it needs is
missing, its tests are deselected and the run ends with one line per group naming it and saying
how to enable it. ``SENTINEL_TEST_REQUIRE_ALL=1`` (set by CI) keeps them instead, and their
fixtures fail with the same explanation: nothing is ever skipped silently.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.pooler import find_pgbouncer

SHARED_DATA_VARIABLE = "SENTINEL_TEST_SHARED_DATA"
REQUIRE_ALL_VARIABLE = "SENTINEL_TEST_REQUIRE_ALL"
SHARED_DATA_FILES = (
    "pci_dss_controls.csv",
    "aws_config_rules_guidance.csv",
    "pci_aws_config_rule_mapping.csv",
)


def require_all() -> bool:
    """True when a missing requirement must fail the run (CI)."""
    return os.environ.get(REQUIRE_ALL_VARIABLE, "").lower() in {"1", "true", "yes"}


def shared_data_problem() -> str | None:
    """Why the PCI DSS 3.2.1 data set cannot be used, or None when it can."""
    raw = os.environ.get(SHARED_DATA_VARIABLE, "")
    if not raw:
        return f"{SHARED_DATA_VARIABLE} is not set"
    folder = Path(raw)
    missing = [name for name in SHARED_DATA_FILES if not (folder / name).is_file()]
    if missing:
        return f"{SHARED_DATA_VARIABLE}={raw} lacks {', '.join(missing)}"
    return None


def pgvector_present_problem() -> str | None:
    """Why the tests' server cannot stand in for one without pgvector, or None when it can."""
    explicit = os.environ.get("SENTINEL_TEST_DATABASE_URL")
    if not explicit:
        # Docker's postgres:15 has no pgvector; the embedded fallback (tests/conftest.py) has.
        from tests.conftest import docker_available

        if docker_available():
            return None
        return "the tests' server is the embedded PostgreSQL, which has pgvector"
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(explicit).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'"
            ).fetchone()
    except psycopg.Error as exc:
        return f"cannot ask the tests' server about pgvector: {exc}"
    return "the tests' server has pgvector" if row and row[0] else None


ST_MODEL_VARIABLE = "SENTINEL_TEST_ST_MODEL"


def sentence_transformers_problem() -> str | None:
    """Why the sentence-transformers provider cannot be tested, or None when it can."""
    import importlib.util

    if importlib.util.find_spec("sentence_transformers") is None:
        return "the sentence-transformers package is not installed"
    if not os.environ.get(ST_MODEL_VARIABLE):
        return f"{ST_MODEL_VARIABLE} is not set"
    return None


def pgbouncer_problem() -> str | None:
    """Why pgbouncer cannot be started, or None when it can."""
    return None if find_pgbouncer() else "pgbouncer is not installed"


@dataclass(frozen=True)
class Group:
    """Tests that need one thing: which fixtures mark them, how to check, how to enable."""

    name: str
    marker: str
    fixtures: frozenset[str]
    problem: Callable[[], str | None]
    enable: str


GROUPS = (
    Group(
        name="shared-data",
        marker="shared_data",
        fixtures=frozenset({"shared_data"}),
        problem=shared_data_problem,
        enable=f"set {SHARED_DATA_VARIABLE} to the pci-dss-3.2.1 data folder",
    ),
    Group(
        name="without-pgvector",
        marker="without_pgvector",
        fixtures=frozenset({"no_pgvector"}),
        problem=pgvector_present_problem,
        enable=(
            "set SENTINEL_TEST_DATABASE_URL to a PostgreSQL without pgvector "
            "(Debian's postgresql-15, for one)"
        ),
    ),
    Group(
        name="pooler",
        marker="pooler",
        fixtures=frozenset({"pgbouncer"}),
        problem=pgbouncer_problem,
        enable="install pgbouncer (apt-get install -y pgbouncer)",
    ),
    Group(
        name="sentence-transformers",
        marker="sentence_transformers",
        fixtures=frozenset({"sentence_transformers_model"}),
        problem=sentence_transformers_problem,
        enable=(
            "pip install '.[sentence-transformers]' and set "
            f"{ST_MODEL_VARIABLE} to a model name or local folder"
        ),
    ),
)

_deselected: dict[str, tuple[int, str]] = {}


def unavailable(group: Group) -> str:
    """The failure message of a group whose requirement is missing."""
    return f"test group '{group.name}' cannot run: {group.problem()}; {group.enable}"


def group_named(name: str) -> Group:
    """The group called ``name``."""
    return next(group for group in GROUPS if group.name == name)


def pytest_configure(config: pytest.Config) -> None:
    """Register each group's marker."""
    for group in GROUPS:
        config.addinivalue_line("markers", f"{group.marker}: needs {group.name} ({group.enable})")


def pytest_itemcollected(item: pytest.Item) -> None:
    """Mark a test with the group of every fixture it needs."""
    for group in GROUPS:
        if group.fixtures & set(getattr(item, "fixturenames", ())):
            item.add_marker(group.marker)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the tests of every group whose requirement is missing (unless all are required)."""
    if require_all():
        return
    for group in GROUPS:
        out = [item for item in items if item.get_closest_marker(group.marker) is not None]
        if not out:
            continue  # asked only when a collected test needs it (it may connect)
        problem = group.problem()
        if problem is None:
            continue
        _deselected[group.name] = (len(out), f"{problem}; {group.enable}")
        gone = {id(item) for item in out}
        items[:] = [item for item in items if id(item) not in gone]
        config.hook.pytest_deselected(items=out)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per deselected group: its name, why, and how to enable it."""
    for name, (count, reason) in _deselected.items():
        terminalreporter.write_line(
            f"deselected group '{name}' ({count} tests): {reason}", yellow=True
        )
