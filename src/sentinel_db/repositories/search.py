"""Ranked full-text search over a table's generated ``search_vector`` column."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Float, Text, func, literal_column, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from sentinel_db.errors import UsageError
from sentinel_db.records import RecordT, SearchHit

HIGHLIGHT_START = "«"
HIGHLIGHT_STOP = "»"
_ENGLISH: ColumnElement[Any] = literal_column("'english'::regconfig")
_HEADLINE_OPTIONS = (
    f"StartSel={HIGHLIGHT_START}, StopSel={HIGHLIGHT_STOP}, MaxWords=30, MinWords=10, "
    'MaxFragments=2, FragmentDelimiter=" … "'
)
MAX_LIMIT = 1000
MAX_CANDIDATES = 500


def to_tsquery(text: str) -> ColumnElement[Any]:
    """The query as a tsquery; web-search syntax ("quoted phrases", or, -not) is accepted."""
    return func.websearch_to_tsquery(_ENGLISH, text)


def ranked_search(
    session: Session,
    *,
    model: Any,
    key: InstrumentedAttribute[str],
    snippet_of: InstrumentedAttribute[str],
    record_type: type[RecordT],
    text: str,
    limit: int,
    candidates: int = MAX_CANDIDATES,
) -> list[SearchHit[RecordT]]:
    """The ``limit`` best matches of ``text``, best first, each with a highlighted snippet.

    Only matches found through the GIN index are ranked, at most ``candidates`` of them: when
    a query matches more rows than that, the best of an arbitrary ``candidates`` are returned.
    Headlines are built for the final ``limit`` rows only (ts_headline re-parses the text).
    """
    if limit < 1 or limit > MAX_LIMIT:
        raise UsageError(f"search limit must be between 1 and {MAX_LIMIT}")
    if not text.strip():
        return []
    query = to_tsquery(text)
    # The index finds the matches cheaply; ranking needs each match's tsvector from the heap.
    # Capping the candidates bounds that work for very common words.
    matches = (
        select(model.id.label("id"), key.label("key"), model.search_vector.label("vector"))
        .where(model.search_vector.op("@@")(query))
        .limit(candidates)
        .subquery("matches")
    )
    rank = func.ts_rank(matches.c.vector, query, type_=Float).label("rank")
    top = (
        select(matches.c.id, rank).order_by(rank.desc(), matches.c.key).limit(limit).subquery("top")
    )
    snippet = func.ts_headline(_ENGLISH, snippet_of, query, _HEADLINE_OPTIONS, type_=Text).label(
        "snippet"
    )
    stmt = (
        select(model, top.c.rank, snippet)
        .join(top, model.id == top.c.id)
        .order_by(top.c.rank.desc(), key)
    )
    return [
        SearchHit[RecordT](record=record_type.model_validate(row), rank=float(r), snippet=str(s))
        for row, r, s in session.execute(stmt)
    ]
