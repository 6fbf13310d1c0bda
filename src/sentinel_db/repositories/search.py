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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic

from sentinel_db.errors import UsageError
from sentinel_db.records.rows import RecordT, SearchHit
from sentinel_db.records.tables import COLUMNS_BY_TABLE, CONTROLS, RULES
from sentinel_db.repositories.search_terms import (
    EXPANSION_WEIGHT,
    K1,
    SPLIT,
    Signal,
    analyse,
    quoted,
)
from sentinel_db.runtime.direct import run
from sentinel_db.search.glossary import Glossary, default_glossary
from sentinel_db.search.query import ParsedQuery, parse_query
from sentinel_db.search.snippets import Marks, faithful_snippet

HIGHLIGHT_START = "«"
HIGHLIGHT_STOP = "»"
# ts_headline's fragments are mapped back onto the text (faithful_snippet), so the delimiter
# only has to be something the text never holds.
_MARKS = Marks(start=HIGHLIGHT_START, stop=HIGHLIGHT_STOP, delimiter="\u241e")
_HEADLINE_OPTIONS = (
    f"StartSel={HIGHLIGHT_START}, StopSel={HIGHLIGHT_STOP}, MaxWords=30, MinWords=10, "
    f"MaxFragments=2, FragmentDelimiter={_MARKS.delimiter}"
)
MAX_LIMIT = 1000
EXACT_ROWS = 10_000
CANDIDATE_BUDGET = 2_000
CANDIDATE_CAP = 4_000
B = 0.75


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
class SearchResult(Generic[RecordT]):
    """The best hits of one search, with what was searched and how many rows matched.

    ``matched`` counts rows matching any query term (after the phrase and ``-word`` filters);
    when ``exact`` is false it counts only the rows gathered through the rarest terms.
    ``ceiling`` is the score a row would reach holding every signal of the query as often as
    scoring counts (each signal's BM25 numerator): hybrid search reads how much of the question
    the best lexical row holds as its score over this.
    """

    hits: list[SearchHit[RecordT]]
    matched: int
    exact: bool
    terms: tuple[str, ...]
    query: ParsedQuery
    words: tuple[str, ...] = ()
    ceiling: float = 0.0

    def explain_empty(self, noun: str) -> str:
        """Why nothing came back, in one sentence, in the words the query used."""
        return explain_empty(noun, self.words)


def explain_empty(noun: str, words: Sequence[str]) -> str:
    """Why a search for ``words`` (the query's searchable words, as typed) found no ``noun``."""
    if not words:
        return "no searchable words in the query (common words such as 'how' or 'the' are ignored)"
    return f"no {noun} matches any of: {', '.join(words)}"


_WORDS_SQL = f"""
SELECT x.word FROM unnest(CAST(:words AS text[])) WITH ORDINALITY AS x(word, i)
WHERE EXISTS (
    SELECT 1 FROM unnest(to_tsvector('english', {SPLIT.format("x.word")})) AS u
    WHERE u.lexeme = ANY (CAST(:lexemes AS text[]))
)
ORDER BY x.i
"""


def typed_words(session: Any, text: str, lexemes: Sequence[str]) -> tuple[str, ...]:
    """The words of ``text`` as typed (once each) that stem to one of ``lexemes``.

    Messages show these, never stems: a person typed ``firewall``, not ``firewal``.
    """
    if not lexemes:
        return ()
    words = dict.fromkeys(w.strip("?!.,;:()'\"") for w in text.split())
    words.pop("", None)
    found = run(
        session, _WORDS_SQL, {"words": list(words), "lexemes": list(lexemes)}, action="search"
    ).scalars()
    return tuple(str(w) for w in found)


def _any_of(signals: Sequence[Signal]) -> str:
    return " | ".join(f"({s.match})" for s in signals)


_RANK_SQL = """
WITH q AS (
    SELECT * FROM unnest(CAST(:lexemes AS text[]), CAST(:scale AS float8[])) AS q(term, scale)
), pq AS (
    SELECT * FROM unnest(CAST(:phrases AS tsquery[]), CAST(:phrase_scale AS float8[]),
                         CAST(:phrase_pattern AS text[]))
        AS pq(query, scale, pattern)
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
    WHERE pq.pattern IS NULL
       OR EXISTS (SELECT FROM {table} t WHERE t.id = c.id AND lower({body}) ~ pq.pattern)
), scored AS (
    -- Rounded: the order of a float sum varies with the plan, and rows of equal score must
    -- tie (and fall back to their key) whichever plan scored them.
    SELECT id, key, round(sum(part)::numeric, 9)::float8 AS score FROM parts GROUP BY id, key
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

    name: str
    key: str
    snippet: str
    fields: FieldWeights
    body: str  # the row's words as SQL over ``t``, for glossary entries matched verbatim

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns a hit's record is read from."""
        return COLUMNS_BY_TABLE[self.name]


CONTROL_SEARCH = SearchTable(
    name=CONTROLS,
    key="control_id",
    snippet="chunk",
    body="concat_ws(' ', t.chunk, t.requirement, t.metadata ->> 'control_category')",
    fields=CONTROL_FIELDS,
)
RULE_SEARCH = SearchTable(
    name=RULES,
    key="config_rule",
    snippet="chunk",
    body="concat_ws(' ', replace(t.config_rule, '-', ' '), t.chunk)",
    fields=RULE_FIELDS,
)


