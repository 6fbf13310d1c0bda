"""Snippets that are faithful to the text they come from.

PostgreSQL's ``ts_headline`` picks the fragments around the matched words, but its fragments may
start or end inside a hyphenated compound (``non-console`` becomes ``console``, reversing the
meaning) and it marks no cut. :func:`faithful_snippet` maps each fragment back onto the original
text, widens it to whole whitespace-separated words, keeps the highlights on the words that
matched, and puts ``…`` wherever text was left out. Stripped of highlights and ``…``, every part
of a snippet is a run of whole words of the original, exactly as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ELLIPSIS = "…"
OPENING_WORDS = 30  # words shown when the headline cannot be placed in the text
SHORT_GAP_WORDS = 3  # a gap this short at either end is shown rather than cut


@dataclass(frozen=True)
class Marks:
    """The strings that open and close a highlight, and the one between fragments."""

    start: str
    stop: str
    delimiter: str


@dataclass
class _Span:
    start: int
    end: int
    highlights: list[tuple[int, int]]


def _plain(fragment: str, marks: Marks) -> tuple[str, list[tuple[int, int]]]:
    """A fragment without its marks, and where the marked words are in that plain text."""
    plain: list[str] = []
    found: list[tuple[int, int]] = []
    length, opened = 0, -1
    # The opening mark is tried first, as a marked word starts with it.
    for piece in re.split(f"({re.escape(marks.start)}|{re.escape(marks.stop)})", fragment):
        if piece == marks.start:
            opened = length
        elif piece == marks.stop:
            if opened >= 0:
                found.append((opened, length))
            opened = -1
        else:
            plain.append(piece)
            length += len(piece)
    return "".join(plain), found


def _widen(text: str, start: int, end: int) -> tuple[int, int]:
    """``start:end`` grown to whole whitespace-separated words of ``text``."""
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return start, end


def _place(text: str, headline: str, marks: Marks) -> list[_Span] | None:
    spans: list[_Span] = []
    searched_from = 0
    for fragment in headline.split(marks.delimiter):
        plain, marked = _plain(fragment, marks)
        lead = len(plain) - len(plain.lstrip())
        core = plain.strip()
        if not core:
            continue
        at = text.find(core, searched_from)
        if at < 0:
            at = text.find(core)
        if at < 0:
            return None
        start, end = _widen(text, at, at + len(core))
        shift = at - lead
        highlights = [(shift + a, shift + b) for a, b in marked if a < b]
        spans.append(_Span(start, end, highlights))
        searched_from = end
    spans.sort(key=lambda s: s.start)
    if spans and len(text[: spans[0].start].split()) <= SHORT_GAP_WORDS:
        spans[0].start = 0
    if spans and len(text[spans[-1].end :].split()) <= SHORT_GAP_WORDS:
        spans[-1].end = len(text)
    merged: list[_Span] = []
    for span in spans:
        if merged and span.start <= merged[-1].end:
            last = merged[-1]
            last.end = max(last.end, span.end)
            last.highlights.extend(span.highlights)
        else:
            merged.append(span)
    return merged


def _render(text: str, spans: list[_Span], marks: Marks) -> str:
    parts: list[str] = []
    content_end = len(text.rstrip())
    content_start = len(text) - len(text.lstrip())
    for index, span in enumerate(spans):
        if index or span.start > content_start:
            parts.append(ELLIPSIS if not parts else f" {ELLIPSIS} ")
        cursor = span.start
        for a, b in sorted(set(span.highlights)):
            if a < cursor or b > span.end:
                continue
            parts.extend((text[cursor:a], marks.start, text[a:b], marks.stop))
            cursor = b
        parts.append(text[cursor : span.end])
    if spans and spans[-1].end < content_end:
        parts.append(ELLIPSIS)
    return "".join(parts)


def opening(text: str, *, words: int = OPENING_WORDS) -> str:
    """The first ``words`` words of ``text``, with ``…`` if more follows."""
    content = text.strip()
    pieces = content.split()
    if len(pieces) <= words:
        return content
    end, seen = 0, 0
    while seen < words:
        while content[end].isspace():
            end += 1
        while end < len(content) and not content[end].isspace():
            end += 1
        seen += 1
    return content[:end] + ELLIPSIS


def faithful_snippet(text: str, headline: str, marks: Marks) -> str:
    """``headline`` (from ``ts_headline``) as whole words of ``text``, cuts shown by ``…``.

    Highlights stay on the words that matched; a headline that cannot be placed in the text
    (which PostgreSQL does not produce, but the text is not ours) gives the text's opening.
    """
    spans = _place(text, headline, marks)
    if not spans:
        return opening(text)
    return _render(text, spans, marks)
