"""Relevance-ranked search over a table's weighted ``search_vector`` column.

Ranking is BM25 over the fields of each row: a query term weighs by its rarity in the table
(``idf``, from the term statistics that triggers keep exact), by how often it occurs in the row
with each occurrence weighted by its field (``tf``), and by the row's length against the average.
A row that matches more, and rarer, query terms comes first. Any query word may match; quoted
phrases and ``-words`` filter. Glossary expansions rank at :data:`EXPANSION_WEIGHT` of a typed
word, shared among the words of a multi-word expansion. A key named in the query (a control id
or a rule name) puts its row first.

Up to :data:`EXACT_ROWS` rows in a table, every matching row is scored: the ranking is exact.
Above that, rows are first gathered through the rarest query terms (at most
:data:`CANDIDATE_BUDGET` of them by document frequency) and scored on every term; the result is
still exact, and says so, when no row outside that set could beat the last row shown (its best
possible score, every other term at its maximum weight, is lower). Otherwise ``exact`` is false.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic

from sqlalchemy import Table, text
from sqlalchemy.orm import Session

from sentinel_db.errors import UsageError
from sentinel_db.models import SEARCH_STATISTICS
from sentinel_db.records import RecordT, SearchHit
from sentinel_db.search.glossary import Glossary, default_glossary
from sentinel_db.search.query import ParsedQuery, parse_query

HIGHLIGHT_START = "«"
HIGHLIGHT_STOP = "»"
_HEADLINE_OPTIONS = (
    f"StartSel={HIGHLIGHT_START}, StopSel={HIGHLIGHT_STOP}, MaxWords=30, MinWords=10, "
    'MaxFragments=2, FragmentDelimiter=" … "'
)
MAX_LIMIT = 1000
EXACT_ROWS = 10_000
CANDIDATE_BUDGET = 2_000
EXPANSION_WEIGHT = 0.6
K1 = 1.2
B = 0.75
# Text split the way the indexed text is (revisions 0020/0021): "/" and "_" separate words.
_SPLIT = "regexp_replace({0}, '[/_]+', ' ', 'g')"


@dataclass(frozen=True)
class FieldWeights:
    """How much one occurrence counts in each weight class of the search vector."""

    a: float
    b: float
    c: float
    d: float


CONTROL_FIELDS = FieldWeights(a=2.0, b=1.0, c=0.4, d=0.4)  # id, text, requirement, section
RULE_FIELDS = FieldWeights(a=2.0, b=1.0, c=0.5, d=0.0)  # name, guidance, resource types


@dataclass(frozen=True)
class Term:
    """One lexeme of the query, its weight, and how many rows hold it."""

    lexeme: str
    weight: float
    df: int

    def idf(self, docs: int) -> float:
        """BM25's inverse document frequency (never negative)."""
        return math.log(1.0 + (docs - self.df + 0.5) / (self.df + 0.5))


@dataclass(frozen=True)
class SearchResult(Generic[RecordT]):
    """The best hits of one search, with what was searched and how many rows matched.

    ``matched`` counts rows matching any query term (after the phrase and ``-word`` filters);
    when ``exact`` is false it counts only the rows gathered through the rarest terms.
    """

    hits: list[SearchHit[RecordT]]
    matched: int
    exact: bool
    terms: tuple[str, ...]
    query: ParsedQuery

    def explain_empty(self, noun: str) -> str:
        """Why nothing came back, in one sentence."""
        if not self.terms:
            return (
                "no searchable words in the query (common words such as 'how' or 'the' are ignored)"
            )
        listed = ", ".join(self.terms)
        filters = (
            " with the quoted phrases and -words given"
            if self.query.phrases or self.query.excluded
            else ""
        )
        return f"no {noun} matches any of: {listed}{filters}"


def _tsquery_literal(lexemes: Sequence[str]) -> str:
    quoted = ("'" + t.replace("\\", "\\\\").replace("'", "''") + "'" for t in lexemes)
    return " | ".join(quoted)


