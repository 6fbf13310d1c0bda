"""Score fusion of the lexical and vector rankings (no database needed)."""

from __future__ import annotations

import pytest

from sentinel_db.repositories.hybrid import combine


def test_each_side_is_rescaled_to_its_own_range_and_averaged() -> None:
    lexical = [("a", 12.0), ("b", 7.0), ("c", 2.0)]
    vector = [("c", 0.80), ("d", 0.60), ("a", 0.40)]
    fused = combine(lexical, vector)
    assert [(k, round(s, 3), f) for k, s, f in fused] == [
        ("a", 0.5, "both"),
        ("c", 0.5, "both"),
        ("b", 0.25, "lexical"),
        ("d", 0.25, "vector"),
    ]


def test_a_clear_lexical_lead_survives_a_vector_side_that_disagrees_mildly() -> None:
    lexical = [("exact", 30.0), ("near", 3.0), ("far", 2.0)]
    vector = [("near", 0.61), ("exact", 0.60), ("far", 0.30)]
    assert combine(lexical, vector)[0][0] == "exact"


def test_the_vector_share_moves_the_balance() -> None:
    lexical = [("a", 2.0), ("b", 1.0)]
    vector = [("b", 0.9), ("a", 0.1)]
    assert combine(lexical, vector, vector_share=0.2)[0][0] == "a"
    assert combine(lexical, vector, vector_share=0.8)[0][0] == "b"
    assert combine([], []) == []
    assert combine([("x", 1.0)], [])[0][1] == pytest.approx(0.5)
