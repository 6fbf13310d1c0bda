"""Search is exact, and says so, up to 10,000 rows; above that the candidate cap may apply.

The reference is the brute-force ranking: the same scores computed for every row that matches
any query word (what search does at or below 10,000 rows), whatever the table's size.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from sentinel_db import PciControlRepository
from sentinel_db.repositories import search as search_module
from sentinel_db.search.glossary import Glossary

NO_GLOSSARY = Glossary.from_groups([])
# Word frequencies over n rows: alpha in all, beta in a third, gamma in 1 in 40, delta in 1 in
# 400, and "wN" tags of 1 in 997 rows each; some rows say a word twice, so scores differ.
_ROWS = """
INSERT INTO pci_dss_controls (control_id, requirement, chunk, metadata)
SELECT 'T.' || i, 'Requirement ' || (i % 7),
       'alpha ' || CASE WHEN i % 3 = 0 THEN 'beta ' ELSE '' END
       || CASE WHEN i % 40 = 0 THEN 'gamma ' ELSE '' END
       || CASE WHEN i % 400 = 0 THEN 'delta delta ' ELSE '' END
       || CASE WHEN i % 11 = 0 THEN 'alpha ' ELSE '' END
       || 'w' || (i % 997),
       '{}'::jsonb
FROM generate_series(CAST(:start AS int), CAST(:stop AS int)) AS i
"""
QUERIES = ["alpha", "beta gamma", "gamma delta", "alpha delta", "delta w5", "beta w17 w18"]


def _rows(session: Session, start: int, stop: int) -> None:
    session.execute(text(_ROWS), {"start": start, "stop": stop})


def _ranked(session: Session, query: str) -> tuple[list[tuple[str, float]], bool]:
    result = PciControlRepository(session).search_results(query, 25, glossary=NO_GLOSSARY)
    return [(h.record.control_id, round(h.rank, 9)) for h in result.hits], result.exact


def _brute_force(
    session: Session, query: str, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[str, float]]:
    with monkeypatch.context() as patched:
        patched.setattr(search_module, "EXACT_ROWS", 10**9)  # score every matching row
        hits, exact = _ranked(session, query)
    assert exact
    return hits


def test_up_to_10000_rows_every_search_is_exact_and_equals_the_brute_force_ranking(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _rows(session, 1, search_module.EXACT_ROWS)
    for query in QUERIES:
        hits, exact = _ranked(session, query)
        assert exact, query
        assert hits == _brute_force(session, query, monkeypatch), query


def test_above_10000_rows_the_cap_applies_and_exact_is_true_only_when_it_is(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _rows(session, 1, 12_000)
    outcomes = {}
    for query in QUERIES:
        hits, exact = _ranked(session, query)
        outcomes[query] = exact
        if exact:
            assert hits == _brute_force(session, query, monkeypatch), query
    # "alpha" matches all 12,000 rows: more than the 4,000 gathered, so it cannot be exact.
    assert outcomes["alpha"] is False
    matched = PciControlRepository(session).search_results("alpha", 5, glossary=NO_GLOSSARY)
    assert matched.matched == search_module.CANDIDATE_CAP
    # Rare words are gathered whole: exact, and equal to the brute force above.
    assert outcomes["gamma delta"] is True and outcomes["delta w5"] is True
    # The same 12,000 rows under the exhaustive path agree wherever exact was claimed, and the
    # capped result really differs from the brute force (so the flag is needed).
    hits, _ = _ranked(session, "alpha")
    assert hits != _brute_force(session, "alpha", monkeypatch)