def _pieces(parsed: ParsedQuery, glossary: Glossary) -> tuple[list[str], list[float], list[bool]]:
    texts = [parsed.ranking_text]
    weights = [1.0]
    shared = [False]
    for expansion in glossary.expand(parsed.ranking_text):
        texts.append(expansion)
        weights.append(EXPANSION_WEIGHT)
        shared.append(True)
    return texts, weights, shared


_TERMS_SQL = """
WITH pieces AS (
    SELECT p.i, p.txt, p.weight, p.shared
    FROM unnest(CAST(:texts AS text[]), CAST(:weights AS float8[]), CAST(:shared AS boolean[]))
         WITH ORDINALITY AS p(txt, weight, shared, i)
), lexemes AS (
    SELECT u.lexeme,
           CASE WHEN p.shared THEN p.weight / count(*) OVER (PARTITION BY p.i)
                ELSE p.weight END AS weight
    FROM pieces p
    CROSS JOIN LATERAL unnest(to_tsvector('english', {split})) AS u
)
SELECT l.lexeme, max(l.weight) AS weight, coalesce(max(s.df), 0) AS df,
       (SELECT docs FROM {totals}) AS docs, (SELECT lexemes FROM {totals}) AS total
FROM lexemes l LEFT JOIN {terms} s ON s.term = l.lexeme
GROUP BY l.lexeme
ORDER BY l.lexeme
"""

_RANK_SQL = """
WITH q AS (
    SELECT * FROM unnest(CAST(:lexemes AS text[]), CAST(:scale AS float8[])) AS q(term, scale)
), candidates AS MATERIALIZED (
    SELECT t.id, t.{key} AS key, t.search_vector AS vector
    FROM {table} t
    WHERE t.search_vector @@ CAST(:gather AS tsquery){filters}
), scored AS (
    SELECT c.id, c.key,
           sum(q.scale * f.tf / (f.tf + :k1 * (1 - :b + :b * length(c.vector) / :avg_length)))
               AS score
    FROM candidates c
    CROSS JOIN LATERAL unnest(c.vector) AS u
    JOIN q ON q.term = u.lexeme
    CROSS JOIN LATERAL (
        SELECT sum(CASE w WHEN 'A' THEN :wa WHEN 'B' THEN :wb WHEN 'C' THEN :wc ELSE :wd END)
               AS tf
        FROM unnest(u.weights) AS w
    ) f
    GROUP BY c.id, c.key
), top AS (
    SELECT id, score, key = ANY (CAST(:named AS text[])) AS named,
           count(*) OVER () AS matched
    FROM scored
    WHERE score > 0 OR key = ANY (CAST(:named AS text[]))
    ORDER BY named DESC, score DESC, key
    LIMIT :limit
)
SELECT t.*, top.score, top.named, top.matched,
       ts_headline('english', t.{snippet}, CAST(:gather_all AS tsquery), :headline) AS snippet
FROM top JOIN {table} t ON t.id = top.id
ORDER BY top.named DESC, top.score DESC, t.{key}
"""


@dataclass(frozen=True)
class SearchTable:
    """What ranking needs to know about one searchable table."""

    table: Table
    key: str
    snippet: str
    fields: FieldWeights


def _filters(parsed: ParsedQuery) -> tuple[str, dict[str, Any]]:
    clauses: list[str] = []
    params: dict[str, Any] = {}
    for i, phrase in enumerate(parsed.phrases):
        clauses.append(
            f" AND t.search_vector @@ phraseto_tsquery('english', {_SPLIT.format(f':phrase{i}')})"
        )
        params[f"phrase{i}"] = phrase
    for i, word in enumerate(parsed.excluded):
        clauses.append(
            f" AND NOT t.search_vector @@ plainto_tsquery('english', {_SPLIT.format(f':not{i}')})"
        )
        params[f"not{i}"] = word
    return "".join(clauses), params


