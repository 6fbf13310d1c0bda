"""mkdocs hooks for the documentation site (see mkdocs.yml).

The pages are written to read well on GitHub too, where a pipe inside a table cell must be escaped
as ``\\|`` even within a code span. Python-Markdown keeps pipes inside code spans apart by itself
and would show the backslash, so the escape is removed there before the page is rendered.
"""

from __future__ import annotations

import re
from typing import Any

_CODE_SPAN = re.compile(r"`[^`\n]*`")


def _unescape_pipes(span: re.Match[str]) -> str:
    return span.group(0).replace("\\|", "|")


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Drop the ``\\|`` escape inside the code spans of table rows."""
    return "\n".join(
        _CODE_SPAN.sub(_unescape_pipes, line) if line.lstrip().startswith("|") else line
        for line in markdown.split("\n")
    )
