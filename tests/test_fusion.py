"""Score fusion of the lexical and vector rankings (no database needed)."""

from __future__ import annotations

import pytest

from sentinel_db.repositories.hybrid import (
    VECTOR_SHARE,
    WEAK_COVERAGE,
    WEAK_LEXICAL_SHARE,
    combine,
    share_for,
)


def _rounded(fused: list[tuple[str, float, str]]) -> list[tuple[str, float, str]]:
    return [(k, round(s, 3), f) for k, s, f in fused]


def test_each_side_is_divided_by_its_best_and_the_two_averaged() -> None:
    lexical = [("a", 12.0), ("b", 6.0), ("c", 3.0)]
    vector = [("c", 0.80), ("d", 0.60), ("a", 0.40)]
    # a: (12/12 + 0.4/0.8) / 2; c: (3/12 + 1) / 2; b: 6/12 / 2; d: 0.6/0.8 / 2.
    assert _rounded(combine(lexical, vector)) == [
        ("a", 0.75, "both"),
        ("c", 0.625, "both"),
        ("d", 0.375, "vector"),
        ("b", 0.25, "lexical"),
    ]


def test_the_last_candidate_of_a_side_keeps_its_ratio_to_the_best() -> None:
    # Rescaled between best and last, "b" would count 0 for being last of its list; by the best
    # it keeps nine tenths, so a row both sides found ranks above one only the vectors liked.
    lexical = [("a", 10.0), ("b", 9.0)]
    vector = [("c", 0.9), ("b", 0.5)]
    fused = combine(lexical, vector)
    assert [k for k, _, _ in fused] == ["b", "a", "c"]
    assert fused[0][1] == pytest.approx(0.5 * 0.9 + 0.5 * 0.5 / 0.9)


def test_a_row_only_the_lexical_side_found_gets_its_real_similarity() -> None:
    lexical = [("exact", 10.0), ("other", 9.0)]
    vector = [("near", 0.80), ("far", 0.50)]
    # Without it, "exact" has no vector score and the vector leader ties it; with the cosine
    # of its own vector (0.70) it leads, still said to be found lexically.
    without = combine(lexical, vector)
    assert without[0][1] == pytest.approx(without[1][1])
    fused = combine(lexical, vector, similarity={"exact": 0.70, "other": 0.10, "unasked": 0.99})
    assert fused[0][0] == "exact" and fused[0][2] == "lexical"
    assert fused[0][1] == pytest.approx(0.5 + 0.5 * 0.70 / 0.80)
    # A similarity for a row neither side found adds nothing.
    assert "unasked" not in {k for k, _, _ in fused}


def test_a_clear_lexical_lead_survives_a_vector_side_that_disagrees_mildly() -> None:
    lexical = [("exact", 30.0), ("near", 3.0), ("far", 2.0)]
    vector = [("near", 0.61), ("exact", 0.60), ("far", 0.30)]
    assert combine(lexical, vector)[0][0] == "exact"


def test_a_weak_lexical_match_leans_on_the_vectors() -> None:
    assert share_for(0.05) == WEAK_LEXICAL_SHARE > VECTOR_SHARE
    assert share_for(WEAK_COVERAGE - 1e-9) == WEAK_LEXICAL_SHARE
    assert share_for(WEAK_COVERAGE) == VECTOR_SHARE == 0.5
    assert share_for(0.9) == VECTOR_SHARE
    # The lexical leader matched a common word; the vectors' leader is clearly closer.
    lexical = [("common", 4.0), ("meant", 3.2)]
    vector = [("meant", 0.62), ("common", 0.50)]
    assert combine(lexical, vector, vector_share=share_for(0.9))[0][0] == "common"
    assert combine(lexical, vector, vector_share=share_for(0.1))[0][0] == "meant"


def test_the_vector_share_moves_the_balance() -> None:
    lexical = [("a", 2.0), ("b", 1.0)]
    vector = [("b", 0.9), ("a", 0.1)]
    assert combine(lexical, vector, vector_share=0.2)[0][0] == "a"
    assert combine(lexical, vector, vector_share=0.8)[0][0] == "b"


def test_empty_single_and_dissimilar_sides() -> None:
    assert combine([], []) == []
    assert combine([("x", 1.0)], [])[0][1] == pytest.approx(0.5)
    assert combine([], [("y", 0.4)]) == [("y", pytest.approx(0.5), "vector")]
    # No stored vector resembles the question: the vector side adds nothing, never a negative.
    fused = combine([("a", 2.0), ("b", 1.0)], [("b", -0.1), ("c", -0.3)])
    assert _rounded(fused) == [("a", 0.5, "lexical"), ("b", 0.25, "both"), ("c", 0.0, "vector")]
