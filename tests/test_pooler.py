"""Through a real transaction pooler (pgbouncer, transaction mode), prepared statements must be off.

The pinned alias routes every client through one server connection, so what a transaction
pooler does to psycopg's prepared statements happens on every run, not by chance.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from sentinel_db.config import load_settings
from sentinel_db.runtime.db import Database
from tests.cli_helpers import run_cli
from tests.pooler import PINNED_ALIAS, Pooler

_QUERY = "SELECT count(*) FROM pci_dss_controls WHERE control_id <> %s"
# psycopg prepares a statement once it has run this many times on one connection (its default).
_PSYCOPG_PREPARE_THRESHOLD = 5
_ROUNDS = _PSYCOPG_PREPARE_THRESHOLD + 3


@pytest.fixture
def pinned(pgbouncer: Pooler) -> Iterator[str]:
    """The pinned alias's conninfo, its one server connection cleared of prepared statements."""
    conninfo = pgbouncer.conninfo(PINNED_ALIAS)

    def deallocate() -> None:
        with psycopg.connect(conninfo, autocommit=True, prepare_threshold=None) as conn:
            conn.execute("DEALLOCATE ALL")

    deallocate()
    yield conninfo
    deallocate()


def test_pooler_url_turns_prepared_statements_off_and_repeated_queries_pass(
    pgbouncer: Pooler, pinned: str
) -> None:
    db = Database.from_url(pgbouncer.url(PINNED_ALIAS), load_settings(None))
    assert db.is_pooler
    with db.engine.connect() as first, db.engine.connect() as second:
        assert first.connection.dbapi_connection.prepare_threshold is None  # type: ignore[union-attr]
        with first.begin():
            total = first.execute(text("SELECT count(*) FROM pci_dss_controls")).scalar_one()
        for round_ in range(_ROUNDS):
            # Interleaved transactions on two clients, all served by one server connection:
            # each statement gets its own parameters back, never another client's.
            for n, conn in enumerate((first, second)):
                with conn.begin():
                    value, echoed = conn.execute(
                        text(
                            "SELECT count(*), CAST(:n AS integer) FROM pci_dss_controls"
                            " WHERE control_id <> :c"
                        ),
                        {"c": f"x{round_}", "n": round_ * 2 + n},
                    ).one()
                assert (value, echoed) == (total, round_ * 2 + n)


def test_port_6543_alone_marks_a_pooler_url(pgbouncer: Pooler, pinned: str) -> None:
    db = Database.from_url(pgbouncer.url(PINNED_ALIAS, marked=False), load_settings(None))
    assert db.is_pooler
    for round_ in range(_ROUNDS):
        with db.engine.begin() as conn:
            conn.execute(text("SELECT CAST(:n AS integer)"), {"n": round_})


def test_same_pooler_without_the_marker_fails_like_supabase(pinned: str) -> None:
    """psycopg's default (prepare after 5 runs) breaks behind a transaction pooler: what the
    library's automatic choice (prepared statements off) prevents."""
    with (
        psycopg.connect(pinned, autocommit=True) as first,
        psycopg.connect(pinned, autocommit=True) as second,
    ):
        assert first.prepare_threshold == _PSYCOPG_PREPARE_THRESHOLD
        with pytest.raises(psycopg.errors.DuplicatePreparedStatement) as failure:
            for round_ in range(_ROUNDS):
                for conn in (first, second):
                    conn.execute(_QUERY, (f"x{round_}",))
    # The first client prepared "_pg3_0" on the shared server connection; the second one,
    # handed the same server connection, tries to prepare its own "_pg3_0".
    assert 'prepared statement "_pg3_0" already exists' in str(failure.value)


def test_prepared_statement_is_missing_after_the_pooler_changes_server_connection(
    pgbouncer: Pooler, pinned: str
) -> None:
    """The other face of it: the next server connection never saw the client's statement."""
    with psycopg.connect(pinned, autocommit=True, prepare_threshold=0) as client:
        client.execute(_QUERY, ("a",))  # prepared as _pg3_0 on the pinned server connection
        pgbouncer.admin(f"RECONNECT {PINNED_ALIAS}")  # pgbouncer replaces that connection
        with pytest.raises(psycopg.errors.InvalidSqlStatementName) as failure:
            client.execute(_QUERY, ("b",))
    assert 'prepared statement "_pg3_0" does not exist' in str(failure.value)


def test_migrate_through_the_transaction_pooler_warns(
    capsys: pytest.CaptureFixture[str], pooler_url: URL, cli_env: dict[str, str]
) -> None:
    url = pooler_url.set(drivername="postgresql").render_as_string(hide_password=False)
    result = run_cli(capsys, "--database-url", url, "migrate")
    assert result.exit_code == 0, result.output
    assert "transaction pooler" in result.stderr
    assert "direct connection or the session pooler" in result.stderr


def test_auth_check_reports_pooler_mode(
    capsys: pytest.CaptureFixture[str], pooler_url: URL, cli_env: dict[str, str]
) -> None:
    url = pooler_url.set(drivername="postgresql").render_as_string(hide_password=False)
    result = run_cli(capsys, "--database-url", url, "auth", "check", "--format", "json")
    assert '"pooler": true' in result.stdout
