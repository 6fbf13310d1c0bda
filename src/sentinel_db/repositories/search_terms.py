"""What a query searches for: its lexemes, neighbouring pairs and glossary equivalents.

PostgreSQL's English configuration stems the query (so ``rotated keys`` and ``key rotation`` are
the same two lexemes); a glossary entry applies when all of its lexemes are in the query, in any
order. An entry some of whose words the English configuration drops (``log in``, ``at rest``,
``turn off``) would otherwise shrink to its other words (``log``, ``rest``, ``turn``), so it is
kept whole: it is named only when the query holds its words in a row, stop words included, and it
matches only rows whose text holds them so (:attr:`Signal.pattern`). Each result is a
:class:`Signal` with the document frequency that ranking weighs it by.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from sentinel_db.records.tables import search_statistics
from sentinel_db.runtime.direct import run
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
    that of its rarest word (it cannot be more common), so its idf errs low. ``pattern``, when
    set, is a regular expression the row's text must also match: the words of a glossary entry
    whose stop words the English configuration drops, in their order.
    """

    match: str
    weight: float
    df: int
    lexeme: str | None = None
    pattern: str | None = None

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
    words: tuple[str, ...] | None = None  # set when the English configuration drops a word

    @property
    def pattern(self) -> str | None:
        """The entry's words in order, as a PostgreSQL regular expression (whole words)."""
        if self.words is None:
            return None
        return "(^|[^[:alnum:]])" + "[^[:alnum:]]+".join(self.words) + "([^[:alnum:]]|$)"

    def named_by(self, lexemes: frozenset[str], words: str) -> bool:
        """Whether a query with these ``lexemes`` (and these ``words``) names this entry."""
        if not self.lexemes <= lexemes:
            return False
        return self.words is None or f" {' '.join(self.words)} " in words


def words_of(text: str) -> tuple[str, ...]:
    """The words of ``text``, lower-cased, as the glossary's verbatim match sees them."""
    return tuple(re.findall(r"[^\W_]+", text.lower()))


def quoted(lexeme: str) -> str:
    """``lexeme`` as a tsquery operand."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


# PostgreSQL's English stemmer is the same on every server, so one process stems a glossary once.
_STEMMED: dict[Glossary, tuple[_Entry, ...]] = {}
# The shipped glossary's stems, made ahead by tests/write_glossary_stems.py and checked against
# the server by the tests: stemming its 600 entries on the server took 20 ms of every new process.
SHIPPED_STEMS = "glossary_stems.json"
_STEMS_SQL = (
    "SELECT e.i, ARRAY(SELECT lexeme FROM unnest(to_tsvector('english', s.txt))),"
    " phraseto_tsquery('english', s.txt)::text,"
    " (SELECT count(*) FROM unnest(to_tsvector('english', s.txt)) u, unnest(u.positions))"
    " < (SELECT count(*) FROM unnest(to_tsvector('simple', s.txt)) u, unnest(u.positions))"
    " AS lossy"
    " FROM unnest(CAST(:texts AS text[])) WITH ORDINALITY AS e(raw, i),"
    f" LATERAL (SELECT {SPLIT.format('e.raw')} AS txt) s"
)
Stems = tuple[tuple[str, ...], str, bool]  # lexemes, phrase query, whether a stop word was lost


def server_stems(session: Any, texts: Sequence[str]) -> dict[str, Stems]:
    """Each of ``texts`` as the server's English configuration reads it."""
    if not texts:
        return {}
    rows = run(session, _STEMS_SQL, {"texts": list(texts)}, action="stem the glossary").all()
    return {
        texts[i - 1]: (tuple(sorted(lexemes)), phrase, bool(lossy))
        for i, lexemes, phrase, lossy in rows
    }


@lru_cache(maxsize=1)
def shipped_stems() -> dict[str, Stems]:
    """The stems of the shipped glossary's entries, as the package carries them."""
    data = json.loads(
        resources.files("sentinel_db.search").joinpath(SHIPPED_STEMS).read_text("utf-8")
    )
    return {
        text: (tuple(lexemes), phrase, lossy) for text, lexemes, phrase, lossy in data["entries"]
    }


