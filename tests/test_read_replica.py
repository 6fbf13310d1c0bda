"""Read-only work goes to DATABASE_READ_URL when it is set; writes stay on DATABASE_URL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from sentinel_db.config import load_settings
from sentinel_db.runtime.db import Database
from sentinel_db.schema import migrations
from tests.cli_helpers import run_cli


def _libpq(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def test_reads_use_the_replica_and_writes_the_primary(
    clean_db: Database,
    database_url_str: str,
    fresh_database: URL,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    replica = Database.from_url(fresh_database, load_settings(None))
    migrations.upgrade(replica.engine)
    with replica.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO pci_dss_controls (control_id, chunk, metadata)"
                " VALUES ('9.9.9', 'only on the replica', '{}')"
            )
        )
    monkeypatch.setenv("DATABASE_URL", database_url_str)
    monkeypatch.setenv("DATABASE_READ_URL", _libpq(fresh_database))

    listed = run_cli(capsys, "data", "list", "pci_dss_controls", "--format", "json")
    assert listed.exit_code == 0, listed.output
    assert [row["control_id"] for row in json.loads(listed.stdout)] == ["9.9.9"]

    db = Database.from_settings(load_settings(None))
    with db.unit_of_work() as session:
        session.execute(
            text(
                "INSERT INTO pci_dss_controls (control_id, chunk, metadata)"
                " VALUES ('1.1', 'on the primary', '{}')"
            )
        )
    with clean_db.engine.connect() as conn:
        assert conn.execute(text("SELECT control_id FROM pci_dss_controls")).scalars().all() == [
            "1.1"
        ]
