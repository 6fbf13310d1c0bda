"""``embed_missing``: vectors for the rows that lack one for a model, or whose text changed since.

A row needs a vector when none of the model is stored, or when the SHA-256 kept beside it no
longer matches the row's text (stale). Rows are embedded in batches, keys in order; each batch's
vectors are stored and committed before the next is asked for, so a killed or failed run loses at
most the batch in flight and the next run starts where it stopped. A run with nothing to do asks
the provider nothing.

Each run is recorded in ``import_runs`` (no schema of its own): ``table_name`` is the vectors
table, ``source_path`` says ``embed <model> via <provider>``, ``inserted`` / ``updated`` count
new and refreshed vectors, ``unchanged`` the rows already current and ``rejected`` those that
failed. While a run lives it holds the run's advisory lock, so a killed run is later marked
``failed`` by the same reaper as a killed import.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from sentinel_db import __version__
from sentinel_db.errors import SentinelDBError, UsageError, translate
from sentinel_db.importers.reaper import RUN_LOCK_CLASS
from sentinel_db.records.embeddings import (
    TARGETS,
    EmbeddingTarget,
    embed_all,
    embedding_text,
    vectors_installed,
)
from sentinel_db.records.models import ImportRun
from sentinel_db.redact import library_logger
from sentinel_db.repositories.vectors import VectorStore

log = library_logger("sentinel_db.embeddings")

DEFAULT_BATCH = 64
Progress = Callable[[str, int, int], None]  # table, rows done, rows to do
_LOCK = text(
    f"SELECT pg_advisory_xact_lock({RUN_LOCK_CLASS},"
    " ('x' || left(replace(CAST(:id AS text), '-', ''), 8))::bit(32)::int4)"
)


@dataclass
class EmbedReport:
    """What one table's embedding run did (or, on a dry run, would do)."""

    table: str
    model: str
    rows: int = 0
    embedded: int = 0
    refreshed: int = 0
    current: int = 0
    to_embed: int = 0
    failed: int = 0
    reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0
    dry_run: bool = False

    @property
    def status(self) -> str:
        """``succeeded``, ``failed`` (some rows have no current vector) or ``dry-run``."""
        if self.dry_run:
            return "dry-run"
        return "failed" if self.failed else "succeeded"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {**asdict(self), "status": self.status}


def resolve_table(name: str) -> EmbeddingTarget:
    """The vectors of ``name``: a reference table, its vectors table, or ``controls`` / ``rules``.

    Raises:
        UsageError: no table of that name has vectors.
    """
    aliases = {"controls": "pci_dss_controls", "rules": "aws_config_rules_guidance"}
    wanted = aliases.get(name, name)
    for target in TARGETS.values():
        if wanted in (target.parent, target.table):
            return target
    known = ", ".join(sorted({*aliases, *TARGETS}))
    raise UsageError(f"no vectors are kept for {name!r}; choose from {known}")


def _pending(
    session: Session, target: EmbeddingTarget, model: str, everything: bool
) -> tuple[int, list[dict[str, Any]]]:
    """How many rows the table has, and the rows to embed (key order)."""
    heading = "p.requirement" if target.parent == "pci_dss_controls" else "NULL"
    stale = "TRUE" if everything else f"e.{target.key} IS NULL OR e.content_sha256 <> {{hash}}"
    store = VectorStore(session, target.parent)
    rows = session.execute(
        store._sql(
            f"SELECT p.{{key}} AS key, p.chunk, {heading} AS requirement, e.{{key}} IS NOT NULL"
            " AS stored FROM {parent} p LEFT JOIN {table} e ON e.{key} = p.{key}"
            f" AND e.model = :m WHERE {stale} ORDER BY p.{{key}}"
        ),
        {"m": model},
    ).mappings()
    pending = [dict(r) for r in rows]
    total = session.execute(text(f"SELECT count(*) FROM {target.parent}")).scalar_one()
    return int(total), pending


def embed_missing(
    session: Session,
    embedder: Any,
    table: str,
    *,
    model: str | None = None,
    batch_size: int | None = None,
    everything: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
    source: str | None = None,
) -> EmbedReport:
    """Embed ``table``'s rows whose vector of ``model`` is missing or stale; commit each batch.

    ``embedder`` is an :class:`~sentinel_db.records.embeddings.Embedder`; ``model`` (default:
    its own) is the name stored with the vectors. ``everything`` embeds current rows again too
    (after a change of model version or of what is embedded). ``source`` describes the provider
    in the run's record. The session is committed after every batch: pass one that no other
    work shares.

    Raises:
        UsageError: ``table`` keeps no vectors.
        MigrationError: the vectors schema is not installed.
    """
    target = resolve_table(table)
    model = model or str(embedder.model)
    size = batch_size or int(getattr(embedder, "batch_size", DEFAULT_BATCH))
    report = EmbedReport(table=target.parent, model=model, dry_run=dry_run)
    started = time.perf_counter()
    try:
        if not vectors_installed(session.connection()):
            VectorStore(session, target.parent).model_for(1, model)  # raises the clear error
        total, pending = _pending(session, target, model, everything)
    except SQLAlchemyError as exc:
        raise translate(exc, action="find rows to embed") from exc
    report.rows, report.to_embed = total, len(pending)
    report.current = total - len(pending)
    if dry_run or not pending:
        session.rollback()
        report.seconds = time.perf_counter() - started
        return report
    with _RunRecord(session, target, model, source or model) as record:
        store = VectorStore(session, target.parent)
        for start in range(0, len(pending), size):
            batch = pending[start : start + size]
            if not _embed_batch(session, store, embedder, batch, model, report):
                report.failed += len(pending) - start - len(batch)
                break
            record.update(report)
            if progress is not None:
                progress(target.parent, min(start + size, len(pending)), len(pending))
        report.seconds = time.perf_counter() - started
        record.finish(report)
    return report