def _ids_under(session: Any, table: str, control_ids: Sequence[str]) -> list[Signal]:
    """Control ids under each id the query names (``8.3`` -> ``8.3.6``, ``8.3.9``), as prefix
    matches weighed like a glossary equivalent: "rules for 8.3" finds rules mapped below it."""
    signals: list[Signal] = []
    for control_id in control_ids:
        match = f"{quoted(control_id.lower() + '.')}:*"
        df = run(
            session,
            f"SELECT count(*) FROM {table} WHERE search_vector @@ CAST(:q AS tsquery)",
            {"q": match},
            action=f"search {table}",
        ).scalar_one()
        if df:
            signals.append(Signal(match, EXPANSION_WEIGHT, int(df)))
    return signals


def _filters(parsed: ParsedQuery) -> tuple[str, dict[str, Any]]:
    clauses: list[str] = []
    params: dict[str, Any] = {}
    for i, phrase in enumerate(parsed.phrases):
        clauses.append(
            f" AND t.search_vector @@ phraseto_tsquery('english', {SPLIT.format(f':phrase{i}')})"
        )
        params[f"phrase{i}"] = phrase
    for i, word in enumerate(parsed.excluded):
        clauses.append(
            f" AND NOT t.search_vector @@ plainto_tsquery('english', {SPLIT.format(f':not{i}')})"
        )
        params[f"not{i}"] = word
    return "".join(clauses), params


def ranked_search(
    session: Any,
    *,
    source: SearchTable,
    record_type: type[RecordT],
    text: str,
    limit: int,
    named: Sequence[str] = (),
    glossary: Glossary | None = None,
    candidates: int = CANDIDATE_CAP,
) -> SearchResult[RecordT]:
    """The ``limit`` best rows for ``text``, best first (see the module docstring).

    Raises:
        UsageError: ``limit`` is out of range.
    """
    if limit < 1 or limit > MAX_LIMIT:
        raise UsageError(f"search limit must be between 1 and {MAX_LIMIT}")
    parsed = parse_query(text)
    glossary = glossary if glossary is not None else default_glossary()
    analysis = analyse(
        session,
        table=source.name,
        text_typed=parsed.ranking_text,
        context=parsed.glossary_text,
        glossary=glossary,
    )
    docs = analysis.docs
    # Strongest first: a signal's best possible contribution is its scale times the largest
    # field weight (a term saturates at k1 + 1 however often it occurs).
    found = [*analysis.signals, *_ids_under(session, source.name, parsed.control_ids)]
    signals = sorted(found, key=lambda s: (-s.scale(docs), s.match))
    if not signals or docs == 0:
        words = typed_words(session, parsed.ranking_text, analysis.typed)
        return SearchResult(
            hits=[], matched=0, exact=True, terms=analysis.typed, query=parsed, words=words
        )
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
        table=source.name,
        key=source.key,
        snippet=source.snippet,
        body=source.body,
        filters=filters,
    )
    result = (
        run(
            session,
            statement,
            {
                "lexemes": [s.lexeme for s in lexemes],
                "scale": [s.scale(docs) for s in lexemes],
                "phrases": [s.match for s in phrases],
                "phrase_scale": [s.scale(docs) for s in phrases],
                "phrase_pattern": [s.pattern for s in phrases],
                "gather": _any_of(gather),
                # A verbatim entry's tsquery lacks its stop words: it would mark other text.
                "highlight": _any_of([s for s in signals if s.pattern is None]),
                "k1": K1,
                "b": B,
                "avg_length": analysis.avg_length,
                "wa": fields.a,
                "wb": fields.b,
                "wc": fields.c,
                "wd": fields.d,
                "named": list(named),
                "limit": limit,
                "cap": candidates if docs > EXACT_ROWS else None,
                "headline": _HEADLINE_OPTIONS,
                **filter_params,
            },
            action=f"search {source.name}",
        )
        .mappings()
        .all()
    )
    hits = [
        SearchHit[RecordT](
            record=record_type.model_validate({c: row[c] for c in source.columns}),
            rank=float(row["score"]),
            snippet=faithful_snippet(str(row[source.snippet]), str(row["snippet"]), _MARKS),
        )
        for row in result
    ]
    matched = int(result[0]["matched"]) if result else 0
    left_out = signals[len(gather) :]
    heaviest = max(fields.a, fields.b, fields.c, fields.d, 1.0)
    bound = sum(s.scale(docs) * heaviest for s in left_out)
    capped = docs > EXACT_ROWS and matched >= candidates
    # Strictly above: a left-out row reaching the same score could sort before it by key.
    exact = not capped and (not left_out or (len(hits) == limit and hits[-1].rank > bound))
    words = typed_words(session, parsed.ranking_text, analysis.typed) if not hits else ()
    return SearchResult(
        hits=hits,
        matched=matched,
        exact=exact,
        terms=analysis.typed,
        query=parsed,
        words=words,
        ceiling=sum(s.scale(docs) for s in signals),
    )
