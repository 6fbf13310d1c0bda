"""Glossary entries of several words match as phrases, stop words included, and never shrink."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from sentinel_db import PciControlRepository
from sentinel_db.repositories.search_terms import analyse, stem_glossary, words_of
from sentinel_db.search.glossary import Glossary, builtin_glossary
from tests.data_helpers import read_csv

SAMPLE_CONTROLS = (
    Path(__file__).resolve().parents[1]
    / "src/sentinel_db/sample_data/pci_dss_v4/database_import/pci_dss_controls.csv"
)
SIGN_IN = Glossary.from_groups([["authentication", "log in", "sign in"]])


def _control(control_id: str, chunk: str) -> dict[str, object]:
    return {"control_id": control_id, "requirement": "Access", "chunk": chunk, "metadata": {}}


def _lost_words(session: Session, entry: str) -> list[str]:
    """The words of ``entry`` that PostgreSQL's English configuration drops (stop words)."""
    return [
        word
        for word in words_of(entry)
        if session.execute(
            text("SELECT to_tsvector('english', :w) = ''::tsvector"), {"w": word}
        ).scalar_one()
    ]


def test_no_shipped_glossary_entry_loses_a_word_in_its_analysed_form(session: Session) -> None:
    glossary = builtin_glossary()
    stemmed = stem_glossary(session, glossary)
    raw = [e for group in glossary.groups for e in group]
    lossy: dict[str, list[str]] = {}
    for entry in raw:
        lost = _lost_words(session, entry)
        if not lost:
            continue
        kept = [s for s in stemmed if s.words == words_of(entry) and s.pattern is not None]
        pattern = kept[0].pattern if kept else None
        # Kept whole: its pattern names every word in order and matches the entry itself.
        whole = (
            pattern is not None
            and session.execute(
                text("SELECT lower(:e) ~ :p"), {"e": entry, "p": pattern}
            ).scalar_one()
        )
        if not whole or not all(word in (pattern or "") for word in lost):
            lossy.setdefault(entry, lost)
    assert lossy == {}, f"glossary entries that lose a word when analysed: {lossy}"
    # The check has something to check: the shipped glossary does hold such entries.
    assert sum(1 for e in raw if _lost_words(session, e)) > 20


def test_an_entry_of_several_words_never_becomes_a_single_word_signal(session: Session) -> None:
    PciControlRepository(session).upsert_many(
        [_control("8.1", "Users log in with a password."), _control("10.1", "Review all logs.")]
    )
    table = PciControlRepository.search_source.name
    found = analyse(
        session,
        table=table,
        text_typed="authentication",
        context="authentication",
        glossary=SIGN_IN,
    )
    single = [s.lexeme for s in found.signals if s.lexeme is not None]
    assert "log" not in single and "sign" not in single
    verbatim = [s for s in found.signals if s.pattern is not None]
    assert {s.match for s in verbatim} == {"'log'"}  # "sign in": no row holds 'sign'


def test_a_phrase_with_a_stop_word_matches_only_that_phrase(session: Session) -> None:
    PciControlRepository(session).upsert_many(
        [
            _control("8.1", "Users log in with a unique ID."),
            _control("8.2", "Each user must Log-In before any access."),
            _control("10.1", "Review security logs daily."),
            _control("10.2", "Log every event; in addition keep a backlog in order."),
            _control("10.3", "Keep the logs of the backlog in the queue."),
        ]
    )
    repo = PciControlRepository(session)
    hits = repo.search("authentication", 10, glossary=SIGN_IN)
    assert [h.record.control_id for h in hits] == ["8.1", "8.2"]
    # Only the phrase marks nothing else: no snippet highlights a log word on its own.
    assert not any(re.search("«[Ll]og", h.snippet) for h in hits)


def test_a_query_names_an_entry_with_a_stop_word_only_as_that_phrase(session: Session) -> None:
    PciControlRepository(session).upsert_many(
        [
            _control("8.1", "Strong authentication for all users."),
            _control("10.1", "Audit logs are kept for a year."),
        ]
    )
    repo = PciControlRepository(session)
    # "logs" holds the lexeme of "log in" but not the phrase: no authentication equivalents.
    assert [
        h.record.control_id for h in repo.search("how long are logs kept", glossary=SIGN_IN)
    ] == ["10.1"]

    # The phrase itself names the group.
    def rank(query: str) -> float:
        return {h.record.control_id: h.rank for h in repo.search(query, glossary=SIGN_IN)}["8.1"]

    # The phrase itself names the group: "in" adds authentication's weight to 8.1.
    assert rank("users who log in") > rank("users who log")


def test_authentication_on_the_bundled_v4_controls_does_not_reach_the_logging_controls(
    session: Session,
) -> None:
    PciControlRepository(session).upsert_many(read_csv(SAMPLE_CONTROLS))
    hits = PciControlRepository(session).search("authentication", 10)
    assert hits, "the sample holds authentication controls"
    assert all(h.record.control_id.split(".")[0] == "8" for h in hits[:3])
    assert not any(re.search("«[Ll]og", h.snippet) for h in hits)
    assert not any(h.record.control_id.startswith("10.") for h in hits)