def _embed_batch(
    session: Session,
    store: VectorStore,
    embedder: Any,
    batch: Sequence[dict[str, Any]],
    model: str,
    report: EmbedReport,
) -> bool:
    """Embed and store one batch and commit it; False (reason noted) when it failed."""
    texts = [embedding_text(store.target.parent, row) for row in batch]
    try:
        vectors = embed_all(embedder, texts)
        counts = store.upsert(
            [(str(row["key"]), v) for row, v in zip(batch, vectors, strict=True)], model=model
        )
        session.commit()
    except (SentinelDBError, SQLAlchemyError, ValueError) as exc:
        session.rollback()
        reason = exc.message if isinstance(exc, SentinelDBError) else type(exc).__name__
        first, last = batch[0]["key"], batch[-1]["key"]
        report.failed += len(batch)
        report.reasons.append(f"{first}..{last}: {reason}")
        log.warning("embedding %s %s..%s failed: %s", store.target.parent, first, last, reason)
        return False
    report.embedded += counts.inserted
    report.refreshed += counts.updated
    report.current += counts.unchanged
    return True


class _RunRecord:
    """The run's ``import_runs`` row, kept up to date, and the lock that says the run lives."""

    def __init__(self, session: Session, target: EmbeddingTarget, model: str, source: str) -> None:
        self.session = session
        self.row_id = uuid.uuid4()
        self.target, self.model, self.source = target, model, source
        self._lock_conn: Any = None

    def __enter__(self) -> _RunRecord:
        bind = self.session.get_bind()
        engine: Any = getattr(bind, "engine", bind)
        self._lock_conn = engine.connect()
        self._lock_conn.execute(_LOCK, {"id": str(self.row_id)})
        self.session.add(
            ImportRun(
                id=self.row_id,
                run_id=self.row_id,
                table_name=self.target.table,
                source_path=f"embed {self.model} via {self.source}",
                status="running",
                sentinel_version=__version__[:32],
            )
        )
        self.session.commit()
        return self

    def update(self, report: EmbedReport, **extra: Any) -> None:
        self.session.execute(
            update(ImportRun)
            .where(ImportRun.id == self.row_id)
            .values(
                rows_read=report.rows,
                inserted=report.embedded,
                updated=report.refreshed,
                unchanged=report.current,
                rejected=report.failed,
                **extra,
            )
        )
        self.session.commit()

    def finish(self, report: EmbedReport) -> None:
        self.update(
            report,
            status=report.status,
            error="; ".join(report.reasons)[:2000] or None,
            duration_seconds=report.seconds,
            finished_at=text("clock_timestamp()"),
        )

    def __exit__(self, *exc: object) -> None:
        if self._lock_conn is not None:
            self._lock_conn.rollback()
            self._lock_conn.close()


def check_provider(db: Any, settings: Any) -> dict[str, Any] | None:
    """The configured provider: reachable, its model and dimension, whether stored vectors match.

    None when no provider is configured. Never raises for the provider's failure: the report
    says ``reachable: false`` and why.
    """
    from sentinel_db.runtime.embedders import embedder_from_settings
    from sentinel_db.runtime.query_vectors import QueryEmbedder

    query = QueryEmbedder.from_settings(settings)
    if query is None:
        return None
    found: dict[str, Any] = {
        "provider": settings.embedding_provider,
        "url": settings.masked_embedding_url,
        "model": settings.embedding_model,
        "reachable": False,
        "dimensions": None,
        "error": None,
        "stored": [],
        "matches_stored": None,
    }
    try:
        embedder = embedder_from_settings(settings)
        vector = embed_all(embedder, ["sentinel-db connection check"])[0]
        found.update(reachable=True, dimensions=len(vector))
    except SentinelDBError as exc:
        found["error"] = exc.message
    with db.unit_of_work(read_only=True) as session:
        for target in TARGETS.values():
            dims = VectorStore(session, target.parent).stored_dimensions(str(query.model))
            if dims is not None:
                found["stored"].append({"table": target.table, "dimensions": dims})
    if found["stored"] and found["dimensions"] is not None:
        found["matches_stored"] = all(
            s["dimensions"] == found["dimensions"] for s in found["stored"]
        )
    return found
