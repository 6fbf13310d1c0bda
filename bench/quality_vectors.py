"""The vector side of the quality benchmark: a pgvector server, stored vectors, two more rankers.

With ``--embedding-url`` the data sets load into an embedded PostgreSQL (pgserver ships pgvector;
the default server may not), every row's text is embedded through the endpoint (cached on disk by
``embedding_cache.py``, so only new texts reach the model) and stored with the repositories, and
each question is ranked three ways on the same rows:

* ``lexical``: ``search(question, embedding=False)``, what services get without a provider;
* ``vectors``: the nearest stored vectors of the question's embedding, alone;
* ``hybrid``: ``search(question, embedding=vector)``, the product's fusion.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from embedding_cache import EmbeddingCache
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from sentinel_db.records.embeddings import TARGETS, embedding_text
from sentinel_db.repositories import AwsConfigRuleRepository, PciControlRepository
from sentinel_db.repositories.vectors import VectorStore
from sentinel_db.runtime.db import Database

PARENTS = {"controls": "pci_dss_controls", "rules": "aws_config_rules_guidance"}


@contextmanager
def vector_server() -> Iterator[str]:
    """The admin URL of a throwaway embedded PostgreSQL with pgvector."""
    import pgserver

    folder = Path(tempfile.mkdtemp(prefix="sentinel-quality-"))
    server = pgserver.get_server(folder, cleanup_mode="delete")
    try:
        yield make_url(server.get_uri()).render_as_string(hide_password=False)
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def store_vectors(db: Database, cache: EmbeddingCache) -> None:
    """Embed every control and rule (cached) and store the vectors under the cache's model."""
    with db.unit_of_work() as session:
        for target in TARGETS.values():
            columns = (
                "control_id AS key, requirement, chunk"
                if target.key == "control_id"
                else ("config_rule AS key, NULL AS requirement, chunk")
            )
            rows = session.execute(text(f"SELECT {columns} FROM {target.parent}")).mappings().all()
            texts = [embedding_text(target.parent, row) for row in rows]
            vectors = cache.embed(texts)
            VectorStore(session, target.parent).upsert(
                [(str(r["key"]), v) for r, v in zip(rows, vectors, strict=True)], model=cache.model
            )


def _repo(session: Session, table: str) -> Any:
    return (
        PciControlRepository(session) if table == "controls" else AwsConfigRuleRepository(session)
    )


def rankers(cache: EmbeddingCache, questions: list[dict[str, Any]]) -> dict[str, Any]:
    """``lexical``, ``vectors`` and ``hybrid`` rankers, the questions embedded ahead (cached)."""
    vectors = dict(
        zip(
            [q["question"] for q in questions],
            cache.embed([q["question"] for q in questions]),
            strict=True,
        )
    )

    def lexical(session: Session, table: str, question: str) -> list[str]:
        repo = _repo(session, table)
        return [
            getattr(h.record, repo.key_name) for h in repo.search(question, 10, embedding=False)
        ]

    def alone(session: Session, table: str, question: str) -> list[str]:
        store = VectorStore(session, PARENTS[table])
        return [key for key, _ in store.nearest(vectors[question], model=cache.model, limit=10)]

    def hybrid(session: Session, table: str, question: str) -> list[str]:
        repo = _repo(session, table)
        hits = repo.search(question, 10, embedding=vectors[question], model=cache.model)
        return [getattr(h.record, repo.key_name) for h in hits]

    return {"lexical": lexical, "vectors": alone, "hybrid": hybrid}
