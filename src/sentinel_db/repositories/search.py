"""Relevance-ranked search over a table's weighted ``search_vector`` column.

Ranking is BM25 over the fields of each row: a query term weighs by its rarity in the table
(``idf``, from the term statistics that triggers keep exact), by how often it occurs in the row
with each occurrence weighted by its field (``tf``), and by the row's length against the average.
A row that matches more, and rarer, query terms comes first. Any query word may match; quoted
phrases and ``-words`` filter. Glossary expansions rank at :data:`EXPANSION_WEIGHT` of a typed
word, shared among the words of a multi-word expansion. A key named in the query (a control id
or a rule name) puts its row first.

Up to :data:`EXACT_ROWS` rows in a table, every matching row is scored: the ranking is exact.
Above that, rows are first gathered through the rarest query terms (as many terms as fit in
:data:`CANDIDATE_BUDGET` rows by document frequency, at least one, and never more than
:data:`CANDIDATE_CAP` rows) and scored on every term; the result is still exact, and says so,
when the cap was not reached and no row left out could beat the last row shown (its best
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
CANDIDATE_CAP = 4_000
EXPANSION_WEIGHT = 0.6
PAIR_WEIGHT = 0.5
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
RULE_FIELDS = FieldWeights(a=2.0, b=1.0, c=0.5, d=0.5)  # name, guidance, resources, controls


@dataclass(frozen=True)
class Signal:
    """One thing a row can match: a lexeme, or a glossary phrase whose words must be adjacent.

    ``match`` is its tsquery text. A phrase's document frequency is taken as that of its
    rarest word (it cannot be more common), so its idf errs low.
    """

    match: str
    weight: float
    df: int
    lexeme: str | None = None

    def idf(self, docs: int) -> float:
        """BM25's inverse document frequency (never negative)."""
        return math.log(1.0 + (docs - self.df + 0.5) / (self.df + 0.5))

    def scale(self, docs: int) -> float:
        """Weight times idf times (k1 + 1): the numerator of its BM25 term."""
        return self.weight * self.idf(docs) * (K1 + 1)


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
        return explain_empty(noun, self.terms)


def explain_empty(noun: str, terms: Sequence[str]) -> str:
    """Why a search for ``terms`` (the query's stems) found no ``noun``."""
    if not terms:
        return "no searchable words in the query (common words such as 'how' or 'the' are ignored)"
    return f"no {noun} matches any of: {', '.join(terms)}"


