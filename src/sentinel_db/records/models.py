"""ORM models of sentinel-db's tables (the Alembic revisions create exactly this schema)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Computed,
    DateTime,
    Float,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sentinel_db.records.tables import BOOKKEEPING_SCHEMA

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Each field gets its own weight label (ranking maps labels to field weights); "/" and "_"
# split words, so "passwords/passphrases" and "IDS/IPS" index both halves.
CONTROL_SEARCH_EXPRESSION = (
    "setweight(to_tsvector('english', control_id), 'A')"
    " || setweight(to_tsvector('english', regexp_replace(chunk, '[/_]+', ' ', 'g')), 'B')"
    " || setweight(to_tsvector('english',"
    " regexp_replace(coalesce(requirement, ''), '[/_]+', ' ', 'g')), 'C')"
    " || setweight(to_tsvector('english',"
    " regexp_replace(coalesce(metadata ->> 'control_category', ''), '[-/_]+', ' ', 'g')), 'D')"
)
RULE_SEARCH_EXPRESSION = (
    "setweight(to_tsvector('english', regexp_replace(config_rule, '[-_]+', ' ', 'g')), 'A')"
    " || setweight(to_tsvector('english', regexp_replace(chunk, '[/_]+', ' ', 'g')), 'B')"
    " || setweight(to_tsvector('english', regexp_replace(regexp_replace("
    "coalesce(metadata ->> 'resource_types', ''), '([a-z])([A-Z])', '\\1 \\2', 'g'),"
    " '[^a-zA-Z0-9]+', ' ', 'g')), 'C')"
    " || setweight(to_tsvector('english', translate(coalesce(metadata ->> 'control_ids', ''),"
    " '[]\",', '    ')), 'D')"
)


# The JSONB GIN indexes use jsonb_path_ops: every query on them is containment (@>), which that
# operator class serves from a smaller index with far fewer posting lists to intersect.


class Base(DeclarativeBase):
    """Declarative base with the constraint naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )


class PciControl(Base):
    """A PCI DSS control: its id, top-level requirement title, text chunk and metadata."""

    __tablename__ = "pci_dss_controls"

    id: Mapped[uuid.UUID] = _uuid_pk()
    control_id: Mapped[str] = mapped_column(String(20), unique=True)
    requirement: Mapped[str | None] = mapped_column(Text)
    chunk: Mapped[str] = mapped_column(Text)
    # "metadata" is reserved on declarative classes, so the attribute has another name.
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB)
    search_vector: Mapped[str | None] = mapped_column(
        TSVECTOR, Computed(CONTROL_SEARCH_EXPRESSION, persisted=True), deferred=True
    )

    __table_args__ = (
        Index(
            "ix_pci_dss_controls_metadata",
            "metadata",
            postgresql_using="gin",
            postgresql_ops={"metadata": "jsonb_path_ops"},
        ),
        Index(
            "ix_pci_dss_controls_control_category",
            text("(metadata ->> 'control_category')"),
        ),
        Index(
            "ix_pci_dss_controls_requirements_id",
            text("(metadata ->> 'requirements_id')"),
        ),
        Index("ix_pci_dss_controls_search_vector", "search_vector", postgresql_using="gin"),
    )


class AwsConfigRule(Base):
    """Guidance for one AWS Config managed rule."""

    __tablename__ = "aws_config_rules_guidance"

    id: Mapped[uuid.UUID] = _uuid_pk()
    config_rule: Mapped[str] = mapped_column(String(100), unique=True)
    chunk: Mapped[str] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB)
    search_vector: Mapped[str | None] = mapped_column(
        TSVECTOR, Computed(RULE_SEARCH_EXPRESSION, persisted=True), deferred=True
    )

    __table_args__ = (
        Index(
            "ix_aws_config_rules_guidance_metadata",
            "metadata",
            postgresql_using="gin",
            postgresql_ops={"metadata": "jsonb_path_ops"},
        ),
        Index(
            "ix_aws_config_rules_guidance_search_vector", "search_vector", postgresql_using="gin"
        ),
    )


class PciAwsConfigMapping(Base):
    """Which AWS Config rules evidence one PCI DSS control."""

    __tablename__ = "pci_aws_config_rule_mappings"

    id: Mapped[uuid.UUID] = _uuid_pk()
    control_id: Mapped[str] = mapped_column(String(20), unique=True)
    config_rules: Mapped[list[Any]] = mapped_column(JSONB)

    __table_args__ = (
        Index(
            "ix_pci_aws_config_rule_mappings_config_rules",
            "config_rules",
            postgresql_using="gin",
            postgresql_ops={"config_rules": "jsonb_path_ops"},
        ),
    )


class ImportRun(Base):
    """One file of one import run: what was loaded, from where, and how it ended."""

    __tablename__ = "import_runs"

    id: Mapped[uuid.UUID] = _uuid_pk()
    run_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    table_name: Mapped[str] = mapped_column(String(63))
    source_path: Mapped[str] = mapped_column(Text)
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rows_read: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    inserted: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    updated: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    unchanged: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    rejected: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    warnings: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    error: Mapped[str | None] = mapped_column(Text)
    sentinel_version: Mapped[str] = mapped_column(String(32))
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    rows_per_second: Mapped[float | None] = mapped_column(Float)
    peak_memory_bytes: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_import_runs_table_name_started_at", "table_name", "started_at"),
        {"schema": BOOKKEEPING_SCHEMA},
    )


def _search_statistics(table: str) -> tuple[Table, Table]:
    """The term-statistics tables that triggers keep for ``table``'s search column."""
    terms = Table(
        f"{table}_search_terms",
        Base.metadata,
        Column("id", BigInteger, Identity(always=True), primary_key=True),
        Column("term", Text, nullable=False),
        Column("df", Integer, nullable=False),
        Index(f"ix_{table}_search_terms_term", "term"),
        schema=BOOKKEEPING_SCHEMA,
    )
    totals = Table(
        f"{table}_search_totals",
        Base.metadata,
        Column("id", BigInteger, Identity(always=True), primary_key=True),
        Column("docs", BigInteger, nullable=False),
        Column("lexemes", BigInteger, nullable=False),
        schema=BOOKKEEPING_SCHEMA,
    )
    return terms, totals


SEARCH_STATISTICS: dict[str, tuple[Table, Table]] = {
    t: _search_statistics(t) for t in ("pci_dss_controls", "aws_config_rules_guidance")
}


REFERENCE_TABLES: tuple[str, ...] = (
    PciControl.__tablename__,
    AwsConfigRule.__tablename__,
    PciAwsConfigMapping.__tablename__,
)
ALL_TABLES: tuple[str, ...] = (*REFERENCE_TABLES, ImportRun.__tablename__)
MODEL_BY_TABLE: dict[str, type[Base]] = {
    m.__tablename__: m for m in (PciControl, AwsConfigRule, PciAwsConfigMapping, ImportRun)
}
SCHEMA_BY_TABLE: dict[str, str | None] = {
    name: model.__table__.schema for name, model in MODEL_BY_TABLE.items()
}
