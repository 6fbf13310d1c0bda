"""Vectors through the repositories: nearest rows, similar_to, upserts and hybrid search."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from sentinel_db import retrieve
from sentinel_db.errors import DataValidationError, NotFoundError, UsageError
from sentinel_db.repositories import AwsConfigRuleRepository, PciControlRepository
from sentinel_db.repositories.hybrid import FUSION_DEPTH, RRF_K, fuse, share_for
from sentinel_db.repositories.stats import vector_stats
from sentinel_db.repositories.vectors import VectorStore
from sentinel_db.search.glossary import Glossary
from tests.vectors.helpers import CONTROLS, blend, seed_text, vector

MODEL = "test-minilm"


def _store(session: Session, dims: int, model: str = MODEL) -> dict[str, list[float]]:
    seed_text(session)
    vectors = {key: vector(i, dims) for i, key in enumerate(CONTROLS)}
    PciControlRepository(session).upsert_embeddings(vectors, model=model)
    return vectors


@pytest.mark.parametrize("dims", [8, 384], ids=["exact-scan", "hnsw-index"])
def test_a_query_equal_to_a_stored_vector_ranks_that_row_first(session: Session, dims: int) -> None:
    vectors = _store(session, dims)
    repo = PciControlRepository(session)
    for key, values in vectors.items():
        hits = repo.search("", 3, embedding=values, model=MODEL)
        assert hits[0].record.control_id == key
        assert hits[0].found_by == "vector"


def test_similar_to_orders_rows_by_closeness_and_leaves_the_row_itself_out(
    session: Session,
) -> None:
    seed_text(session)
    base = vector(100, 16)
    far = vector(200, 16)
    repo = PciControlRepository(session)
    repo.upsert_embeddings(
        {
            "1.1": base,
            "1.2": blend(base, far, 0.1),
            "3.4": blend(base, far, 0.5),
            "8.3": far,
        },
        model=MODEL,
    )
    hits = repo.similar_to("1.1", 3)
    assert [h.record.control_id for h in hits] == ["1.2", "3.4", "8.3"]
    assert hits[0].rank > hits[1].rank > hits[2].rank
    assert all(h.found_by == "vector" for h in hits)
    with pytest.raises(NotFoundError, match=r"8\.4"):
        repo.similar_to("8.4", 3)


def test_reciprocal_rank_fusion_matches_a_hand_computed_order() -> None:
    # lexical: a b c ; vector: c d a. With k = 60:
    # a = 1/61 + 1/63 = 0.032266, c = 1/63 + 1/61 = same as a, b = 1/62, d = 1/62.
    # Ties break by key: a, c (both sides), then b (lexical), d (vector).
    fused = fuse(["a", "b", "c"], ["c", "d", "a"])
    assert [(k, f) for k, _, f in fused] == [
        ("a", "both"),
        ("c", "both"),
        ("b", "lexical"),
        ("d", "vector"),
    ]
    assert fused[0][1] == pytest.approx(1 / (RRF_K + 1) + 1 / (RRF_K + 3))
    assert fused[2][1] == pytest.approx(1 / (RRF_K + 2))
    # A weight tips the balance: the vector side counted double puts d above b.
    weighted = fuse(["a", "b", "c"], ["c", "d", "a"], weights=(1.0, 2.0))
    assert [k for k, _, _ in weighted] == ["c", "a", "d", "b"]


def test_hybrid_search_fuses_both_sides_and_says_which_found_each_hit(
    session: Session,
) -> None:
    vectors = _store(session, 8)
    repo = PciControlRepository(session)
    # Without a glossary "authentication" matches 8.3 and 8.4 lexically; the query vector is
    # 10.2's own.
    bare = Glossary.from_groups([])
    hits = repo.search("authentication", 10, embedding=vectors["10.2"], model=MODEL, glossary=bare)
    by_key = {h.record.control_id: h for h in hits}
    # Each side's best scores 1 on its side: 10.2, found by its vector alone, gets half; the
    # lexical leader gets half and what its own vector adds, so the two lead together.
    assert by_key["10.2"].rank == pytest.approx(0.5)
    leader = max(("8.3", "8.4"), key=lambda k: by_key[k].rank)
    assert by_key[leader].rank >= 0.5
    assert {h.record.control_id for h in hits[:2]} == {"10.2", leader}
    assert by_key["8.3"].found_by == "both" or by_key["8.4"].found_by == "both"
    assert by_key["10.2"].found_by == "vector"
    assert "«" in by_key["8.4"].snippet  # lexical hits keep their highlighted snippet
    assert by_key["10.2"].snippet.startswith("Audit logs")
    ranks = [h.rank for h in hits]
    assert ranks == sorted(ranks, reverse=True)
    # The shipped glossary's "log in" and "log on" are phrases: "authentication" does not reach
    # the audit-log control lexically, so only the vector side finds it.
    default = repo.search("authentication", 10, embedding=vectors["10.2"], model=MODEL)
    found = {h.record.control_id: h for h in default}
    assert found["10.2"].found_by == "vector"
    top = {h.record.control_id: h.found_by for h in default[:2]}
    assert top.pop("10.2") == "vector"
    assert set(top) <= {"8.3", "8.4"} and list(top.values()) == ["both"]


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (sum(x * x for x in a) ** 0.5 * sum(y * y for y in b) ** 0.5)


def test_similarities_are_the_cosines_of_the_stored_vectors_asked_for(session: Session) -> None:
    vectors = _store(session, 8)
    store = VectorStore(session, "pci_dss_controls")
    query = vectors["3.4"]
    found = store.similarities(query, ["3.4", "8.3", "9.9"], model=MODEL)
    assert set(found) == {"3.4", "8.3"}  # 9.9 has no vector
    assert found["3.4"] == pytest.approx(1.0, abs=1e-5)
    assert found["8.3"] == pytest.approx(_cosine(query, vectors["8.3"]), abs=1e-5)
    nearest = dict(store.nearest(query, model=MODEL, limit=len(CONTROLS)))
    assert found["8.3"] == pytest.approx(nearest["8.3"], abs=1e-6)
    assert store.similarities(query, [], model=MODEL) == {}
    assert store.similarities(query, ["8.3"], model="other-model") == {}


def test_a_row_found_lexically_only_is_fused_with_its_own_similarity(session: Session) -> None:
    seed_text(session)
    query = vector(500, 8)
    # More rows close to the question than the vector side ranks, none of them matching a word:
    # 3.4 matches "unreadable" but its vector is farther, so only the lexical side finds it.
    fillers = {f"F.{i}": blend(query, vector(600 + i, 8), 0.05) for i in range(FUSION_DEPTH + 4)}
    repo = PciControlRepository(session)
    repo.upsert_many(
        [
            {"control_id": k, "requirement": "Filler", "chunk": f"Filler {k}", "metadata": {}}
            for k in fillers
        ]
    )
    own = blend(query, vector(700, 8), 0.5)
    repo.upsert_embeddings({**fillers, "3.4": own}, model=MODEL)
    lexical = repo.search_results("unreadable", 20)
    coverage = lexical.hits[0].rank / lexical.ceiling
    assert 0 < coverage < 1
    best = max(_cosine(query, v) for v in fillers.values())
    share = share_for(coverage)
    hits = repo.search("unreadable", 10, embedding=query, model=MODEL)
    [hit] = [h for h in hits if h.record.control_id == "3.4"]
    assert hit.found_by == "lexical"
    assert hit.rank == pytest.approx((1 - share) + share * _cosine(query, own) / best, abs=1e-4)


class _FixedEmbedder:
    """An Embedder for the test: every text maps to one chosen vector."""

    def __init__(self, values: Sequence[float]) -> None:
        self.values = list(values)
        self.seen: list[str] = []

    @property
    def model(self) -> str:
        return MODEL

    def embed(self, text: str) -> Sequence[float]:
        self.seen.append(text)
        return self.values


def test_an_embedder_handed_to_search_embeds_the_question_itself(session: Session) -> None:
    vectors = _store(session, 8)
    embedder = _FixedEmbedder(vectors["3.4"])
    hits = PciControlRepository(session).search("unreadable", 5, embedding=embedder)
    assert embedder.seen == ["unreadable"]
    assert hits[0].record.control_id == "3.4" and hits[0].found_by == "both"


def test_retrieve_with_an_embedder_fuses_and_keeps_the_mapped_rules(session: Session) -> None:
    vectors = _store(session, 8)
    embedder = _FixedEmbedder(vectors["3.4"])
    answer = retrieve(session, "make stored card numbers unreadable", 3, embedding=embedder)
    assert embedder.seen == ["make stored card numbers unreadable"]
    assert answer.controls[0].control.control_id == "3.4"
    assert answer.controls[0].found_by == "both"
    assert answer.matched >= 1 and answer.terms
    lexical = retrieve(session, "make stored card numbers unreadable", 3)
    assert all(c.found_by == "lexical" for c in lexical.controls)


def test_upsert_embeddings_counts_and_is_idempotent(session: Session) -> None:
    seed_text(session)
    repo = AwsConfigRuleRepository(session)
    first = repo.upsert_embeddings({"restricted-ssh": vector(1, 4)}, model=MODEL)
    again = repo.upsert_embeddings({"restricted-ssh": vector(1, 4)}, model=MODEL)
    changed = repo.upsert_embeddings(
        [("restricted-ssh", vector(2, 4)), ("iam-password-policy", vector(3, 4))], model=MODEL
    )
    assert (first.inserted, first.updated, first.unchanged) == (1, 0, 0)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 1)
    assert (changed.inserted, changed.updated, changed.unchanged) == (1, 1, 0)
    assert repo.similar_to("restricted-ssh", 1)[0].record.config_rule == "iam-password-policy"


def test_upsert_embeddings_refuses_bad_vectors_unknown_keys_and_a_second_dimension(
    session: Session,
) -> None:
    seed_text(session)
    repo = PciControlRepository(session)
    repo.upsert_embeddings({"1.1": vector(1, 4)}, model=MODEL)
    with pytest.raises(DataValidationError, match="one dimension"):
        repo.upsert_embeddings({"1.2": vector(1, 5)}, model=MODEL)
    with pytest.raises(DataValidationError, match="not a finite"):
        repo.upsert_embeddings({"1.2": [1.0, float("nan"), 0.0, 0.0]}, model=MODEL)
    with pytest.raises(NotFoundError, match=r"9\.9"):
        repo.upsert_embeddings({"9.9": vector(1, 4)}, model=MODEL)
    with pytest.raises(DataValidationError, match="empty"):
        repo.search("firewalls", 3, embedding=[], model=MODEL)


def test_model_may_be_left_out_only_when_one_model_has_that_dimension(
    session: Session,
) -> None:
    vectors = _store(session, 8)
    repo = PciControlRepository(session)
    assert repo.search("", 1, embedding=vectors["1.1"])[0].record.control_id == "1.1"
    repo.upsert_embeddings({"1.1": vector(7, 8)}, model="other-model")
    with pytest.raises(UsageError, match="several models"):
        repo.search("", 1, embedding=vectors["1.1"])
    with pytest.raises(UsageError, match="several models"):
        repo.similar_to("1.1", 3)
    assert repo.similar_to("1.1", 1, model="other-model") == []


def test_stats_count_vectors_per_model_and_the_stale_ones(session: Session) -> None:
    _store(session, 8)
    repo = PciControlRepository(session)
    repo.update("1.1", chunk="A rewritten text, so its vector no longer matches")
    stats = vector_stats(session)
    assert stats is not None
    [controls] = [s for s in stats if s.table == "pci_dss_controls_embeddings"]
    assert (controls.model, controls.dimensions, controls.vectors, controls.stale) == (
        MODEL,
        8,
        len(CONTROLS),
        1,
    )
    repo.upsert_embeddings({"1.1": vector(9, 8)}, model=MODEL)  # embedded again: fresh
    stats = vector_stats(session)
    assert stats is not None and stats[0].stale == 0


def test_vectors_of_a_deleted_row_are_counted_as_orphaned_and_never_returned(
    session: Session,
) -> None:
    vectors = _store(session, 8)
    # No foreign key ties vectors to their rows (each branch rolls back alone).
    session.execute(text("DELETE FROM pci_dss_controls WHERE control_id = '1.2'"))
    stats = vector_stats(session)
    assert stats is not None
    [controls] = [s for s in stats if s.table == "pci_dss_controls_embeddings"]
    assert (controls.vectors, controls.orphaned) == (len(CONTROLS), 1)
    repo = PciControlRepository(session)
    hits = repo.similar_to("1.1", len(CONTROLS))
    assert "1.2" not in [h.record.control_id for h in hits]
    assert len(hits) == len(CONTROLS) - 2  # all others but 1.1 itself and the deleted 1.2
    assert repo.search("", 1, embedding=vectors["1.2"], model=MODEL)[0].record.control_id != "1.2"