def _quoted(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def _any_of(signals: Sequence[Signal]) -> str:
    return " | ".join(f"({s.match})" for s in signals)


def _pieces(parsed: ParsedQuery, glossary: Glossary) -> tuple[list[str], list[float]]:
    """The typed text, then neighbouring word pairs, then glossary expansions, with weights."""
    texts = [parsed.ranking_text, *parsed.pairs]
    weights = [1.0] + [PAIR_WEIGHT] * len(parsed.pairs)
    for expansion in glossary.expand(parsed.glossary_text):
        texts.append(expansion)
        weights.append(EXPANSION_WEIGHT)
    return texts, weights


# One row per piece of the query (the typed text first, then each glossary expansion): its
# lexemes with their document frequencies, and the piece as a phrase query.
_TERMS_SQL = """
WITH pieces AS (
    SELECT p.i, p.weight, {split} AS txt
    FROM unnest(CAST(:texts AS text[]), CAST(:weights AS float8[]))
         WITH ORDINALITY AS p(txt, weight, i)
)
SELECT p.i, p.weight, phraseto_tsquery('english', p.txt)::text AS phrase,
       array_agg(u.lexeme ORDER BY u.positions[1], u.lexeme) AS lexemes,
       array_agg(coalesce(s.df, 0) ORDER BY u.positions[1], u.lexeme) AS dfs,
       (SELECT sum(docs) FROM {totals}) AS docs, (SELECT sum(lexemes) FROM {totals}) AS total
FROM pieces p
CROSS JOIN LATERAL unnest(to_tsvector('english', p.txt)) AS u
LEFT JOIN {terms} s ON s.term = u.lexeme
GROUP BY p.i, p.weight, p.txt
ORDER BY p.i
"""

_RANK_SQL = """
WITH q AS (
    SELECT * FROM unnest(CAST(:lexemes AS text[]), CAST(:scale AS float8[])) AS q(term, scale)
), pq AS (
    SELECT * FROM unnest(CAST(:phrases AS tsquery[]), CAST(:phrase_scale AS float8[]))
        AS pq(query, scale)
), candidates AS MATERIALIZED (
    SELECT t.id, t.{key} AS key, t.search_vector AS vector,
           :k1 * (1 - :b + :b * length(t.search_vector) / :avg_length) AS norm
    FROM {table} t
    WHERE t.search_vector @@ CAST(:gather AS tsquery){filters}
    LIMIT :cap
), hits AS (
    SELECT c.id, c.key, c.norm, u.lexeme, u.weights
    FROM candidates c CROSS JOIN LATERAL unnest(c.vector) AS u
    WHERE u.lexeme = ANY (CAST(:lexemes AS text[]))
), parts AS (
    SELECT c.id, c.key, q.scale * f.tf / (f.tf + c.norm) AS part
    FROM hits c
    JOIN q ON q.term = c.lexeme
    CROSS JOIN LATERAL (
        SELECT sum(CASE w WHEN 'A' THEN :wa WHEN 'B' THEN :wb WHEN 'C' THEN :wc ELSE :wd END)
               AS tf
        FROM unnest(c.weights) AS w
    ) f
    UNION ALL
    SELECT c.id, c.key, pq.scale / (1 + c.norm)
    FROM candidates c JOIN pq ON c.vector @@ pq.query
), scored AS (
    SELECT id, key, sum(part) AS score FROM parts GROUP BY id, key
), top AS (
    SELECT id, score, key = ANY (CAST(:named AS text[])) AS named,
           count(*) OVER () AS matched
    FROM scored
    WHERE score > 0 OR key = ANY (CAST(:named AS text[]))
    ORDER BY named DESC, score DESC, key
    LIMIT :limit
)
SELECT t.*, top.score, top.named, top.matched,
       ts_headline('english', t.{snippet}, CAST(:highlight AS tsquery), :headline) AS snippet
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


@dataclass(frozen=True)
class _Analysis:
    typed: tuple[str, ...]
    signals: list[Signal]
    docs: int
    avg_length: float


def _analyse(
    session: Session, source: SearchTable, parsed: ParsedQuery, glossary: Glossary
) -> _Analysis:
    """The query's signals with their document frequencies, and the table's totals."""
    terms_table, totals_table = SEARCH_STATISTICS[source.table.name]
    texts, weights = _pieces(parsed, glossary)
    rows = session.execute(
        text_sql(
            _TERMS_SQL.format(
                split=_SPLIT.format("p.txt"),
                terms=f"{terms_table.schema}.{terms_table.name}",
                totals=f"{totals_table.schema}.{totals_table.name}",
            )
        ),
        {"texts": texts, "weights": weights},
    ).all()
    if not rows:
        return _Analysis(typed=(), signals=[], docs=0, avg_length=1.0)
    docs = int(rows[0].docs or 0)
    avg_length = max(1.0, float(rows[0].total or 0) / max(1, docs))
    by_lexeme: dict[str, Signal] = {}
    phrases: dict[str, Signal] = {}
    typed: tuple[str, ...] = ()
    for row in rows:
        pairs = list(zip(row.lexemes, row.dfs, strict=True))
        if row.i == 1:
            typed = tuple(row.lexemes)
        if row.i == 1 or len(pairs) == 1:
            for lexeme, df in pairs:
                known = by_lexeme.get(lexeme)
                if df > 0 and (known is None or known.weight < row.weight):
                    by_lexeme[lexeme] = Signal(_quoted(lexeme), row.weight, df, lexeme)
        elif all(df > 0 for _, df in pairs) and row.phrase not in phrases:
            phrases[row.phrase] = Signal(row.phrase, row.weight, min(df for _, df in pairs))
    signals = [*by_lexeme.values(), *phrases.values()]
    return _Analysis(typed=typed, signals=signals, docs=docs, avg_length=avg_length)


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
    analysis = _analyse(session, source, parsed, glossary)
    docs = analysis.docs
    # Strongest first: a signal's best possible contribution is its scale times the largest
    # field weight (a term saturates at k1 + 1 however often it occurs).
    signals = sorted(analysis.signals, key=lambda s: (-s.scale(docs), s.match))
    if not signals or docs == 0:
        return SearchResult(hits=[], matched=0, exact=True, terms=analysis.typed, query=parsed)
    gather = signals
    if docs > EXACT_ROWS:
        gather, budget = [], 0
        for signal in signals:
            if gather and budget + signal.df > CANDIDATE_BUDGET:
                break
            gather.append(signal)
            budget += signal.df
    filters, filter_params = _filters(parsed)
    fields = source.fields
    lexemes = [s for s in signals if s.lexeme is not None]
    phrases = [s for s in signals if s.lexeme is None]
    statement = _RANK_SQL.format(
        table=source.table.name,
        key=source.key,
        snippet=source.snippet,
        filters=filters,
    )
    result = (
        session.execute(
            text_sql(statement),
            {
                "lexemes": [s.lexeme for s in lexemes],
                "scale": [s.scale(docs) for s in lexemes],
                "phrases": [s.match for s in phrases],
                "phrase_scale": [s.scale(docs) for s in phrases],
                "gather": _any_of(gather),
                "highlight": _any_of(signals),
                "k1": K1,
                "b": B,
                "avg_length": analysis.avg_length,
                "wa": fields.a,
                "wb": fields.b,
                "wc": fields.c,
                "wd": fields.d,
                "named": list(named),
                "limit": limit,
                "cap": CANDIDATE_CAP if docs > EXACT_ROWS else None,
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
    left_out = signals[len(gather) :]
    heaviest = max(fields.a, fields.b, fields.c, fields.d, 1.0)
    bound = sum(s.scale(docs) * heaviest for s in left_out)
    capped = docs > EXACT_ROWS and matched >= CANDIDATE_CAP
    exact = not capped and (not left_out or (len(hits) == limit and hits[-1].rank >= bound))
    return SearchResult(hits=hits, matched=matched, exact=exact, terms=analysis.typed, query=parsed)


def _record_fields(row: Any, table: Table) -> dict[str, Any]:
    return {
        c.name if c.name != "metadata" else "metadata": row[c.name]
        for c in table.columns
        if c.name != "search_vector"
    }


def text_sql(statement: str) -> Any:
    """A textual statement (kept in one place so every search statement is built alike)."""
    return text(statement)
