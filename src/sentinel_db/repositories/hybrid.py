"""Hybrid search: the lexical ranking and the vector ranking fused by their normalised scores.

Each side ranks its own candidates: ``FUSION_DEPTH`` of them, or twice the requested limit when
that is more (the lexical side pays for a highlighted snippet per candidate). Each side's scores
are rescaled to 0..1 over its own candidates (min-max: its best candidate 1, its last 0); a row's
fused score is ``(1 - VECTOR_SHARE) * lexical + VECTOR_SHARE * vector``, a side that did not find
it adding 0. Unlike reciprocal rank fusion (:func:`fuse`, kept for callers that have ranks only),
this keeps how far ahead a side's first candidate is: a lexical match on a rare exact phrase
stays first, and a question no word of which matches well is ranked by its vectors. Measured on
the judged questions (bench/search_quality.py) it beats RRF at k = 60 on hit@1 and MRR@10.
Rows are returned best first (ties by key), each saying which side found it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from sentinel_db.errors import translate
from sentinel_db.records.embeddings import Embedder
from sentinel_db.records.rows import FoundBy, Record, SearchHit
from sentinel_db.repositories.vectors import MAX_LIMIT, UpsertCounts, VectorStore
from sentinel_db.search.snippets import opening

if TYPE_CHECKING:
    from sentinel_db.search.glossary import Glossary

RRF_K: Final = 60  # the constant of Cormack et al. (2009); damps the head of each ranking
LEXICAL_WEIGHT: Final = 1.0
VECTOR_WEIGHT: Final = 1.0
FUSION_DEPTH: Final = 20
VECTOR_SHARE: Final = 0.5
HYBRID_CANDIDATES: Final = 300


def fuse(
    lexical: Sequence[str],
    vector: Sequence[str],
    *,
    k: int = RRF_K,
    weights: tuple[float, float] = (LEXICAL_WEIGHT, VECTOR_WEIGHT),
) -> list[tuple[str, float, FoundBy]]:
    """Reciprocal rank fusion of two rankings of keys (best first): ``(key, score, found_by)``."""
    scores: dict[str, float] = {}
    sides: dict[str, set[str]] = {}
    for side, ranking, weight in (("lexical", lexical, weights[0]), ("vector", vector, weights[1])):
        for position, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + weight / (k + position)
            sides.setdefault(key, set()).add(side)
    fused: list[tuple[str, float, FoundBy]] = []
    for key, score in scores.items():
        found: FoundBy = (
            "both" if len(sides[key]) == 2 else ("lexical" if "lexical" in sides[key] else "vector")
        )
        fused.append((key, score, found))
    fused.sort(key=lambda item: (-item[1], item[0]))
    return fused


def _rescaled(scored: Sequence[tuple[str, float]]) -> dict[str, float]:
    if not scored:
        return {}
    values = [score for _, score in scored]
    low, high = min(values), max(values)
    if high <= low:
        return {key: 1.0 for key, _ in scored}
    return {key: (score - low) / (high - low) for key, score in scored}


def combine(
    lexical: Sequence[tuple[str, float]],
    vector: Sequence[tuple[str, float]],
    *,
    vector_share: float = VECTOR_SHARE,
) -> list[tuple[str, float, FoundBy]]:
    """Score fusion of two scored rankings ``(key, score)``: ``(key, fused, found_by)``, best first."""
    lex, vec = _rescaled(lexical), _rescaled(vector)
    fused: list[tuple[str, float, FoundBy]] = []
    for key in lex.keys() | vec.keys():
        score = (1 - vector_share) * lex.get(key, 0.0) + vector_share * vec.get(key, 0.0)
        found: FoundBy = (
            "both" if key in lex and key in vec else ("lexical" if key in lex else "vector")
        )
        fused.append((key, score, found))
    fused.sort(key=lambda item: (-item[1], item[0]))
    return fused


def excerpt(chunk: str) -> str:
    """The start of a text in whole words, for hits the lexical side did not highlight."""
    return opening(chunk)


def hits_for_keys(
    repo: Any, scored: Sequence[tuple[str, float, FoundBy]], snippets: dict[str, str]
) -> list[SearchHit[Any]]:
    """Search hits for ``(key, score, found_by)`` in that order, records read in one query."""
    keys = [key for key, _, _ in scored]
    try:
        rows = repo.session.execute(select(repo.model).where(repo.key.in_(keys))).scalars()
    except SQLAlchemyError as exc:
        raise translate(exc, action=f"read {repo.table.name}") from exc
    by_key = {getattr(row, repo.key_name): row for row in rows}
    hits: list[SearchHit[Any]] = []
    for key, score, found in scored:
        row = by_key.get(key)
        if row is None:
            continue
        record: Record = repo.record_type.model_validate(row)
        snippet = snippets.get(key) or excerpt(str(row.chunk))
        hits.append(SearchHit[Any](record=record, rank=score, snippet=snippet, found_by=found))
    return hits


def hybrid_search(
    repo: Any,
    text: str,
    limit: int,
    *,
    embedding: Sequence[float] | Embedder,
    model: str | None = None,
    glossary: Glossary | None = None,
) -> list[SearchHit[Any]]:
    """``repo.search(text)``'s lexical hits fused with the nearest stored vectors of ``embedding``.

    ``embedding`` may be an :class:`Embedder`, which is asked to embed ``text`` (its model name
    is used unless ``model`` is given). ``model`` may be left out when one model alone stores
    vectors of that dimension. ``glossary`` goes to the lexical side unchanged.
    """
    if isinstance(embedding, Embedder):
        model = model or embedding.model
        embedding = embedding.embed(text)
    vector = list(embedding)
    depth = min(max(2 * limit, FUSION_DEPTH), MAX_LIMIT)
    # Fusion needs the lexical side's order near its top, not an exact list: above 10,000 rows
    # it gathers fewer rows (HYBRID_CANDIDATES) than a lexical search alone would.
    lexical = (
        repo.search_results(text, depth, glossary=glossary, candidates=HYBRID_CANDIDATES).hits
        if text.strip()
        else []
    )
    store = VectorStore(repo.session, repo.table.name)
    nearest = store.nearest(vector, model=store.model_for(len(vector), model), limit=depth)
    scored = [(getattr(hit.record, repo.key_name), hit.rank) for hit in lexical]
    fused = combine(scored, nearest)[:limit]
    snippets = {getattr(hit.record, repo.key_name): hit.snippet for hit in lexical}
    return hits_for_keys(repo, fused, snippets)


def similar_hits(repo: Any, key: str, limit: int, *, model: str | None) -> list[SearchHit[Any]]:
    """Rows whose stored vector is closest to ``key``'s (itself left out), rank = cosine similarity."""
    store = VectorStore(repo.session, repo.table.name)
    name, vector = store.vector_of(key, model)
    nearest = store.nearest(vector, model=name, limit=limit, exclude=key)
    return hits_for_keys(repo, [(k, score, "vector") for k, score in nearest], {})


class EmbeddingsMixin:
    """Vector methods for the repositories of tables that have embeddings."""

    def similar_to(
        self, key: str, limit: int = 10, *, model: str | None = None
    ) -> list[SearchHit[Any]]:
        """Rows like ``key``: nearest stored vectors of the same model, most similar first.

        Raises:
            NotFoundError: ``key`` has no stored vector (of ``model``).
            UsageError: ``model`` is None and ``key`` has vectors of several models.
            MigrationError: the vectors schema is not installed.
        """
        return similar_hits(self, key, limit, model=model)

    def upsert_embeddings(
        self,
        vectors: Mapping[str, Sequence[float]] | Iterable[tuple[str, Sequence[float]]],
        *,
        model: str,
    ) -> UpsertCounts:
        """Store vectors of ``model`` by key (hashing each row's current text); flushes only.

        Raises:
            DataValidationError: a malformed vector, or a dimension the model does not have.
            NotFoundError: a key has no row.
            MigrationError: the vectors schema is not installed.
        """
        repo: Any = self
        return VectorStore(repo.session, repo.table.name).upsert(vectors, model=model)
