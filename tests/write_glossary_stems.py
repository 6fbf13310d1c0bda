"""Write the shipped glossary's stems (``sentinel_db/search/glossary_stems.json``) from a server.

Run after changing ``glossary.json``; ``tests/test_glossary_stems.py`` fails until the file
matches what PostgreSQL's English configuration makes of every entry:

    .venv/bin/python -m tests.write_glossary_stems postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg

from sentinel_db.repositories.search_terms import SHIPPED_STEMS, server_stems
from sentinel_db.runtime.direct import DirectSession
from sentinel_db.search.glossary import builtin_glossary

ABOUT = (
    "Stems of glossary.json's entries (PostgreSQL 'english'): written by"
    " tests/write_glossary_stems.py, checked by tests/test_glossary_stems.py."
)


def stem_entries(session: Any) -> list[list[Any]]:
    """Every entry of the shipped glossary with the server's stems, as the file lists them."""
    texts = sorted({entry for group in builtin_glossary().groups for entry in group})
    stems = server_stems(session, texts)
    return [[text, list(stems[text][0]), stems[text][1], stems[text][2]] for text in texts]


def main() -> None:
    """Connect to the URL given and write the file."""
    url = sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(url) as conn:
        entries = stem_entries(DirectSession(conn))
    lines = ",\n".join(json.dumps(entry, ensure_ascii=False) for entry in entries)
    text = f'{{\n"about": {json.dumps(ABOUT)},\n"entries": [\n{lines}\n]\n}}\n'  # an entry a line
    target = Path(str(resources.files("sentinel_db.search").joinpath(SHIPPED_STEMS)))
    target.write_text(text, encoding="utf-8")
    print(f"wrote {len(entries)} entries to {target}")


if __name__ == "__main__":
    main()
