"""Rolling the vectors history back on its own: to the revision it is at, to a name that is not
one of its revisions, and counting the rows at stake when a table of it has gone."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from sentinel_db.config import load_settings
from sentinel_db.errors import UsageError
from sentinel_db.runtime.db import Database
from sentinel_db.schema import migrations, rollback
from tests.vectors.conftest import create_database
from tests.vectors.helpers import store_raw_vector


@pytest.fixture
def engine(vector_server: URL) -> Engine:
    """A new database migrated with the vectors history, one vector stored."""
    engine = Database.from_url(create_database(vector_server), load_settings(None)).engine
    migrations.upgrade(engine, with_vectors=True)
    with engine.begin() as conn:
        store_raw_vector(conn)
    return engine


def _tables(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(
            str(t)
            for t in conn.execute(
                text("SELECT tablename FROM pg_tables WHERE tablename LIKE '%_embeddings'")
            ).scalars()
        )


def test_rolling_vectors_back_to_the_revision_it_is_at_undoes_nothing(engine: Engine) -> None:
    before = _tables(engine)
    plan = rollback.plan_rollback(engine, to="vectors@v0001")
    assert (plan.target, plan.revisions, plan.rows_lost, plan.by_table) == (
        "vectors@v0001",
        [],
        {},
        False,
    )
    assert rollback.run_rollback(engine, plan).vectors == "v0001"
    both = ["aws_config_rules_guidance_embeddings", "pci_dss_controls_embeddings"]
    assert before == both and _tables(engine) == both


@pytest.mark.parametrize(
    ("target", "named"),
    [
        ("vectors@0007", "0007"),  # a core revision
        ("vectors@nope", "nope"),
        ("vectors@base@v0001", "base@v0001"),  # only the first @ separates the history
    ],
)
def test_a_vectors_target_that_is_not_one_of_its_revisions_is_refused(
    engine: Engine, target: str, named: str
) -> None:
    with pytest.raises(UsageError) as caught:
        rollback.plan_rollback(engine, to=target)
    assert str(caught.value) == f"{named} is not a revision of the vectors history"
    assert migrations.status(engine).vectors == "v0001"


def test_the_rows_at_stake_count_the_vectors_tables_that_are_still_there(engine: Engine) -> None:
    plan = rollback.plan_rollback(engine, to="vectors@base")
    assert [r.revision for r in plan.revisions] == ["v0001"]
    assert plan.rows_lost == {
        "aws_config_rules_guidance_embeddings": 0,
        "pci_dss_controls_embeddings": 1,
    }
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE aws_config_rules_guidance_embeddings"))
    # A table dropped by hand is not counted (and does not stop the plan).
    after = rollback.plan_rollback(engine, to="vectors@base")
    assert after.rows_lost == {"pci_dss_controls_embeddings": 1}
