"""What a query searches for: its lexemes, neighbouring pairs and glossary equivalents.

PostgreSQL's English configuration stems the query (so ``rotated keys`` and ``key rotation`` are
the same two lexemes); a glossary entry applies when all of its lexemes are in the query, in any
order. Each result is a :class:`Signal` with the document frequency that ranking weighs it by.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.orm import Session

from sentinel_db.search.glossary import Glossary

EXPANSION_WEIGHT = 0.6
PAIR_WEIGHT = 0.5
PAIR_REACH = 3  # words this close (stop words between them count) form a pair
K1 = 1.2
# Text split the way the indexed text is (revisions 0020/0021): "/" and "_" separate words.
SPLIT = "regexp_replace({0}, '[/_]+', ' ', 'g')"


@dataclass(frozen=True)
class Signal:
    """One thing a row can match: a lexeme, or words that must stand close together.

    ``match`` is its tsquery text. The document frequency of a group of words is taken as
    that of its rarest word (it cannot be more common), so its idf errs low.
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
class Analysis:
    """The signals of one query against one table, and that table's totals."""

    typed: tuple[str, ...]
    signals: list[Signal]
    docs: int
    avg_length: float


@dataclass(frozen=True)
class _Entry:
    group: int
    lexemes: frozenset[str]
    phrase: str


def quoted(lexeme: str) -> str:
    """``lexeme`` as a tsquery operand."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


# PostgreSQL's English stemmer is the same on every server, so one process stems a glossary once.
_STEMMED: dict[Glossary, tuple[_Entry, ...]] = {}


def stem_glossary(session: Session, glossary: Glossary) -> tuple[_Entry, ...]:
    """The glossary's entries as lexeme sets and phrase queries (once per glossary)."""
    key = glossary
    cached = _STEMMED.get(key)
    if cached is not None:
        return cached
    entries = [(g, e) for g, group in enumerate(glossary.groups) for e in group]
    rows = session.execute(
        text(
            "SELECT e.i, ARRAY(SELECT lexeme FROM unnest(to_tsvector('english', s.txt))),"
            " phraseto_tsquery('english', s.txt)::text"
            f" FROM unnest(CAST(:texts AS text[])) WITH ORDINALITY AS e(raw, i),"
            f" LATERAL (SELECT {SPLIT.format('e.raw')} AS txt) s"
        ),
        {"texts": [e for _, e in entries]},
    ).all()
    stemmed = tuple(
        _Entry(group=entries[i - 1][0], lexemes=frozenset(lexemes), phrase=phrase)
        for i, lexemes, phrase in rows
        if lexemes
    )
    if len(_STEMMED) > 16:
        _STEMMED.clear()
    _STEMMED[key] = stemmed
    return stemmed


def _expansions(entries: Sequence[_Entry], query: frozenset[str]) -> list[_Entry]:
    """Entries equivalent to what the query names, less what it already says."""
    named = [e for e in entries if e.lexemes <= query]
    groups = {e.group for e in named}
    seen: set[frozenset[str]] = set()
    found = []
    for entry in entries:
        if entry.group in groups and not entry.lexemes <= query and entry.lexemes not in seen:
            seen.add(entry.lexemes)
            found.append(entry)
    return found


# The words that rank, with their frequencies; then the whole query (filler included), whose
# lexemes the glossary entries are matched against.
_TYPED_SQL = """
SELECT u.lexeme, u.positions,
       coalesce((SELECT sum(s.df) FROM {terms} s WHERE s.term = u.lexeme), 0) AS df,
       false AS context,
       (SELECT sum(docs) FROM {totals}) AS docs, (SELECT sum(lexemes) FROM {totals}) AS total
FROM unnest(to_tsvector('english', {split})) AS u
UNION ALL
SELECT u.lexeme, u.positions, 0, true, NULL, NULL
FROM unnest(to_tsvector('english', {context})) AS u
"""
_DF_SQL = """
SELECT q.term, coalesce((SELECT sum(s.df) FROM {terms} s WHERE s.term = q.term), 0) AS df
FROM unnest(CAST(:lexemes AS text[])) AS q(term)
"""


def _pairs(rows: Sequence[Any]) -> list[Signal]:
    """Neighbouring typed words, as ``'a' <d> 'b'`` with d their distance in the query."""
    placed = sorted((p, r.lexeme, int(r.df)) for r in rows for p in r.positions)
    pairs: dict[str, Signal] = {}
    for (p1, a, df_a), (p2, b, df_b) in itertools.pairwise(placed):
        if a != b and p2 - p1 <= PAIR_REACH and df_a > 0 and df_b > 0:
            near = "<->" if p2 - p1 == 1 else f"<{p2 - p1}>"
            match = f"{quoted(a)} {near} {quoted(b)}"
            pairs.setdefault(match, Signal(match, PAIR_WEIGHT, min(df_a, df_b)))
    return list(pairs.values())


def analyse(
    session: Session, *, table: Table, text_typed: str, context: str, glossary: Glossary
) -> Analysis:
    """The signals of ``text_typed``, and of the glossary's equivalents of ``context``."""
    from sentinel_db.records.models import SEARCH_STATISTICS

    terms_table, totals_table = SEARCH_STATISTICS[table.name]
    terms = f"{terms_table.schema}.{terms_table.name}"
    found = session.execute(
        text(
            _TYPED_SQL.format(
                split=SPLIT.format(":text"),
                context=SPLIT.format(":context"),
                terms=terms,
                totals=f"{totals_table.schema}.{totals_table.name}",
            )
        ),
        {"text": text_typed, "context": context},
    ).all()
    rows = sorted((r for r in found if not r.context), key=lambda r: (min(r.positions), r.lexeme))
    if not rows:
        return Analysis(typed=(), signals=[], docs=0, avg_length=1.0)
    docs = int(rows[0].docs or 0)
    avg_length = max(1.0, float(rows[0].total or 0) / max(1, docs))
    said = frozenset(r.lexeme for r in found)
    typed = tuple(r.lexeme for r in rows)
    by_lexeme = {r.lexeme: Signal(quoted(r.lexeme), 1.0, int(r.df), r.lexeme) for r in rows}
    signals: list[Signal] = [s for s in by_lexeme.values() if s.df > 0] + _pairs(rows)
    expansions = _expansions(stem_glossary(session, glossary), said)
    wanted = sorted({x for e in expansions for x in e.lexemes} - set(by_lexeme))
    dfs = (
        {
            t: int(d)
            for t, d in session.execute(text(_DF_SQL.format(terms=terms)), {"lexemes": wanted})
        }
        if wanted
        else {}
    )
    dfs.update({t: s.df for t, s in by_lexeme.items()})
    phrases: set[str] = set()
    for entry in expansions:
        counts = [dfs.get(x, 0) for x in entry.lexemes]
        if not all(counts):
            continue
        if len(entry.lexemes) == 1:
            (lexeme,) = entry.lexemes
            if lexeme not in by_lexeme:
                by_lexeme[lexeme] = Signal(quoted(lexeme), EXPANSION_WEIGHT, counts[0], lexeme)
                signals.append(by_lexeme[lexeme])
        elif entry.phrase not in phrases:
            phrases.add(entry.phrase)
            signals.append(Signal(entry.phrase, EXPANSION_WEIGHT, min(counts)))
    return Analysis(typed=typed, signals=signals, docs=docs, avg_length=avg_length)
