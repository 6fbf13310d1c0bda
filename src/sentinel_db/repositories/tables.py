"""Table names accepted on the command line, and work that spans tables (counts, clear)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from sentinel_db.errors import translate
from sentinel_db.records.tables import sql_name
from sentinel_db.repositories.base import Repository
from sentinel_db.repositories.controls import PciControlRepository
from sentinel_db.repositories.mappings import PciAwsConfigMappingRepository
from sentinel_db.repositories.rules import AwsConfigRuleRepository

_REPOSITORIES: dict[str, type[Repository[Any]]] = {
    "pci_dss_controls": PciControlRepository,
    "aws_config_rules_guidance": AwsConfigRuleRepository,
    "pci_aws_config_rule_mappings": PciAwsConfigMappingRepository,
}


def clear_tables(session: Session, tables: tuple[str, ...]) -> dict[str, int]:
    """Remove every row of ``tables`` in the caller's transaction; returns rows removed per table.

    TRUNCATE rather than DELETE: it frees the tables' and indexes' space at once (a DELETE
    leaves both at their old size until a VACUUM FULL), and the data-version and search-statistics
    triggers handle it like a DELETE of every row.
    """
    deleted: dict[str, int] = {}
    if not tables:
        return deleted
    names = ", ".join(sql_name(table) for table in tables)
    try:
        session.flush()
        session.execute(text(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE"))
        for table in tables:
            count = session.execute(text(f"SELECT count(*) FROM {sql_name(table)}")).scalar_one()
            deleted[table] = int(count)
        session.execute(text(f"TRUNCATE {names}"))
    except SQLAlchemyError as exc:
        raise translate(exc, action="clear tables") from exc
    return deleted


def repository_for(session: Session, table: str) -> Repository[Any]:
    """The repository of reference table ``table`` (a name from :func:`resolve_tables`)."""
    return _REPOSITORIES[table](session)
