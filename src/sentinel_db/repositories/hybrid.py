"""Hybrid search: the lexical ranking and the vector ranking fused by their scores.

Each side ranks its own candidates: ``FUSION_DEPTH`` of them, or twice the requested limit when
that is more (the lexical side pays for a highlighted snippet per candidate). A row's fused score
is ``(1 - share) * lexical + share * vector``, where:

* each side's score is divided by that side's best (its first row 1, the others keeping their
  ratio to it): how far behind the leader a row is survives, and no row is pushed to 0 only for
  being the last of a list cut at some depth, as rescaling between the best and the last did;
* a row that only the lexical side found still gets its real cosine similarity (one look-up of
  those rows' vectors), so a row both sides like is not outscored by a neighbour the vector side
  happens to rank 20th; a row only the vectors found has no lexical score (it matches no word,
  or ranks below the lexical candidates);
* ``share`` is ``VECTOR_SHARE`` (half and half), or ``WEAK_LEXICAL_SHARE`` when the best lexical
  row holds less than ``WEAK_COVERAGE`` of the question: its score over the query's ceiling (the
  score of a row holding every query word as often as scoring counts). A question asked in
  words the standard does not use then leans on its vectors; the ratio is the same whatever the
  size of the table, unlike a threshold on raw BM25 scores.

Measured with all-MiniLM-L6-v2 on the judged questions (bench/search_quality.py; chosen on the
questions at even positions, reported on the others too), this lifts controls MRR@10 from 0.886
to above 0.90 and the everyday-words questions' hit@1 to that of the vectors alone; rescaling
between best and last at half and half, z-scores and reciprocal rank fusion (:func:`fuse`, kept
for callers that have ranks only) all scored lower. Rows are returned best first (ties by key),
each saying which side found it.
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
WEAK_LEXICAL_SHARE: Final = 0.65
WEAK_COVERAGE: Final = 0.3
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


def _by_best(scored: Mapping[str, float]) -> dict[str, float]:
    """Each score over the best one, kept within 0..1 (nothing scores above 0: all 0)."""
    best = max(scored.values(), default=0.0)
    if best <= 0:
        return {key: 0.0 for key in scored}
    return {key: min(1.0, max(0.0, score / best)) for key, score in scored.items()}


def share_for(coverage: float) -> float:
    """The vector side's share for a question whose best lexical row holds ``coverage`` of it."""
    return WEAK_LEXICAL_SHARE if coverage < WEAK_COVERAGE else VECTOR_SHARE


def combine(
    lexical: Sequence[tuple[str, float]],
    vector: Sequence[tuple[str, float]],
    *,
    similarity: Mapping[str, float] | None = None,
    vector_share: float = VECTOR_SHARE,
) -> list[tuple[str, float, FoundBy]]:
    """Score fusion of two scored rankings ``(key, score)``: ``(key, fused, found_by)``, best first.

    ``similarity`` gives the vector score of rows only the lexical side found (see the module
    docstring); ``found_by`` still names the sides whose own ranking held the row.
    """
    nearest = dict(vector)
    lex = _by_best(dict(lexical))
    extra = {key: score for key, score in (similarity or {}).items() if key in lex}
    vec = _by_best({**extra, **nearest})
    fused: list[tuple[str, float, FoundBy]] = []
    for key in lex.keys() | nearest.keys():
        score = (1 - vector_share) * lex.get(key, 0.0) + vector_share * vec.get(key, 0.0)
        found: FoundBy = (
            "both" if key in lex and key in nearest else ("lexical" if key in lex else "vector")
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
    found = (
        repo.search_results(text, depth, glossary=glossary, candidates=HYBRID_CANDIDATES)
        if text.strip()
        else None
    )
    lexical = found.hits if found is not None else []
    store = VectorStore(repo.session, repo.table.name)
    name = store.model_for(len(vector), model)
    nearest = store.nearest(vector, model=name, limit=depth)
    scored = [(getattr(hit.record, repo.key_name), hit.rank) for hit in lexical]
    near = {key for key, _ in nearest}
    similarity = store.similarities(vector, [k for k, _ in scored if k not in near], model=name)
    best = max((score for _, score in scored), default=0.0)
    coverage = best / found.ceiling if found is not None and found.ceiling > 0 else 0.0
    fused = combine(scored, nearest, similarity=similarity, vector_share=share_for(coverage))[
        :limit
    ]
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
