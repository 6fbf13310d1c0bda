"""Which ranking a search uses: hybrid by default when the deployment can, lexical otherwise.

A search fuses the lexical and vector rankings without being asked when the session's database
has an embedding provider (``EMBEDDING_URL`` or ``EMBEDDING_PROVIDER``) and the table stores
vectors of its model. ``embedding=False`` asks for lexical only; a vector or an ``Embedder``
passed by the caller is used as given. When the provider fails or misses its time budget the
search answers lexically with ``mode = "lexical-fallback"``: it counts the fallback in
``db.metrics()``, logs a warning (at most one a minute per provider), and never raises.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sentinel_db.errors import ConfigError, EmbeddingProviderError
from sentinel_db.records.embeddings import is_embedder
from sentinel_db.records.rows import SearchMode
from sentinel_db.redact import library_logger
from sentinel_db.repositories.vectors import VectorStore
from sentinel_db.runtime.metrics import metrics_of
from sentinel_db.runtime.query_vectors import SESSION_KEY

log = library_logger("sentinel_db.search")
WARN_EVERY: Final = 60.0
_warned_at: dict[str, float] = {}
_warn_lock = threading.Lock()


@dataclass(frozen=True)
class QuestionVector:
    """The question's vector and model for the vector side (None: answer lexically), and why."""

    vector: list[float] | None
    model: str | None
    mode: SearchMode
    note: str | None = None


_LEXICAL: Final = QuestionVector(None, None, "lexical")


def question_vector(
    repo: Any, text: str, embedding: Sequence[float] | Any | bool | None, model: str | None
) -> QuestionVector:
    """Decide how ``repo`` answers ``text``; embeds the question when the answer is hybrid.

    Raises only for a caller's own vector or embedder (as before); a configured provider's
    failure becomes a lexical fallback.
    """
    if embedding is False:
        return _LEXICAL
    if embedding is not None and embedding is not True:
        if is_embedder(embedding):
            given: Any = embedding
            return QuestionVector(
                [float(x) for x in given.embed(text)], model or given.model, "hybrid"
            )
        return QuestionVector([float(x) for x in embedding], model, "hybrid")
    source = repo.session.info.get(SESSION_KEY)
    if source is None or not text.strip():
        return _LEXICAL
    name = model or source.model
    dims = VectorStore(repo.session, repo.table.name).stored_dimensions(name)
    if dims is None:
        return QuestionVector(None, None, "lexical", f"no stored vectors of model {name}")
    try:
        vector = source.vector(text)
    except (EmbeddingProviderError, ConfigError) as exc:
        return _fallback(repo, source.describe, exc.message)
    if len(vector) != dims:
        return _fallback(
            repo,
            source.describe,
            f"the provider's vectors have {len(vector)} dimensions, the stored ones {dims}",
        )
    return QuestionVector(vector, name, "hybrid")


def _fallback(repo: Any, provider: str, reason: str) -> QuestionVector:
    """A lexical answer, counted; warns once a minute per provider, whatever the cause."""
    bind = repo.session.get_bind()
    metrics_of(getattr(bind, "engine", bind)).count("embedding_fallbacks")
    now = time.monotonic()
    with _warn_lock:
        last = _warned_at.get(provider)
        loud = last is None or now - last >= WARN_EVERY
        if loud:
            _warned_at[provider] = now
    if loud:
        log.warning("searching lexically: %s", reason)
    return QuestionVector(None, None, "lexical-fallback", reason)
