"""Fitting text to a terminal without cutting what must stay whole.

Text is broken only at spaces: keys, rule names and numbers are never split, and a date with its
time (``2026-12-06 19:40``) counts as one word. A column is never narrower than its longest
word; what still does not fit is stacked (``key: value`` lines) rather than cut. Highlight
marks (``«`` ``»``) take no room on screen, so they are not counted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rich.markup import escape

_DATE_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}(?::\d{2})?)")
_GLUE = "\u00a0"  # joins a date to its time while words are counted; a space again on screen
_SPACES = re.compile(r"[ \t\r\n\f\v]+")  # not str.split(): that would split at the glue too
MIN_WRAPPED = 24  # a column narrower than this would read as a word per line
ELLIPSIS = "…"


def visible(text: str, marks: tuple[str, str] | None = None) -> int:
    """Columns ``text`` takes on screen (highlight marks take none)."""
    if marks is None:
        return len(text)
    return len(text) - text.count(marks[0]) - text.count(marks[1])


def words(text: str) -> list[str]:
    """The pieces of ``text`` that are never broken (a date and its time are one)."""
    return [w for w in _SPACES.split(_DATE_TIME.sub(rf"\1{_GLUE}\2", text)) if w]


def longest_word(text: str, marks: tuple[str, str] | None = None) -> int:
    """The width of the widest piece of ``text`` that is never broken."""
    return max((visible(w, marks) for w in words(text)), default=0)


def wrap(text: str, width: int, marks: tuple[str, str] | None = None) -> list[str]:
    """``text`` in lines of at most ``width`` columns, broken only at spaces.

    A word wider than ``width`` gets a line of its own, whole.
    """
    lines: list[str] = []
    line: list[str] = []
    used = 0
    for word in words(text):
        size = visible(word, marks)
        if line and used + 1 + size > width:
            lines.append(" ".join(line))
            line, used = [], 0
        used += size + (1 if line else 0)
        line.append(word)
    if line:
        lines.append(" ".join(line))
    return [line.replace(_GLUE, " ") for line in lines] or [""]


def cut_at_word(text: str, limit: int) -> str:
    """``text`` cut after the last whole word within ``limit`` columns, with ``…``."""
    if len(text) <= limit:
        return text
    kept: list[str] = []
    used = 0
    for word in words(text):
        if kept and used + 1 + len(word) + 1 > limit:
            break
        kept.append(word)
        used += len(word) + (1 if len(kept) > 1 else 0)
    return " ".join(kept).replace(_GLUE, " ") + ELLIPSIS


def styled(line: str, marks: tuple[str, str] | None, style: str = "bold yellow") -> str:
    """``line`` as rich markup: the text escaped, highlights styled (closed at the line end)."""
    if marks is None:
        return escape(line)
    start, stop = marks
    parts: list[str] = []
    opened = False
    for piece in re.split(f"({re.escape(start)}|{re.escape(stop)})", line):
        if piece == start and not opened:
            parts.append(f"[{style}]")
            opened = True
        elif piece == stop and opened:
            parts.append(f"[/{style}]")
            opened = False
        elif piece not in (start, stop):
            parts.append(escape(piece))
    if opened:
        parts.append(f"[/{style}]")
    return "".join(parts)


def fit_widths(
    natural: Sequence[int], floors: Sequence[int], *, available: int, overhead: int
) -> list[int] | None:
    """Column widths that fit ``available`` columns, or None when even the floors do not.

    The widest columns give up room first, down to their floor (their longest word, or
    :data:`MIN_WRAPPED` for a column that has to wrap).
    """
    floors = [
        n if n <= MIN_WRAPPED else max(f, MIN_WRAPPED) for n, f in zip(natural, floors, strict=True)
    ]
    if sum(floors) + overhead > available:
        return None
    widths = list(natural)
    excess = sum(widths) + overhead - available
    while excess > 0:
        spare = [(w - f, i) for i, (w, f) in enumerate(zip(widths, floors, strict=True)) if w > f]
        if not spare:
            return None
        widths[max(spare)[1]] -= 1
        excess -= 1
    return widths


def block_lines(
    pairs: Sequence[tuple[str, str]], *, width: int, marks: tuple[str, str] | None = None
) -> list[str]:
    """``name: value`` lines, names aligned, values wrapped under themselves (as markup)."""
    key_width = max((len(name) for name, _ in pairs), default=0)
    room = max(20, width - key_width - 2)
    lines: list[str] = []
    for name, value in pairs:
        wrapped = wrap(value, room, marks)
        lines.append(f"{escape(name.rjust(key_width))}: {styled(wrapped[0], marks)}")
        lines.extend(" " * (key_width + 2) + styled(more, marks) for more in wrapped[1:])
    return lines
