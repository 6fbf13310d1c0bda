"""What a search query asks for: free words, quoted phrases, excluded words and named keys.

Questions are matched on any of their words (ranking decides), so web-search syntax is read as
filters on top: a ``"quoted phrase"`` must occur, a ``-word`` must not, and ``or`` is simply a
word the text search ignores. Control ids (``8.3.6``, ``A3.2.1``) and AWS Config rule names
(``s3-bucket-public-read-prohibited``) are picked out so that the row they name comes first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_QUERY_CHARS = 2000

_PHRASE = re.compile(r'"([^"]*)"')
_EXCLUDED = re.compile(r"(?:(?<=\s)|^)-([^\s\"-][^\s\"]*)")
# No part of a control id is 0 or starts with 0: that tells ``10.0.0.1`` and ``0.0.0.0/0`` (network
# addresses, common in questions about firewall rules) from ids.
_ID_PART = r"[1-9]\d?"
_CONTROL_ID = re.compile(
    rf"(?<![\w.])((?:[Aa]{_ID_PART}(?:\.{_ID_PART}){{0,3}})|(?:{_ID_PART}(?:\.{_ID_PART}){{1,3}}))"
    r"(?![\w.]*\w)(?!/)"
)
_RULE_NAME = re.compile(r"(?<![\w-])([a-z0-9]+(?:-[a-z0-9]+){2,})(?![\w-])")
# Words that carry the shape of a question, not its topic, and that PostgreSQL's English stop
# list keeps. They would otherwise look rare (and so important) in reference text.
FILLER_WORDS = frozenset(
    [
        "pci",
        "dss",
        "requirement",
        "requirements",
        "require",
        "requires",
        "required",
        "must",
        "often",
        "frequently",
        "tell",
        "explain",
        "please",
        "mean",
        "means",
        "meaning",
        "way",
        "thing",
        "things",
        "kind",
        "sort",
        "exactly",
        "really",
        "supposed",
        "anything",
        "something",
        "everything",
        "someone",
        "anyone",
        "many",
        "much",
        "let",
        "want",
    ]
)


@dataclass(frozen=True)
class ParsedQuery:
    """A query taken apart: ``words`` rank, ``phrases`` and ``excluded`` filter."""

    text: str
    words: str
    phrases: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    control_ids: tuple[str, ...] = ()
    rule_names: tuple[str, ...] = ()
    fillers: tuple[str, ...] = field(default=())

    @property
    def glossary_text(self) -> str:
        """What the glossary looks at: the query as typed, less the excluded words."""
        return _EXCLUDED.sub(" ", self.text.replace('"', " "))

    @property
    def ranking_text(self) -> str:
        """Everything that ranks: the free words and the words of each phrase."""
        return " ".join((self.words, *self.phrases)).strip()


def _clean(text: str) -> str:
    # NUL bytes cannot reach PostgreSQL; other control characters are just separators.
    return "".join(ch if ch.isprintable() else " " for ch in text)


def parse_query(text: str) -> ParsedQuery:
    """Take ``text`` apart; long input is cut at :data:`MAX_QUERY_CHARS` characters."""
    cleaned = _clean(text)[:MAX_QUERY_CHARS]
    phrases = tuple(p.strip() for p in _PHRASE.findall(cleaned) if p.strip())
    rest = _PHRASE.sub(" ", cleaned).replace('"', " ")
    excluded = tuple(_EXCLUDED.findall(rest))
    rest = _EXCLUDED.sub(" ", rest)
    fillers: list[str] = []
    kept: list[str] = []
    for word in rest.split():
        if word.lower().strip("?!.,;:()") in FILLER_WORDS:
            fillers.append(word)
        else:
            kept.append(word)
    scan = " ".join((*kept, *phrases))
    control_ids = tuple(dict.fromkeys(m.upper() for m in _CONTROL_ID.findall(scan)))
    rule_names = tuple(dict.fromkeys(_RULE_NAME.findall(scan.lower())))
    return ParsedQuery(
        text=cleaned,
        words=" ".join(kept),
        phrases=phrases,
        excluded=excluded,
        control_ids=control_ids,
        rule_names=rule_names,
        fillers=tuple(fillers),
    )
