"""Snippets are runs of whole words of the row's text, with every cut shown by ``…``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from sentinel_db import AwsConfigRuleRepository, PciControlRepository
from sentinel_db.repositories import PciAwsConfigMappingRepository
from sentinel_db.search.snippets import ELLIPSIS, Marks, faithful_snippet, opening
from tests.data_helpers import read_csv

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE = REPO_ROOT / "src" / "sentinel_db" / "sample_data"
QUESTIONS = json.loads((REPO_ROOT / "bench" / "search_questions.json").read_text("utf-8"))
MARKS = Marks(start="«", stop="»", delimiter="|")


def _pieces(snippet: str) -> list[str]:
    """The runs of original text in a snippet: highlights removed, split at each ``…``."""
    plain = snippet.replace(MARKS.start, "").replace(MARKS.stop, "")
    return [piece.strip() for piece in plain.split(ELLIPSIS) if piece.strip()]


def _at_word_boundaries(text: str, piece: str) -> bool:
    pattern = r"(?:^|(?<=\s))" + re.escape(piece) + r"(?=\s|$)"
    return re.search(pattern, text) is not None


def _unfaithful(text: str, snippet: str) -> str | None:
    """Why ``snippet`` misrepresents ``text``, or None."""
    pieces = _pieces(snippet)
    if not pieces:
        return "empty snippet"
    for piece in pieces:
        if not _at_word_boundaries(text, piece):
            return f"{piece!r} is not whole words of the text"
    plain = snippet.replace(MARKS.start, "").replace(MARKS.stop, "")
    if not plain.startswith(ELLIPSIS) and not text.strip().startswith(pieces[0]):
        return "text before the snippet was left out without …"
    if not plain.endswith(ELLIPSIS) and not text.strip().endswith(pieces[-1]):
        return "text after the snippet was left out without …"
    return None


def test_a_fragment_starting_inside_a_hyphenated_compound_takes_the_whole_compound() -> None:
    text = (
        "All non-console administrative access is encrypted using strong cryptography, as set out."
    )
    headline = "«console» administrative «access» is encrypted"

    snippet = faithful_snippet(text, headline, MARKS)

    assert snippet == "All non-«console» administrative «access» is encrypted…"


def test_a_fragment_ending_before_the_end_shows_the_cut() -> None:
    text = "Audit logs are kept as required by Requirement 10.7.1. Review them daily and weekly."
    snippet = faithful_snippet(text, "Audit «logs» are kept as required by Requirement", MARKS)

    assert snippet == "Audit «logs» are kept as required by Requirement…"


def test_two_fragments_are_joined_by_an_ellipsis_and_keep_their_highlights() -> None:
    text = "One two three four five six seven eight nine ten eleven twelve thirteen 14 15 16."
    snippet = faithful_snippet(text, "«four» five|«ten» eleven", MARKS)

    assert snippet == "One two three «four» five … «ten» eleven…"


def test_a_headline_that_cannot_be_placed_gives_the_opening_of_the_text() -> None:
    text = " ".join(f"w{i}" for i in range(50))

    assert faithful_snippet(text, "nothing like it", MARKS) == opening(text)
    assert opening(text).endswith("w29" + ELLIPSIS)


def _load(session: Session, controls: Path, rules: Path, mappings: Path) -> None:
    PciControlRepository(session).upsert_many(read_csv(controls))
    AwsConfigRuleRepository(session).upsert_many(read_csv(rules))
    PciAwsConfigMappingRepository(session).upsert_many(read_csv(mappings))


@pytest.fixture(params=["sample", pytest.param("pci-dss-3.2.1", marks=pytest.mark.shared_data)])
def data_set(request: pytest.FixtureRequest, session: Session) -> Session:
    if request.param == "sample":
        _load(
            session,
            SAMPLE / "pci_dss_v4" / "database_import" / "pci_dss_controls.csv",
            SAMPLE / "aws_config_guidance" / "aws_config_rules_guidance.csv",
            SAMPLE / "pci_aws_config_rule_mapping" / "pci_aws_config_rule_mapping.csv",
        )
    else:
        folder: Path = request.getfixturevalue("shared_data")
        _load(
            session,
            folder / "pci_dss_controls.csv",
            folder / "aws_config_rules_guidance.csv",
            folder / "pci_aws_config_rule_mapping.csv",
        )
    return session


def test_every_snippet_of_every_question_is_whole_words_of_its_row(data_set: Session) -> None:
    controls = PciControlRepository(data_set)
    rules = AwsConfigRuleRepository(data_set)
    questions = sorted({q["question"] for q in QUESTIONS})
    checked, problems = 0, []
    for question in questions:
        hits: list[Any] = [*controls.search(question, 1000), *rules.search(question, 1000)]
        for hit in hits:
            checked += 1
            why = _unfaithful(hit.record.chunk, hit.snippet)
            if why:
                problems.append(f"{question!r}: {why}\n  snippet: {hit.snippet}")
    assert checked > len(questions)
    assert not problems, f"{len(problems)} of {checked} snippets:\n" + "\n".join(problems[:10])


def test_a_hit_found_only_by_its_vector_shows_whole_words_of_its_row(data_set: Session) -> None:
    from sentinel_db.repositories.hybrid import excerpt

    # A long text whose 30th word is a hyphenated compound, with runs of spaces and a newline.
    long = " ".join(f"word{i}" for i in range(29)) + " non-console  access\nis encrypted " * 3
    texts = [long, *(c.chunk for c in PciControlRepository(data_set).iter_all())]
    texts += [r.chunk for r in AwsConfigRuleRepository(data_set).iter_all()]
    problems = [(t[:60], why) for t in texts if (why := _unfaithful(t, excerpt(t)))]
    assert not problems, problems[:5]
    assert excerpt(long).endswith("non-console" + ELLIPSIS)
