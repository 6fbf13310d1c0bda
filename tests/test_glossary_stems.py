"""The glossary's stems shipped with the package are the server's, and only other entries cost a
round trip."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from sqlalchemy.orm import Session

from sentinel_db.repositories import search_terms
from sentinel_db.repositories.search_terms import shipped_stems, stem_glossary
from sentinel_db.runtime.direct import DirectSession
from sentinel_db.search.glossary import Glossary, builtin_glossary
from tests.write_glossary_stems import stem_entries


@pytest.fixture(autouse=True)
def _fresh_cache() -> Any:
    search_terms._STEMMED.clear()
    yield
    search_terms._STEMMED.clear()


def test_the_shipped_stems_are_what_the_server_makes_of_every_entry(session: Session) -> None:
    shipped = sorted([text, list(s[0]), s[1], s[2]] for text, s in shipped_stems().items())
    # On a mismatch: python -m tests.write_glossary_stems URL, and commit the file.
    assert shipped == stem_entries(session)


def test_the_shipped_glossary_is_stemmed_without_asking_the_server(database_url_str: str) -> None:
    conn = psycopg.connect(database_url_str)
    conn.close()  # any statement on it fails
    entries = stem_glossary(DirectSession(conn), builtin_glossary())
    assert len(entries) == sum(len(group) for group in builtin_glossary().groups)
    mfa = {e.phrase for e in entries if e.lexemes == frozenset({"multi", "factor", "authent"})}
    assert mfa


def test_an_entry_the_package_does_not_carry_is_stemmed_on_the_server(session: Session) -> None:
    extra = builtin_glossary() + Glossary.from_groups([["zorblax gadgets", "hardware tokens"]])
    entries = stem_glossary(session, extra)
    lexemes = {e.lexemes for e in entries}
    assert frozenset({"zorblax", "gadget"}) in lexemes
    assert frozenset({"hardwar", "token"}) in lexemes
    assert "zorblax gadgets" not in shipped_stems()