def stem_glossary(session: Any, glossary: Glossary) -> tuple[_Entry, ...]:
    """The glossary's entries as lexeme sets and phrase queries (once per glossary).

    An entry is marked verbatim (its ``words`` kept) when its English form holds fewer word
    positions than its words: a stop word was dropped, and the phrase query alone would not
    say where. Entries of the shipped glossary come stemmed with the package; only others
    (a ``SEARCH_GLOSSARY_FILE``'s) are stemmed on the server.
    """
    key = glossary
    cached = _STEMMED.get(key)
    if cached is not None:
        return cached
    entries = [(g, e) for g, group in enumerate(glossary.groups) for e in group]
    stems = shipped_stems()
    missing = list(dict.fromkeys(e for _, e in entries if e not in stems))
    stems = {**stems, **server_stems(session, missing)}
    stemmed = tuple(
        _Entry(
            group=group,
            lexemes=frozenset(stems[text][0]),
            phrase=stems[text][1],
            words=words_of(text) if stems[text][2] else None,
        )
        for group, text in entries
        if stems[text][0]
    )
    if len(_STEMMED) > 16:
        _STEMMED.clear()
    _STEMMED[key] = stemmed
    return stemmed


def _expansions(entries: Sequence[_Entry], query: frozenset[str], text: str) -> list[_Entry]:
    """Entries equivalent to what the query (lexemes ``query``, words ``text``) names, less
    what it already says."""
    words = f" {' '.join(words_of(text))} "
    said = {e for e in entries if e.named_by(query, words)}
    groups = {e.group for e in said}
    seen: set[tuple[frozenset[str], str | None]] = set()
    found = []
    for entry in entries:
        key = (entry.lexemes, entry.pattern)
        if entry.group in groups and entry not in said and key not in seen:
            seen.add(key)
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
    session: Any, *, table: str, text_typed: str, context: str, glossary: Glossary
) -> Analysis:
    """The signals of ``text_typed``, and of the glossary's equivalents of ``context``.

    ``session`` is a SQLAlchemy session or a direct one (:func:`~sentinel_db.runtime.direct.run`).
    """
    terms, totals = search_statistics(table)
    found = run(
        session,
        _TYPED_SQL.format(
            split=SPLIT.format(":text"),
            context=SPLIT.format(":context"),
            terms=terms,
            totals=totals,
        ),
        {"text": text_typed, "context": context},
        action=f"search {table}",
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
    expansions = _expansions(stem_glossary(session, glossary), said, context)
    wanted = sorted({x for e in expansions for x in e.lexemes} - set(by_lexeme))
    dfs = (
        {
            t: int(d)
            for t, d in run(
                session, _DF_SQL.format(terms=terms), {"lexemes": wanted}, action=f"search {table}"
            )
        }
        if wanted
        else {}
    )
    dfs.update({t: s.df for t, s in by_lexeme.items()})
    phrases: set[tuple[str, str | None]] = set()
    for entry in expansions:
        counts = [dfs.get(x, 0) for x in entry.lexemes]
        if not all(counts):
            continue
        if len(entry.lexemes) == 1 and entry.pattern is None:
            (lexeme,) = entry.lexemes
            if lexeme not in by_lexeme:
                by_lexeme[lexeme] = Signal(quoted(lexeme), EXPANSION_WEIGHT, counts[0], lexeme)
                signals.append(by_lexeme[lexeme])
        elif (entry.phrase, entry.pattern) not in phrases:
            phrases.add((entry.phrase, entry.pattern))
            signals.append(
                Signal(entry.phrase, EXPANSION_WEIGHT, min(counts), pattern=entry.pattern)
            )
    return Analysis(typed=typed, signals=signals, docs=docs, avg_length=avg_length)