def ranked_search(
    session: Session,
    *,
    source: SearchTable,
    record_type: type[RecordT],
    text: str,
    limit: int,
    named: Sequence[str] = (),
    glossary: Glossary | None = None,
) -> SearchResult[RecordT]:
    """The ``limit`` best rows for ``text``, best first (see the module docstring).

    Raises:
        UsageError: ``limit`` is out of range.
    """
    if limit < 1 or limit > MAX_LIMIT:
        raise UsageError(f"search limit must be between 1 and {MAX_LIMIT}")
    parsed = parse_query(text)
    glossary = glossary if glossary is not None else default_glossary()
    terms_table, totals_table = SEARCH_STATISTICS[source.table.name]
    texts, weights, shared = _pieces(parsed, glossary)
    rows = session.execute(
        text_sql(
            _TERMS_SQL.format(
                split=_SPLIT.format("p.txt"),
                terms=f"{terms_table.schema}.{terms_table.name}",
                totals=f"{totals_table.schema}.{totals_table.name}",
            )
        ),
        {"texts": texts, "weights": weights, "shared": shared},
    ).all()
    typed = tuple(r.lexeme for r in rows if r.weight >= 1.0)
    found = [Term(r.lexeme, float(r.weight), int(r.df)) for r in rows if r.df > 0]
    docs = int(rows[0].docs or 0) if rows else 0
    if not found or docs == 0:
        return SearchResult(hits=[], matched=0, exact=True, terms=typed, query=parsed)
    avg_length = max(1.0, float(rows[0].total or 0) / docs)
    # Rarest first: each term's best possible contribution is weight * idf * (k1 + 1).
    found.sort(key=lambda t: (-t.weight * t.idf(docs), t.lexeme))
    gather = found
    if docs > EXACT_ROWS:
        budget = 0
        gather = []
        for term in found:
            if gather and budget + term.df > CANDIDATE_BUDGET:
                break
            gather.append(term)
            budget += term.df
    filters, filter_params = _filters(parsed)
    fields = source.fields
    statement = _RANK_SQL.format(
        table=source.table.name, key=source.key, snippet=source.snippet, filters=filters
    )
    result = (
        session.execute(
            text_sql(statement),
            {
                "lexemes": [t.lexeme for t in found],
                "scale": [t.weight * t.idf(docs) * (K1 + 1) for t in found],
                "gather": _tsquery_literal([t.lexeme for t in gather]),
                "gather_all": _tsquery_literal([t.lexeme for t in found]),
                "k1": K1,
                "b": B,
                "avg_length": avg_length,
                "wa": fields.a,
                "wb": fields.b,
                "wc": fields.c,
                "wd": fields.d,
                "named": list(named),
                "limit": limit,
                "headline": _HEADLINE_OPTIONS,
                **filter_params,
            },
        )
        .mappings()
        .all()
    )
    hits = [
        SearchHit[RecordT](
            record=record_type.model_validate(_record_fields(row, source.table)),
            rank=float(row["score"]),
            snippet=str(row["snippet"]),
        )
        for row in result
    ]
    matched = int(result[0]["matched"]) if result else 0
    left_out = found[len(gather) :]
    bound = sum(t.weight * t.idf(docs) * (K1 + 1) * max(fields.a, fields.b) for t in left_out)
    exact = not left_out or (len(hits) == limit and hits[-1].rank >= bound)
    return SearchResult(hits=hits, matched=matched, exact=exact, terms=typed, query=parsed)


def _record_fields(row: Any, table: Table) -> dict[str, Any]:
    return {
        c.name if c.name != "metadata" else "metadata": row[c.name]
        for c in table.columns
        if c.name != "search_vector"
    }


def text_sql(statement: str) -> Any:
    """A textual statement (kept in one place so every search statement is built alike)."""
    return text(statement)
